"""Tensor shapes: the weight matrices of each layer and the activations of one step.

Two views of the same model are built here, because several estimators need
them and they must agree:

* :func:`linear_matrices` lists every weight matrix of the text stack that is
  used in a matrix product, with its ``(d_in, d_out)`` and how many of it the
  model holds. The memory estimator quantizes exactly these (the convention
  shared with GPTQ/AWQ/bitsandbytes: embeddings, the LM head, norms, biases,
  routers and convolutions stay 16-bit) and the LoRA estimator adapts exactly
  these (PEFT's ``all-linear`` minus routers).
* :func:`step_shapes` walks one layer, step by step (embedding lookup, q/k/v
  projections, scores, softmax, AV, o-proj, FFN up/gate/down, logits) for a
  prefill over ``seq_len`` tokens or one decode step with ``seq_len`` cached,
  the way the "transformer scale modelling" spreadsheet did — the TUI shows it
  as a table.

Everything is pure and allocation-free: a few hundred small tuples at most.
"""

from __future__ import annotations

import math
import weakref
from collections.abc import Callable
from dataclasses import dataclass
from typing import TypeVar

from lmscope.core.architecture import FFN, Architecture, LayerSpec, Mixer, Objective


@dataclass(frozen=True)
class Matrix:
    """One kind of weight matrix: ``count`` copies of a ``d_in × d_out`` weight.

    ``group`` is what it belongs to ("attention", "mla", "mamba", "linear_attention",
    "conv", "mlp", "experts", "shared_experts", "cross_attention", "encoder").
    """

    name: str
    d_in: int
    d_out: int
    count: int
    group: str

    @property
    def parameters(self) -> int:
        """Weights held by all ``count`` copies."""
        return self.d_in * self.d_out * self.count


@dataclass(frozen=True)
class StepShape:
    """One step of one layer: an activation tensor and how it was produced.

    ``shape`` uses concrete numbers (batch, tokens, heads, ...); ``dims`` names
    each axis; ``bytes_per_element`` is the compute dtype's; ``flops`` counts
    2 per multiply-add of the step's matrix product (0 for element-wise steps).
    """

    phase: str  # "prefill" | "decode"
    step: str
    shape: tuple[int, ...]
    dims: tuple[str, ...]
    bytes_per_element: float
    flops: int = 0

    @property
    def elements(self) -> int:
        return math.prod(self.shape)

    @property
    def nbytes(self) -> int:
        return math.ceil(self.elements * self.bytes_per_element)


# --------------------------------------------------------------------------- per-model memo

T = TypeVar("T")
_MEMO_LIMIT = 256


def per_architecture(fn: Callable[[Architecture], T]) -> Callable[[Architecture], T]:
    """Memoize ``fn(arch)`` by the object's identity (hashing a 100-layer dataclass costs more than it saves).

    A weak reference guards against a recycled ``id``; the memo is cleared when it grows past 256 models.
    """
    memo: dict[int, tuple[weakref.ref, T]] = {}

    def wrapper(arch: Architecture) -> T:
        hit = memo.get(id(arch))
        if hit is not None and hit[0]() is arch:
            return hit[1]
        value = fn(arch)
        if len(memo) >= _MEMO_LIMIT:
            memo.clear()
        memo[id(arch)] = (weakref.ref(arch), value)
        return value

    wrapper.__doc__ = fn.__doc__
    wrapper.__name__ = fn.__name__
    return wrapper


@per_architecture
def layer_groups(arch: Architecture) -> tuple[tuple[LayerSpec, int], ...]:
    """The decoder layers as (distinct LayerSpec, how many), in first-seen order: loops run per kind, not per layer."""
    counts: dict[LayerSpec, int] = {}
    for layer in arch.layers:
        counts[layer] = counts.get(layer, 0) + 1
    return tuple(counts.items())


@per_architecture
def encoder_layer_groups(arch: Architecture) -> tuple[tuple[LayerSpec, int], ...]:
    """Like :func:`layer_groups` for a seq2seq encoder's layers."""
    counts: dict[LayerSpec, int] = {}
    for layer in arch.encoder_layers:
        counts[layer] = counts.get(layer, 0) + 1
    return tuple(counts.items())


