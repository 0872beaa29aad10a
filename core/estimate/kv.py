"""KV cache and recurrent state: what generation keeps per sequence.

Serving memory beyond the weights is dominated by what each layer keeps
between tokens, and layers keep very different things:

* full softmax attention (MHA/GQA/MQA): K and V for every token,
  ``2 · kv_heads · head_dim`` elements per layer per token (the per-layer
  ``num_kv_heads`` override of NAS models respected);
* sliding-window layers: the same per token, but never more than ``window``
  tokens; chunked attention (Llama-4) likewise never more than one chunk —
  so ``kv_cache_bytes`` caps them, while ``kv_cache_bytes_per_token`` (what
  one token adds while the context is short) does not;
* multi-head latent attention (DeepSeek-V2/V3, Kimi-K2): the compressed latent
  ``kv_lora_rank + qk_rope_head_dim`` elements per layer per token. This is
  what vLLM and SGLang cache (the "absorbed" MLA kernels); transformers' eager
  ``DynamicCache`` stores decompressed per-head K and V instead, which is
  ``num_heads · (qk_nope + qk_rope + v_head_dim)`` — 71× more for DeepSeek-V3.
  We report the serving-engine figure. DeepSeek-V3.2's lightning indexer keeps
  its own key cache beside the latent, ``index_head_dim`` (128) elements per
  layer per token, never capped (it scores every cached token); we count it at
  the KV dtype as transformers stores it (vLLM keeps it in fp8 plus one fp32
  scale per 128, 132 bytes);
* Mamba-1, Mamba-2, Gated-DeltaNet (Qwen3-Next) and LFM2's short convolution:
  no per-token cache at all but a fixed state per sequence, with vLLM's
  ``MambaStateShapeCalculator`` shapes (see :func:`layer_state_elements`).
  The state is kept in the model's compute dtype, except the SSM/recurrent
  part when the config names its own dtype (``mamba_ssm_cache_dtype``, e.g.
  Nemotron-H's float32, carried as ``SSMSpec.state_dtype``) — vLLM's
  ``MambaStateDtypeCalculator`` rule. (transformers' eager caches keep one
  more conv column, ``conv_kernel`` instead of ``conv_kernel − 1``; the
  difference is a few hundred KB.)

Encoder-only models (BERT-style masked LMs, embedding models, ViTs) never
generate, so they hold no KV cache (0, with a note). Encoder-decoder models
keep the decoder's self-attention cache plus a cross-attention cache: K and V
of the encoder output, computed once per request, for every decoder layer. For
T5/BART the encoder input is the source text, assumed as long as ``seq_len``
(say so in the note); Whisper's encoder length is fixed by the audio window
(``max_source_positions``, 1500 frames), so its cross-attention cache is that
size whatever ``seq_len`` is.

All byte counts are integers: elements × bits / 8 rounded up once.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from lmscope.core.architecture import Architecture, LayerSpec, Mixer, Objective
from lmscope.core.estimate.shapes import encoder_length, layer_groups, layer_kv_heads, mamba_intermediate

# Bits per element of each dtype name (integer arithmetic: int4 is 4 bits).
DTYPE_BITS: dict[str, int] = {"fp32": 32, "fp16": 16, "bf16": 16, "fp8": 8, "int8": 8, "int4": 4}

ENCODER_ONLY = (Objective.MASKED_LM, Objective.EMBEDDING, Objective.VISION)


def bytes_for(elements: int, dtype: str) -> int:
    """Bytes for ``elements`` values of ``dtype`` (rounded up to a whole byte)."""
    return (elements * DTYPE_BITS[dtype] + 7) // 8


@dataclass(frozen=True)
class KVEstimate:
    """KV cache and state of one model at one (seq_len, batch, dtypes).

    ``bytes_per_token``: one token's KV over all layers, batch 1, uncapped.
    ``cache_bytes``: ``batch`` sequences of ``seq_len`` tokens, sliding/chunked
    layers capped. ``per_layer_kind``: ``cache_bytes`` split by mixer kind
    ("full", "sliding", "chunked", "mla", and "cross" for seq2seq
    cross-attention). ``state_bytes``: fixed per-sequence state × batch.
    """

    bytes_per_token: int
    cache_bytes: int
    per_layer_kind: dict[str, int] = field(default_factory=dict)
    state_bytes: int = 0
    notes: tuple[str, ...] = ()


def layer_kv_elements_per_token(arch: Architecture, layer: LayerSpec) -> int:
    """Elements one token adds to one layer's cache (0 for layers without a KV cache)."""
    if layer.mixer is Mixer.MLA:
        if arch.mla is None:
            return 2 * arch.num_kv_heads * arch.head_dim
        # DeepSeek-V3.2's lightning indexer also caches one index_head_dim key per token and layer
        indexer = arch.dim("index_head_dim") if arch.dim("index_n_heads") else 0
        return arch.mla.kv_lora_rank + arch.mla.qk_rope_head_dim + indexer
    if layer.mixer.has_kv_cache:
        return 2 * layer_kv_heads(arch, layer) * arch.head_dim
    return 0


