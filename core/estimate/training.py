"""Training memory per GPU: weights, gradients, optimizer states, activations.

Model states (Rajbhandari et al. 2020, "ZeRO")
-----------------------------------------------
Mixed-precision Adam keeps 2 bytes of 16-bit weights, 2 of 16-bit gradients
and K = 12 of fp32 master weights, momentum and variance per parameter: 16
bytes. ZeRO partitions them over N data-parallel GPUs: stage 1 the optimizer
states (4 + 12/N), stage 2 also the gradients (2 + 14/N), stage 3 also the
weights (16/N). Pure fp32 training (``dtype="fp32"``) keeps 4 + 4 + 8 bytes.
Other optimizers change K: SGD with momentum 8 (fp32 master + momentum),
8-bit Adam 6 (fp32 master + two 1-byte states), Adafactor ≈ 4 (fp32 master;
its factored second moments are negligible).

Activations (Korthikanti et al. 2022, "Reducing Activation Recomputation in
Large Transformer Models", Table 2, no tensor/sequence parallelism)
-----------------------------------------------------------------------
For a GPT-3-style layer (MHA, 4h GeLU MLP, two LayerNorms, dropout) with
sequence s, micro-batch b, hidden h, heads a, 16-bit activations and 1-byte
dropout masks, the stored activations are

* no recomputation: ``s·b·h·(34 + 5·a·s/h)`` bytes,
* selective recomputation (attention core recomputed): ``34·s·b·h``,
* full recomputation (only layer inputs kept): ``2·s·b·h``.

We build that sum term by term so it generalizes (:func:`layer_activation_bytes`):

* attention block ``11·s·b·h`` = QKV input 2h + Q 2h + K 2h + V 2h + o-proj input
  2h + dropout mask 1h. With GQA K and V shrink to ``kv_heads·head_dim``; with
  ``head_dim·heads ≠ h`` Q and the o-proj input use ``heads·head_dim``.
* the core ``5·a·s²·b``: softmax output 2, its dropout mask 1, dropout output 2
  bytes per score. With flash attention the scores are never stored (they are
  recomputed in the backward pass, exactly what selective recomputation does),
  only an fp32 log-sum-exp per head and token (4·a·s·b); sliding-window layers
  store ``a·s·min(s, window)`` scores.
* MLP ``19·s·b·h`` for a 4h non-gated MLP = input 2h + pre-activation 2·I +
  post-activation 2·I + dropout mask 1h. A gated MLP (SwiGLU/GeGLU) stores the
  input, gate and up outputs, the activated gate and their product: 2h + 4·2·I + 1h.
* MoE: each token's top-k experts store what a dense expert stores (2h input
  copy + gated/non-gated intermediates at the expert width), plus fp32 router
  probabilities (4·E) and any shared expert as a dense MLP.
* MLA: the low-rank inputs (q_lora_rank, kv latent) and the decompressed Q, K,
  V take the place of GQA's Q, K, V.
* Mamba / Mamba-2 / Gated-DeltaNet / short-conv layers: the projections'
  inputs and outputs and the gated outputs (the fused scan kernels recompute
  their hidden states in the backward pass, so no per-token state is stored);
  they have no ``a·s²`` term.
* norms ``4·s·b·h``: one 2-byte input per norm, two per layer in the paper
  (``norms_per_layer``: 4 for Gemma-2/3, 1 for parallel blocks, 3 for
  seq2seq decoders); qk-norm adds its inputs.
* seq2seq decoder layers add a cross-attention block counted like a
  self-attention block over an encoder input as long as the decoder's; the
  encoder layers themselves run over ``seq_len`` tokens (T5/BART) or
  Whisper's fixed 1500 audio frames.

Outside the layers: embedding dropout mask 1h, final norm input 2h, LM-head
input 2h and fp32 logits 4·V per token for the loss. Full recomputation also
needs one layer's full activations live while it is recomputed; we add that.
fp32 training doubles every 2-byte term.

Dropout masks (the 1-byte terms, and the attention core's mask and dropped-out
copy, 3 of its 5 bytes per score) exist only when the model trains with
dropout (``Architecture.dropout``, from the config's dropout probabilities).
Llama, Mistral, Qwen and most modern configs set them all to 0: their layers
store no masks (Korthikanti's formula assumes GPT-3's dropout).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

from lmscope.core.architecture import FFN, Architecture, LayerSpec, Mixer
from lmscope.core.errors import ConfigError
from lmscope.core.estimate.shapes import (
    encoder_layer_groups,
    encoder_length,
    layer_groups,
    layer_kv_heads,
    mamba_dt_rank,
    mamba_intermediate,
)

RECOMPUTE = ("none", "selective", "full")

# optimizer -> (bytes per parameter of optimizer state incl. fp32 master weights)
OPTIMIZER_STATE_BYTES: dict[str, int] = {
    "adamw": 12,
    "adam": 12,
    "adamw-8bit": 6,
    "adam-8bit": 6,
    "adam8bit": 6,
    "sgd": 8,
    "adafactor": 4,
}


@dataclass(frozen=True)
class TrainingMemory:
    """Per-GPU training memory. ``total`` = weights + gradients + optimizer + activations."""

    weights: int
    gradients: int
    optimizer: int
    activations: int

    @property
    def total(self) -> int:
        return self.weights + self.gradients + self.optimizer + self.activations

    def breakdown(self) -> dict[str, int]:
        """The ``training_breakdown`` dict of MemoryEstimate."""
        return {
            "weights": self.weights,
            "gradients": self.gradients,
            "optimizer": self.optimizer,
            "activations": self.activations,
        }


def _check(zero_stage: int, num_gpus: int, optimizer: str, recompute: str) -> None:
    if zero_stage not in (0, 1, 2, 3):
        raise ConfigError(f"ZeRO stage must be 0, 1, 2 or 3, not {zero_stage}")
    if num_gpus < 1:
        raise ConfigError(f"number of GPUs must be at least 1, not {num_gpus}")
    if optimizer not in OPTIMIZER_STATE_BYTES:
        raise ConfigError(f"unknown optimizer {optimizer!r}; choose one of {', '.join(OPTIMIZER_STATE_BYTES)}")
    if recompute not in RECOMPUTE:
        raise ConfigError(f"unknown recomputation {recompute!r}; choose none, selective or full")


def model_state_bytes(
    parameters: int, *, zero_stage: int = 0, num_gpus: int = 1, optimizer: str = "adamw", fp32: bool = False
) -> tuple[int, int, int]:
    """(weights, gradients, optimizer) bytes per GPU under ZeRO ``zero_stage`` over ``num_gpus``.

    Stage ≥ 1 shards the optimizer states, ≥ 2 the gradients, 3 the weights
    (each rounded up to whole bytes per GPU).
    """
    _check(zero_stage, num_gpus, optimizer, "none")
    w_b, g_b = (4, 4) if fp32 else (2, 2)
    k = OPTIMIZER_STATE_BYTES[optimizer]
    if fp32:
        k = max(k - 4, 0)  # no separate fp32 master copy: the weights are it
    n = num_gpus

    def shard(total: int, stage_needed: int) -> int:
        return math.ceil(total / n) if zero_stage >= stage_needed else total

    return shard(parameters * w_b, 3), shard(parameters * g_b, 2), shard(parameters * k, 1)


def _attention_terms(arch: Architecture, layer: LayerSpec) -> tuple[int, int]:
    """(per-token 2-byte elements, per-token 1-byte elements) of an attention block, core excluded."""
    h, nh, hd = arch.hidden_size, arch.num_heads, arch.head_dim
    if layer.mixer is Mixer.MLA and arch.mla is not None:
        m = arch.mla
        qk = m.qk_nope_head_dim + m.qk_rope_head_dim
        two = h + (m.q_lora_rank or 0) + (m.kv_lora_rank + m.qk_rope_head_dim) + m.kv_lora_rank
        two += nh * qk * 2 + nh * m.v_head_dim * 2  # Q, K, V, o-proj input
        return two, h
    kvh = layer_kv_heads(arch, layer)
    two = h + nh * hd + kvh * hd + kvh * hd + nh * hd  # QKV input, Q, K, V, o-proj input
    if arch.qk_norm:
        two += nh * hd + kvh * hd
    return two, h


def _mixer_terms(arch: Architecture, layer: LayerSpec) -> tuple[int, int]:
    h = arch.hidden_size
    ssm = arch.ssm
    if layer.linear_mixer:
        return h, 0
    if layer.mixer.is_attention:
        return _attention_terms(arch, layer)
    if layer.mixer is Mixer.MAMBA and ssm is not None:
        inner = mamba_intermediate(arch)
        # input, x and z, conv output, its activation, dt/B/C, dt, scan output, gated output
        return h + 2 * inner + inner + inner + (mamba_dt_rank(arch) + 2 * ssm.state_size) + inner + inner + inner, 0
    if layer.mixer is Mixer.MAMBA2 and ssm is not None:
        inner = mamba_intermediate(arch)
        gn = ssm.n_groups * ssm.state_size
        heads = ssm.num_heads or 1
        # input, in_proj output, conv output + activation, scan output, gated-norm input and output
        return h + (2 * inner + 2 * gn + heads) + 2 * (inner + 2 * gn) + 3 * inner, 0
    if layer.mixer is Mixer.LINEAR and ssm is not None:
        qk = ssm.num_key_heads * ssm.key_head_dim
        v = ssm.num_value_heads * ssm.value_head_dim
        conv = 2 * qk + v
        return h + (2 * qk + 2 * v + 2 * ssm.num_value_heads) + 2 * conv + 3 * v, 0
    if layer.mixer is Mixer.CONV:
        return h + 3 * h + h + h + h, 0  # input, in_proj (B, C, x), B·x, conv output, C·conv (out-proj input)
    return 0, 0


def _ffn_terms(arch: Architecture, layer: LayerSpec) -> tuple[int, int, int]:
    """(2-byte elements, 1-byte elements, fp32 elements) per token of the FFN block."""
    h = arch.hidden_size
    if layer.linear_ffn:
        return h, 0, 0
    if layer.ffn is FFN.DENSE:
        inter = layer.intermediate_size if layer.intermediate_size is not None else arch.intermediate_size
        return h + (4 if arch.gated_ffn else 2) * inter, h, 0
    if layer.ffn is FFN.MOE and arch.moe is not None:
        moe = arch.moe
        per = (4 if moe.gated else 2) * moe.expert_intermediate_size
        two = h + moe.experts_per_token * (h + per)
        if moe.num_shared_experts:
            s_inter = moe.shared_expert_intermediate_size or moe.expert_intermediate_size * moe.num_shared_experts
            two += (4 if moe.gated else 2) * s_inter
        return two, h, moe.num_experts
    return 0, 0, 0


def layer_activation_bytes(
    arch: Architecture,
    layer: LayerSpec,
    *,
    seq_len: int,
    micro_batch: int = 1,
    recompute: str = "none",
    flash: bool = False,
    bytes_per_value: int = 2,
    cross_attention: bool = False,
    encoder: bool = False,
) -> int:
    """Stored activation bytes of one layer (Korthikanti Table 2 generalized; module docstring).

    ``flash=False`` and ``recompute="none"`` reproduce ``s·b·h·(34 + 5·a·s/h)`` for a
    GPT-3-style layer; ``"selective"`` gives ``34·s·b·h``; ``"full"`` ``2·s·b·h``.
    ``bytes_per_value`` is 2 for 16-bit training, 4 for fp32 (masks stay 1 byte).
    ``cross_attention`` adds a seq2seq decoder layer's cross-attention block.
    ``encoder``: a seq2seq encoder layer, which has two norms (self-attention and
    FFN) where ``arch.norms_per_layer`` describes the decoder's three.
    """
    if recompute not in RECOMPUTE:
        raise ConfigError(f"unknown recomputation {recompute!r}; choose none, selective or full")
    s, b, h = seq_len, micro_batch, arch.hidden_size
    if recompute == "full":
        return s * b * h * bytes_per_value
    two, one = _mixer_terms(arch, layer)
    f_two, f_one, f_fp32 = _ffn_terms(arch, layer)
    two += f_two + (2 if encoder else arch.norms_per_layer) * h  # + each norm's input
    one += f_one
    cores = 1 if layer.mixer.is_attention and not layer.linear_mixer else 0
    if cross_attention:  # a seq2seq decoder layer's second attention block (encoder length = s)
        c_two, c_one = _attention_terms(arch, LayerSpec(Mixer.FULL, FFN.NONE, num_kv_heads=arch.num_heads))
        two, one, cores = two + c_two, one + c_one, cores + 1
    if not arch.dropout:
        one = 0  # no dropout: no 1-byte masks (Llama-family configs set every dropout to 0)
    per_token = two * bytes_per_value + one + 4 * f_fp32
    total = s * b * per_token
    if cores and recompute == "none":
        nh = arch.num_heads
        ctx = min(s, layer.window) if layer.mixer in (Mixer.SLIDING, Mixer.CHUNKED) and layer.window else s
        if flash:
            total += cores * 4 * nh * s * b  # fp32 log-sum-exp per head and query
        else:
            # softmax output, and with dropout its 1-byte mask and the dropped-out copy
            per_score = (2 * bytes_per_value + 1) if arch.dropout else bytes_per_value
            total += cores * per_score * nh * s * ctx * b
    return total


def training_activation_bytes(
    arch: Architecture, *, seq_len: int, micro_batch: int = 1, recompute: str = "none", flash: bool = True, fp32: bool = False
) -> int:
    """Activation bytes of one training micro-batch: all layers plus embeddings, final norm and loss."""
    bpv = 4 if fp32 else 2
    kw: dict[str, Any] = dict(micro_batch=micro_batch, flash=flash, bytes_per_value=bpv)
    cross = bool(arch.encoder_layers)
    enc_len = encoder_length(arch, seq_len)  # Whisper's encoder always sees its 1500 frames
    groups = [(layer, n, cross, seq_len, False) for layer, n in layer_groups(arch)]
    groups += [(layer, n, False, enc_len, True) for layer, n in encoder_layer_groups(arch)]
    total = sum(
        layer_activation_bytes(arch, layer, seq_len=s, recompute=recompute, cross_attention=c, encoder=e, **kw) * n
        for layer, n, c, s, e in groups
    )
    if recompute == "full" and groups:
        total += max(
            layer_activation_bytes(arch, layer, seq_len=s, recompute="none", cross_attention=c, encoder=e, **kw)
            for layer, _, c, s, e in groups
        )
    t, h = seq_len * micro_batch, arch.hidden_size
    logits = 4 * arch.vocab_size if arch.lm_head else 0  # fp32 logits for the loss (none without an LM head)
    emb_mask = h if arch.dropout else 0  # embedding dropout mask
    total += t * (emb_mask + 2 * h * bpv + logits)  # final norm + LM-head inputs, logits
    return total


def training_memory(
    arch: Architecture,
    parameters: int,
    *,
    seq_len: int,
    micro_batch: int = 1,
    zero_stage: int = 0,
    num_gpus: int = 1,
    optimizer: str = "adamw",
    recompute: str = "none",
    flash: bool = True,
    fp32: bool = False,
) -> TrainingMemory:
    """Per-GPU training memory: ZeRO-sharded model states plus one micro-batch's activations.

    ``micro_batch`` is per GPU (data parallelism replicates activations, it does not shard them).
    """
    _check(zero_stage, num_gpus, optimizer, recompute)
    w, g, o = model_state_bytes(parameters, zero_stage=zero_stage, num_gpus=num_gpus, optimizer=optimizer, fp32=fp32)
    act = training_activation_bytes(arch, seq_len=seq_len, micro_batch=micro_batch, recompute=recompute, flash=flash, fp32=fp32)
    return TrainingMemory(w, g, o, act)


# --------------------------------------------------------------------------- DeepSpeed's own estimators

# optimizer -> bytes per parameter of optimizer state beyond the fp32 master copy
_STATE_BEYOND_MASTER = {"adamw": 8, "adam": 8, "adam8bit": 2, "adamw-8bit": 2, "adam-8bit": 2, "sgd": 4, "adafactor": 0}


def largest_module_parameters(arch: Architecture) -> int:
    """Parameters of the largest single module (its own, not its children's), as DeepSpeed measures it.

    ``estimate_zero3_model_states_mem_needs_all_live`` takes
    ``max(sum(p.numel() for p in m.parameters(recurse=False)) for m in model.modules())``:
    the embedding or LM head of dense models (131,072,000 for Llama-2-7B), and
    for MoE models in transformers ≥ 5 the fused experts module of one layer
    (``num_experts`` × its gate/up/down matrices; 1,409,286,144 for Mixtral-8x7B).
    """
    from lmscope.core.estimate.shapes import layer_matrices

    best = arch.vocab_size * arch.hidden_size
    for layer, _ in layer_groups(arch):
        experts = 0
        for m in layer_matrices(arch, layer):
            if m.group == "experts":
                experts += m.d_in * m.d_out * m.count
            else:
                best = max(best, m.d_in * m.d_out)
        best = max(best, experts)
    return best


def deepspeed_model_states(
    parameters: int, largest_layer: int, *, zero_stage: int, num_gpus: int, optimizer: str = "adamw"
) -> tuple[int, int, int]:
    """(weights, gradients, optimizer) bytes per GPU as DeepSpeed allocates them, without offload.

    DeepSpeed's ``estimate_zero2_model_states_mem_needs`` (stage_1_and_2.py)
    returns ``2Ψ + int(18Ψ/N)``: 16-bit parameters, plus per data-parallel
    partition 16-bit gradients 2, fp32 gradients 4, fp32 parameters 4 and
    Adam's momentum and variance 8. ``estimate_zero3_model_states_mem_needs``
    (stage3.py) returns ``4·largest_layer + int(18Ψ/N)`` (gathered-parameter
    buffers for the largest module). We follow them and extend by the same
    bookkeeping to stage 1 (16-bit gradients not partitioned: ``4Ψ + 16Ψ/N``)
    and stage 0 (DeepSpeed's bf16 optimizer also keeps fp32 gradients:
    ``20Ψ``), and to other optimizers by replacing Adam's 8 bytes of states
    (8-bit Adam 2, SGD momentum 4, Adafactor ≈ 0: factored second moments).
    The paper's figure (Rajbhandari et al. 2020, 16 B/param) is
    :func:`model_state_bytes`.
    """
    _check(zero_stage, num_gpus, optimizer if optimizer in OPTIMIZER_STATE_BYTES else "adamw", "none")
    if optimizer not in _STATE_BEYOND_MASTER:
        raise ConfigError(f"unknown optimizer {optimizer!r}")
    p, n = parameters, num_gpus
    states = (4 + _STATE_BEYOND_MASTER[optimizer]) * p  # fp32 master + optimizer states
    if zero_stage == 0:
        return 2 * p, 6 * p, states
    if zero_stage == 1:
        return 2 * p, 2 * p + 4 * p // n, states // n
    if zero_stage == 2:
        return 2 * p, 6 * p // n, states // n
    return 2 * p // n + 4 * largest_layer, 4 * p // n, states // n