def encoder_length(arch: Architecture, seq_len: int) -> int:
    """Tokens a seq2seq encoder sees: Whisper's fixed audio frames (``max_source_positions``), else ``seq_len``.

    Whisper pads every input to 30 s of audio, so its encoder always runs over
    1500 frames and the cross-attention cache always holds 1500 positions (vLLM
    allocates the same); T5/BART encoders see the source text, assumed
    ``seq_len`` long.
    """
    if arch.model_type == "whisper":
        return arch.dim("encoder_positions", seq_len) or seq_len
    return seq_len


# --------------------------------------------------------------------------- matrices


def mamba_dt_rank(arch: Architecture) -> int:
    """Mamba-1's ``time_step_rank``: the config's value (the parser resolves "auto" to ceil(hidden / 16))."""
    return arch.dim("time_step_rank") or max(1, math.ceil(arch.hidden_size / 16))


def mamba_intermediate(arch: Architecture) -> int:
    """The Mamba inner width: the config's value, else heads × head_dim (Mamba-2), else 2·hidden."""
    ssm = arch.ssm
    if ssm is not None and ssm.intermediate_size:
        return ssm.intermediate_size
    if ssm is not None and ssm.num_heads and ssm.head_dim:
        return ssm.num_heads * ssm.head_dim
    return 2 * arch.hidden_size


def layer_kv_heads(arch: Architecture, layer: LayerSpec) -> int:
    """KV heads of one layer (the per-layer override of NAS models, else the model's)."""
    return layer.num_kv_heads if layer.num_kv_heads is not None else arch.num_kv_heads