def layer_cached_tokens(layer: LayerSpec, seq_len: int) -> int:
    """Tokens one layer holds at ``seq_len``: sliding/chunked layers stop at their window."""
    if layer.mixer in (Mixer.SLIDING, Mixer.CHUNKED) and layer.window:
        return min(seq_len, layer.window)
    return seq_len


def _is_seq2seq(arch: Architecture) -> bool:
    return arch.objective is Objective.SEQ2SEQ or bool(arch.encoder_layers)


def _cross_elements_per_token(arch: Architecture) -> int:
    # Cross-attention K/V of one encoder token, over all decoder layers (full heads).
    return sum(2 * arch.num_heads * arch.head_dim * n for layer, n in layer_groups(arch) if layer.mixer.is_attention)


def kv_bytes_per_token(arch: Architecture, kv_dtype: str = "bf16") -> int:
    """KV bytes one token adds, summed over layers, batch 1, no window cap.

    For seq2seq models this is one decoder token's self-attention K/V plus one
    encoder token's cross-attention K/V (encoder length taken equal to the
    decoder's). 0 for encoder-only models.
    """
    if arch.objective in ENCODER_ONLY:
        return 0
    elements = sum(layer_kv_elements_per_token(arch, layer) * n for layer, n in layer_groups(arch))
    if _is_seq2seq(arch):
        elements += _cross_elements_per_token(arch)
    return bytes_for(elements, kv_dtype)


def kv_cache_bytes(arch: Architecture, seq_len: int, batch: int = 1, kv_dtype: str = "bf16") -> int:
    """KV bytes for ``batch`` sequences of ``seq_len`` tokens, sliding/chunked layers capped."""
    return sum(kv_per_layer_kind(arch, seq_len, batch, kv_dtype).values())


def kv_per_layer_kind(arch: Architecture, seq_len: int, batch: int = 1, kv_dtype: str = "bf16") -> dict[str, int]:
    """:func:`kv_cache_bytes` split by the mixer kind that holds it (kinds with 0 bytes omitted)."""
    if arch.objective in ENCODER_ONLY:
        return {}
    elements: dict[str, int] = {}
    for layer, n in layer_groups(arch):
        per_token = layer_kv_elements_per_token(arch, layer)
        if per_token:
            key = layer.mixer.value
            elements[key] = elements.get(key, 0) + per_token * layer_cached_tokens(layer, seq_len) * n
    if _is_seq2seq(arch):
        cross = _cross_elements_per_token(arch) * encoder_length(arch, seq_len)
        if cross:
            elements["cross"] = cross
    return {k: bytes_for(v * batch, kv_dtype) for k, v in elements.items() if v}


def layer_state_elements(arch: Architecture, layer: LayerSpec) -> tuple[int, int]:
    """(conv state, recurrent/SSM state) elements one sequence keeps in one layer.

    vLLM's shapes (``MambaStateShapeCalculator``, tensor parallel 1):

    * Mamba-1: conv ``(conv_kernel − 1) · intermediate``, SSM ``intermediate · state_size``;
    * Mamba-2: conv ``(conv_kernel − 1) · (intermediate + 2 · n_groups · state_size)``,
      SSM ``num_heads · head_dim · state_size`` (intermediate defaults to heads × head_dim,
      as vLLM computes it for Nemotron-H);
    * Gated-DeltaNet: conv ``(conv_kernel − 1) · (2 · key_heads · key_head_dim +
      value_heads · value_head_dim)``, recurrent ``value_heads · value_head_dim · key_head_dim``;
    * LFM2 short convolution: conv ``(L_cache − 1) · conv_dim`` (``conv_kernel`` holds
      ``conv_L_cache``, ``intermediate_size`` holds ``conv_dim``, default hidden), no SSM.
    """
    ssm = arch.ssm
    mixer = layer.mixer
    if mixer is Mixer.CONV:
        k = ssm.conv_kernel if ssm is not None else 3
        dim = (ssm.intermediate_size if ssm is not None and ssm.intermediate_size else arch.hidden_size)
        return (k - 1) * dim, 0
    if ssm is None:
        return 0, 0
    if mixer is Mixer.MAMBA:
        inner = mamba_intermediate(arch)
        return (ssm.conv_kernel - 1) * inner, inner * ssm.state_size
    if mixer is Mixer.MAMBA2:
        inner = mamba_intermediate(arch)
        heads = ssm.num_heads or inner // max(1, ssm.head_dim)
        head_dim = ssm.head_dim or inner // max(1, heads)
        conv = (ssm.conv_kernel - 1) * (inner + 2 * ssm.n_groups * ssm.state_size)
        return conv, heads * head_dim * ssm.state_size
    if mixer is Mixer.LINEAR:
        conv_dim = 2 * ssm.num_key_heads * ssm.key_head_dim + ssm.num_value_heads * ssm.value_head_dim
        recurrent = ssm.num_value_heads * ssm.value_head_dim * ssm.key_head_dim
        return (ssm.conv_kernel - 1) * conv_dim, recurrent
    return 0, 0