def _mixer_matrices(arch: Architecture, layer: LayerSpec) -> list[tuple[str, int, int, str]]:
    h = arch.hidden_size
    hd = arch.head_dim
    nh = arch.num_heads
    mixer = layer.mixer
    if layer.linear_mixer:  # DeciLM/Nemotron-NAS: attention replaced by one linear
        return [("linear_attn", h, h, "attention")]
    if mixer in (Mixer.FULL, Mixer.SLIDING, Mixer.CHUNKED):
        kvh = layer_kv_heads(arch, layer)
        q_out = nh * hd * (2 if arch.attention_output_gate else 1)  # Qwen3-Next: q_proj also yields a gate
        return [
            ("q_proj", h, q_out, "attention"),
            ("k_proj", h, kvh * hd, "attention"),
            ("v_proj", h, kvh * hd, "attention"),
            ("o_proj", nh * hd, h, "attention"),
        ]
    if mixer is Mixer.MLA and arch.mla is not None:
        m = arch.mla
        qk = m.qk_nope_head_dim + m.qk_rope_head_dim
        out: list[tuple[str, int, int, str]] = []
        if m.q_lora_rank:
            out += [("q_a_proj", h, m.q_lora_rank, "attention"), ("q_b_proj", m.q_lora_rank, nh * qk, "attention")]
        else:
            out.append(("q_proj", h, nh * qk, "attention"))
        out += [
            ("kv_a_proj_with_mqa", h, m.kv_lora_rank + m.qk_rope_head_dim, "attention"),
            ("kv_b_proj", m.kv_lora_rank, nh * (m.qk_nope_head_dim + m.v_head_dim), "attention"),
            ("o_proj", nh * m.v_head_dim, h, "attention"),
        ]
        return out
    ssm = arch.ssm
    if mixer is Mixer.LINEAR and ssm is not None:
        qk = ssm.num_key_heads * ssm.key_head_dim
        v = ssm.num_value_heads * ssm.value_head_dim
        return [
            ("in_proj_qkvz", h, 2 * qk + 2 * v, "linear_attention"),
            ("in_proj_ba", h, 2 * ssm.num_value_heads, "linear_attention"),
            ("out_proj", v, h, "linear_attention"),
        ]
    if mixer is Mixer.MAMBA and ssm is not None:
        inner = mamba_intermediate(arch)
        r = mamba_dt_rank(arch)
        return [
            ("in_proj", h, 2 * inner, "mamba"),
            ("x_proj", inner, r + 2 * ssm.state_size, "mamba"),
            ("dt_proj", r, inner, "mamba"),
            ("out_proj", inner, h, "mamba"),
        ]
    if mixer is Mixer.MAMBA2 and ssm is not None:
        inner = mamba_intermediate(arch)
        heads = ssm.num_heads or max(1, inner // max(1, ssm.head_dim or 64))
        return [
            ("in_proj", h, 2 * inner + 2 * ssm.n_groups * ssm.state_size + heads, "mamba"),
            ("out_proj", inner, h, "mamba"),
        ]
    if mixer is Mixer.CONV:
        return [("in_proj", h, 3 * h, "conv"), ("out_proj", h, h, "conv")]
    return []


def _ffn_matrices(arch: Architecture, layer: LayerSpec) -> list[tuple[str, int, int, int, str]]:
    h = arch.hidden_size
    if layer.linear_ffn:  # DeciLM/Nemotron-NAS: FFN replaced by one linear
        return [("linear_mlp", h, h, 1, "mlp")]
    if layer.ffn is FFN.DENSE:
        inter = layer.intermediate_size if layer.intermediate_size is not None else arch.intermediate_size
        if inter <= 0:
            return []
        names = ("gate_proj", "up_proj") if arch.gated_ffn else ("up_proj",)
        return [(n, h, inter, 1, "mlp") for n in names] + [("down_proj", inter, h, 1, "mlp")]
    if layer.ffn is FFN.MOE and arch.moe is not None:
        moe = arch.moe
        e_inter = moe.expert_intermediate_size
        names = ("gate_proj", "up_proj") if moe.gated else ("up_proj",)
        out = [(f"experts.{n}", h, e_inter, moe.num_experts, "experts") for n in names]
        out.append(("experts.down_proj", e_inter, h, moe.num_experts, "experts"))
        if moe.num_shared_experts:
            s_inter = moe.shared_expert_intermediate_size or e_inter * moe.num_shared_experts
            out += [(f"shared_experts.{n}", h, s_inter, 1, "shared_experts") for n in names]
            out.append(("shared_experts.down_proj", s_inter, h, 1, "shared_experts"))
        return out
    return []


def _is_seq2seq(arch: Architecture) -> bool:
    return arch.objective is Objective.SEQ2SEQ or bool(arch.encoder_layers)


def layer_matrices(arch: Architecture, layer: LayerSpec, *, cross_attention: bool = False) -> list[Matrix]:
    """The weight matrices of one layer (one copy of the layer).

    ``cross_attention`` adds a decoder layer's cross-attention q/k/v/o
    (seq2seq decoders; k/v read the encoder output, width hidden).
    """
    out = [Matrix(n, i, o, 1, g) for n, i, o, g in _mixer_matrices(arch, layer)]
    if cross_attention:
        h, nh, hd = arch.hidden_size, arch.num_heads, arch.head_dim
        out += [
            Matrix("cross.q_proj", h, nh * hd, 1, "cross_attention"),
            Matrix("cross.k_proj", h, nh * hd, 1, "cross_attention"),
            Matrix("cross.v_proj", h, nh * hd, 1, "cross_attention"),
            Matrix("cross.o_proj", nh * hd, h, 1, "cross_attention"),
        ]
    out += [Matrix(n, i, o, c, g) for n, i, o, c, g in _ffn_matrices(arch, layer)]
    return out


@per_architecture
def linear_matrices(arch: Architecture) -> tuple[Matrix, ...]:
    """Every weight matrix of the text stack's layers, grouped by (name, d_in, d_out, group).

    Includes attention / MLA / Mamba / linear-attention / conv projections, dense
    MLPs, routed and shared experts, seq2seq cross-attention and encoder layers.
    Excludes the embeddings, the LM head, MoE routers, norms, biases, 1-D
    convolutions and any vision tower — the parts that weight-only quantizers
    (GPTQ, AWQ, bitsandbytes) and LoRA's usual targets leave alone.
    """
    merged: dict[tuple[str, int, int, str], int] = {}
    seq2seq = _is_seq2seq(arch)
    for layer, n in layer_groups(arch):
        for m in layer_matrices(arch, layer, cross_attention=seq2seq):
            key = (m.name, m.d_in, m.d_out, m.group)
            merged[key] = merged.get(key, 0) + m.count * n
    for layer, n in encoder_layer_groups(arch):
        for m in layer_matrices(arch, layer):
            key = (f"encoder.{m.name}", m.d_in, m.d_out, "encoder")
            merged[key] = merged.get(key, 0) + m.count * n
    return tuple(Matrix(n, i, o, c, g) for (n, i, o, g), c in merged.items())


@per_architecture
def linear_parameters(arch: Architecture) -> int:
    """Weights in :func:`linear_matrices` (the quantizable / LoRA-adaptable ones)."""
    return sum(m.parameters for m in linear_matrices(arch))


# --------------------------------------------------------------------------- steps


def _representative_layer(arch: Architecture) -> LayerSpec:
    for layer in arch.layers:
        if layer.mixer.is_attention:
            return layer
    return arch.layers[0] if arch.layers else LayerSpec(Mixer.FULL, FFN.DENSE)


def step_shapes(
    arch: Architecture,
    *,
    seq_len: int,
    batch: int = 1,
    bytes_per_element: float = 2.0,
    layer: LayerSpec | None = None,
) -> tuple[StepShape, ...]:
    """Activation shapes of one layer, step by step, for prefill and for one decode step.

    Prefill processes ``seq_len`` tokens at once; decode processes one new
    token with ``seq_len`` tokens in the cache. ``layer`` defaults to the first
    attention layer (the first layer of attention-free models). For MLA the
    scores use the decompressed heads (what the math does; the latent trick
    changes what is cached, not the scores' shape). Sliding layers attend over
    at most their window; non-attention mixers show their projections only.
    """
    layer = layer or _representative_layer(arch)
    out: list[StepShape] = []
    for phase, t in (("prefill", seq_len), ("decode", 1)):
        out += _phase_steps(arch, layer, phase, t, seq_len, batch, bytes_per_element)
    return tuple(out)


def _phase_steps(
    arch: Architecture, layer: LayerSpec, phase: str, t: int, ctx: int, b: int, be: float
) -> list[StepShape]:
    h, nh, hd = arch.hidden_size, arch.num_heads, arch.head_dim
    s: list[StepShape] = []

    def add(step: str, shape: tuple[int, ...], dims: tuple[str, ...], flops: int = 0) -> None:
        s.append(StepShape(phase, step, shape, dims, be, flops))

    add("embedding", (b, t, h), ("batch", "tokens", "hidden"))
    mixer = layer.mixer
    if mixer.is_attention:
        if mixer in (Mixer.SLIDING, Mixer.CHUNKED) and layer.window:
            ctx = min(ctx, layer.window)
        if mixer is Mixer.MLA and arch.mla is not None:
            m = arch.mla
            qk_dim, v_dim, kvh = m.qk_nope_head_dim + m.qk_rope_head_dim, m.v_head_dim, nh
        else:
            qk_dim, v_dim, kvh = hd, hd, layer_kv_heads(arch, layer)
        add("q_proj", (b, t, nh, qk_dim), ("batch", "tokens", "heads", "head_dim"), 2 * b * t * h * nh * qk_dim)
        add("k_proj", (b, t, kvh, qk_dim), ("batch", "tokens", "kv_heads", "head_dim"), 2 * b * t * h * kvh * qk_dim)
        add("v_proj", (b, t, kvh, v_dim), ("batch", "tokens", "kv_heads", "head_dim"), 2 * b * t * h * kvh * v_dim)
        add("scores", (b, nh, t, ctx), ("batch", "heads", "query", "key"), 2 * b * nh * t * ctx * qk_dim)
        add("softmax", (b, nh, t, ctx), ("batch", "heads", "query", "key"))
        add("attn_v", (b, t, nh, v_dim), ("batch", "tokens", "heads", "head_dim"), 2 * b * nh * t * ctx * v_dim)
        add("o_proj", (b, t, h), ("batch", "tokens", "hidden"), 2 * b * t * nh * v_dim * h)
    else:
        for name, d_in, d_out, _ in _mixer_matrices(arch, layer):
            add(name, (b, t, d_out), ("batch", "tokens", "features"), 2 * b * t * d_in * d_out)
    ffn = _ffn_matrices(arch, layer)
    if layer.ffn is FFN.MOE and arch.moe is not None:
        k = arch.moe.experts_per_token
        add("router", (b, t, arch.moe.num_experts), ("batch", "tokens", "experts"), 2 * b * t * h * arch.moe.num_experts)
        for name, d_in, d_out, _, group in ffn:
            per = k if group == "experts" else 1
            dims = ("batch", "tokens", "experts", "features") if group == "experts" else ("batch", "tokens", "features")
            shape = (b, t, per, d_out) if group == "experts" else (b, t, d_out)
            add(name, shape, dims, 2 * b * t * per * d_in * d_out)
    else:
        for name, d_in, d_out, _, _ in ffn:
            add(name.replace("_proj", ""), (b, t, d_out), ("batch", "tokens", "features"), 2 * b * t * d_in * d_out)
    # Logits for the last position (serving engines compute only what is sampled).
    add("logits", (b, 1, arch.vocab_size), ("batch", "tokens", "vocab"), 2 * b * h * arch.vocab_size)
    return s


# --------------------------------------------------------------------------- every layer kind


@dataclass(frozen=True)
class KindShapes:
    """The step shapes of one distinct layer kind and which layers have it."""

    label: str  # "mla attention · MoE FFN", "sliding attention (window 1024) · dense FFN", ...
    layers: tuple[int, ...]  # 0-based indices of the layers of this kind
    rows: tuple[StepShape, ...]


def layer_kind_label(layer: LayerSpec) -> str:
    """A short human name for a layer kind (mixer, window, FFN kind, per-layer overrides)."""
    mixer = layer.mixer
    if layer.linear_mixer:
        mix = "linear replacement"
    elif mixer.is_attention:
        mix = f"{mixer.value} attention" + (f" (window {layer.window:,})" if layer.window and mixer in (Mixer.SLIDING, Mixer.CHUNKED) else "")
    elif mixer is Mixer.NONE:
        mix = "no mixer"
    else:
        mix = {"linear": "linear attention", "mamba": "Mamba", "mamba2": "Mamba-2", "conv": "short conv"}.get(mixer.value, mixer.value)
    ffn = "linear FFN replacement" if layer.linear_ffn else {"moe": "MoE FFN", "dense": "dense FFN"}.get(layer.ffn.value, f"{layer.ffn.value} FFN")
    extra = []
    if layer.intermediate_size is not None:
        extra.append(f"FFN width {layer.intermediate_size:,}")
    if layer.num_kv_heads is not None:
        extra.append(f"{layer.num_kv_heads} KV heads")
    return f"{mix} · {ffn}" + (f" ({', '.join(extra)})" if extra else "")


def step_shapes_by_kind(
    arch: Architecture, *, seq_len: int, batch: int = 1, bytes_per_element: float = 2.0
) -> tuple[KindShapes, ...]:
    """:func:`step_shapes` for every distinct layer kind, in first-seen order, with its layer indices.

    DeepSeek-V3 gives its dense and MoE layers, Jamba its Mamba and attention
    (dense and MoE) layers, Gemma-3 its sliding and full layers — not only the
    first attention layer.
    """
    indices: dict[LayerSpec, list[int]] = {}
    for i, layer in enumerate(arch.layers):
        indices.setdefault(layer, []).append(i)
    return tuple(
        KindShapes(layer_kind_label(layer), tuple(idx), step_shapes(arch, seq_len=seq_len, batch=batch, bytes_per_element=bytes_per_element, layer=layer))
        for layer, idx in indices.items()
    )


def index_ranges(indices: tuple[int, ...] | list[int]) -> str:
    """``(0, 1, 2, 5, 7, 8)`` -> ``"0–2, 5, 7–8"``."""
    parts: list[str] = []
    run: list[int] = []
    for i in indices:
        if run and i == run[-1] + 1:
            run.append(i)
            continue
        if run:
            parts.append(f"{run[0]}–{run[-1]}" if len(run) > 1 else str(run[0]))
        run = [i]
    if run:
        parts.append(f"{run[0]}–{run[-1]}" if len(run) > 1 else str(run[0]))
    return ", ".join(parts)