def state_dtype_name(arch: Architecture, compute_dtype: str) -> str:
    """The SSM/recurrent state's dtype: the config's own (``SSMSpec.state_dtype``) or the compute dtype."""
    named = getattr(arch.ssm, "state_dtype", None) if arch.ssm is not None else None
    return _DTYPE_ALIASES.get(str(named).lower(), compute_dtype) if named else compute_dtype


_DTYPE_ALIASES = {
    "float32": "fp32", "fp32": "fp32", "float": "fp32",
    "float16": "fp16", "fp16": "fp16", "half": "fp16",
    "bfloat16": "bf16", "bf16": "bf16",
}


def state_bytes(arch: Architecture, batch: int = 1, compute_dtype: str = "bf16") -> int:
    """Fixed per-sequence state (Mamba, linear attention, short conv) × ``batch``.

    The conv state is kept in ``compute_dtype``; the SSM/recurrent state in
    the config's ``mamba_ssm_cache_dtype`` when it names one, else also
    ``compute_dtype``.
    """
    conv = ssm_state = 0
    for layer, n in layer_groups(arch):
        c, s = layer_state_elements(arch, layer)
        conv += c * n
        ssm_state += s * n
    return bytes_for(conv * batch, compute_dtype) + bytes_for(ssm_state * batch, state_dtype_name(arch, compute_dtype))


def kv_estimate(
    arch: Architecture, *, seq_len: int, batch: int = 1, kv_dtype: str = "bf16", compute_dtype: str = "bf16"
) -> KVEstimate:
    """Everything above at once, with notes saying what was assumed."""
    notes: list[str] = []
    if arch.objective in ENCODER_ONLY:
        notes.append("encoder-only model: it does not generate, so it keeps no KV cache")
    kinds = {layer.mixer for layer, _ in layer_groups(arch)}
    if Mixer.MLA in kinds:
        notes.append(
            "MLA: KV is the compressed latent (kv_lora_rank + qk_rope_head_dim per layer) that vLLM/SGLang cache; "
            "transformers' eager cache stores decompressed K and V (far larger)"
        )
        if arch.dim("index_n_heads") and arch.dim("index_head_dim"):
            width = arch.dim("index_head_dim")
            notes.append(f"sparse attention: the lightning indexer's keys ({width} per layer) are cached too")
    if _is_seq2seq(arch) and arch.objective not in ENCODER_ONLY:
        if arch.model_type == "whisper":
            enc = encoder_length(arch, seq_len)
            notes.append(f"seq2seq: KV = decoder self-attention + cross-attention over the encoder's fixed {enc} frames")
        else:
            notes.append(
                "seq2seq: KV = decoder self-attention + cross-attention over an encoder input assumed seq_len long"
            )
    if Mixer.SLIDING in kinds or Mixer.CHUNKED in kinds:
        notes.append("sliding-window/chunked layers hold at most their window in kv_cache_bytes")
    st = state_bytes(arch, batch, compute_dtype)
    if st:
        notes.append(
            f"recurrent state per sequence (vLLM shapes): conv in {compute_dtype}, "
            f"SSM in {state_dtype_name(arch, compute_dtype)}"
        )
    per_kind = kv_per_layer_kind(arch, seq_len, batch, kv_dtype)
    return KVEstimate(
        bytes_per_token=kv_bytes_per_token(arch, kv_dtype),
        cache_bytes=sum(per_kind.values()),
        per_layer_kind=per_kind,
        state_bytes=st,
        notes=tuple(notes),
    )
