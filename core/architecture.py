"""The normalized description of a model that every estimator reads.

Every source (a local config.json, the Hub, the built-in catalog, a GGUF or ONNX
file) is turned into one frozen :class:`Architecture`. The estimators never look
at a raw config dict again: whatever a family calls its fields, it is answered
here once, so a fix for one family's quirk is made in one place (the parser)
and every number downstream follows.

The per-layer list (:attr:`Architecture.layers`) is the heart of it: hybrid
models (Gemma-3's 5:1 sliding:full, Qwen3-Next's 3:1 linear:full, Nemotron-H's
Mamba-2/attention/MoE pattern, DeepSeek's leading dense layers) are described
layer by layer, so KV cache, state and FLOPs are summed over what each layer
really is instead of assuming every layer is the same.

Fields may be added (with defaults); none are renamed — the TUI, the CLI and
the exporters all read them.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import Enum


class Objective(str, Enum):
    """What the model is trained to do; decides which estimates make sense."""

    CAUSAL_LM = "causal-lm"
    MASKED_LM = "masked-lm"
    SEQ2SEQ = "seq2seq"
    VLM = "vlm"
    EMBEDDING = "embedding"
    VISION = "vision"
    SPEECH = "speech"
    OTHER = "other"


class Mixer(str, Enum):
    """The token-mixing block of one layer (what holds a KV cache or a state)."""

    FULL = "full"  # full (global) softmax attention, MHA/GQA/MQA
    SLIDING = "sliding"  # softmax attention over the last `window` tokens
    CHUNKED = "chunked"  # attention within fixed chunks (Llama-4)
    MLA = "mla"  # multi-head latent attention (DeepSeek-V2/V3, Kimi-K2)
    LINEAR = "linear"  # linear attention / Gated-DeltaNet (Qwen3-Next)
    MAMBA = "mamba"  # Mamba-1 selective SSM
    MAMBA2 = "mamba2"  # Mamba-2 SSD
    CONV = "conv"  # short gated convolution (LFM2)
    NONE = "none"  # no mixer (e.g. an MLP-only layer in Nemotron-H, a no-op block)

    @property
    def has_kv_cache(self) -> bool:
        return self in (Mixer.FULL, Mixer.SLIDING, Mixer.CHUNKED, Mixer.MLA)

    @property
    def is_attention(self) -> bool:
        return self.has_kv_cache


class FFN(str, Enum):
    """The channel-mixing block of one layer."""

    DENSE = "dense"
    MOE = "moe"
    NONE = "none"


@dataclass(frozen=True)
class LayerSpec:
    """One decoder (or encoder) layer as it really is.

    ``window`` is the sliding window or chunk size for SLIDING/CHUNKED layers.
    ``intermediate_size`` / ``num_kv_heads`` override the model-wide values
    for architectures whose layers differ (Nemotron-NAS/DeciLM); None means
    "the model-wide value".
    """

    mixer: Mixer
    ffn: FFN
    window: int | None = None
    intermediate_size: int | None = None
    num_kv_heads: int | None = None
    linear_mixer: bool = False  # mixer replaced by one hidden×hidden linear (DeciLM replace_with_linear)
    linear_ffn: bool = False  # FFN replaced by one hidden×hidden linear (DeciLM replace_with_linear)


@dataclass(frozen=True)
class MLASpec:
    """Multi-head latent attention dimensions (DeepSeek-V2/V3 naming)."""

    q_lora_rank: int | None  # None: q is projected directly from hidden
    kv_lora_rank: int
    qk_nope_head_dim: int
    qk_rope_head_dim: int
    v_head_dim: int


@dataclass(frozen=True)
class MoESpec:
    """Mixture-of-experts facts, for the layers whose ``ffn`` is MOE."""

    num_experts: int
    experts_per_token: int
    expert_intermediate_size: int
    num_shared_experts: int = 0
    shared_expert_intermediate_size: int | None = None  # None: expert size × shared count
    router_bias: bool = False
    expert_bias: bool = False
    gated: bool = True


@dataclass(frozen=True)
class SSMSpec:
    """State-space / linear-attention dimensions (fixed per-sequence state).

    Mamba-1: ``intermediate_size``, ``state_size``, ``conv_kernel``.
    Mamba-2: adds ``n_groups``, ``num_heads``, ``head_dim``.
    Gated-DeltaNet: ``num_key_heads``, ``key_head_dim``, ``num_value_heads``,
    ``value_head_dim``, ``conv_kernel``.
    LFM2 short conv: ``conv_kernel`` = ``conv_L_cache``, ``intermediate_size`` = ``conv_dim``.
    ``state_dtype``: the SSM state's own dtype when the config names one
    (``mamba_ssm_cache_dtype``); the KV/state estimator uses it.
    """

    kind: Mixer
    conv_kernel: int = 4
    intermediate_size: int = 0
    state_size: int = 0
    n_groups: int = 1
    num_heads: int = 0
    head_dim: int = 0
    num_key_heads: int = 0
    key_head_dim: int = 0
    num_value_heads: int = 0
    value_head_dim: int = 0
    state_dtype: str | None = None  # config's mamba_ssm_cache_dtype ("float32"); None: the compute dtype


@dataclass(frozen=True)
class RopeSpec:
    theta: float | None = None
    scaling_type: str | None = None  # linear, dynamic, yarn, llama3, longrope, ...
    scaling_factor: float | None = None
    original_max_position: int | None = None
    partial_rotary_factor: float = 1.0


@dataclass(frozen=True)
class QuantSpec:
    """How the checkpoint's weights are stored when they are quantized."""

    method: str  # gptq, awq, bitsandbytes, fp8, compressed-tensors, exl2, mlx, gguf, modelopt, mxfp4, ...
    bits: float | None = None
    group_size: int | None = None
    symmetric: bool | None = None
    details: tuple[tuple[str, str], ...] = ()  # extra facts, as (name, value) text pairs


@dataclass(frozen=True)
class VisionSpec:
    """A vision tower attached to a language model (VLMs) or a pure ViT."""

    hidden_size: int
    num_layers: int
    num_heads: int
    intermediate_size: int
    image_size: int | None = None
    patch_size: int | None = None
    kind: str = "vit"  # parameter layout: vit | clip | siglip | siglip_head | llama4
    num_channels: int = 3
    projector: str = "none"  # none | mlp2 (LLaVA) | gemma3 | llama4
    projector_dims: tuple[int, ...] = ()  # kind-specific sizes of the projector


@dataclass(frozen=True)
class Architecture:
    """Everything the estimators need to know about one model.

    Sizes are for the language (text) stack; an encoder-decoder keeps its
    encoder in ``encoder_layers`` / ``layers`` is the decoder. Unknown values
    are None, never guessed silently (the parser records guesses in
    ``notes``).
    """

    model_type: str  # config.model_type (or GGUF general.architecture)
    family: str  # human family name: "Llama", "Qwen3-MoE", "DeepSeek-V3", ...
    architecture_class: str | None  # architectures[0]
    objective: Objective
    hidden_size: int
    num_layers: int
    num_heads: int
    num_kv_heads: int
    head_dim: int
    intermediate_size: int  # dense FFN width (0 if none)
    vocab_size: int
    layers: tuple[LayerSpec, ...]
    activation: str = "silu"
    gated_ffn: bool = True  # SwiGLU/GeGLU: three matrices instead of two
    norm: str = "rmsnorm"  # rmsnorm | layernorm
    tied_embeddings: bool = False
    max_position_embeddings: int | None = None
    position_encoding: str = "rope"  # rope | learned | alibi | relative | none
    rope: RopeSpec | None = None
    sliding_window: int | None = None
    attention_bias: bool = False
    mlp_bias: bool = False
    qk_norm: bool = False
    mla: MLASpec | None = None
    moe: MoESpec | None = None
    ssm: SSMSpec | None = None
    encoder_layers: tuple[LayerSpec, ...] = ()  # seq2seq encoders
    vision: VisionSpec | None = None
    quantization: QuantSpec | None = None
    torch_dtype: str | None = None  # the checkpoint's dtype ("bfloat16", ...)
    num_mtp_layers: int = 0  # multi-token-prediction layers shipped but not in the class
    notes: tuple[str, ...] = ()  # what the parser assumed, in words
    # Parameter-layout facts the analytic counter needs (added by the params owner).
    norm_bias: bool = False  # LayerNorm with a bias vector
    norms_per_layer: int = 2  # norm vectors per layer (Gemma-2/3: 4, parallel blocks: 1)
    final_norm: bool = True
    attention_out_bias: bool | None = None  # None: same as attention_bias
    attention_output_gate: bool = False  # q_proj also produces a sigmoid gate (Qwen3-Next)
    attention_sinks: bool = False  # one learned sink logit per head (gpt-oss)
    position_embeddings: int = 0  # rows of a learned absolute position table (GPT-2, BERT)
    token_type_embeddings: int = 0  # BERT segment embeddings
    embedding_norm: bool = False  # a norm right after the embeddings (BERT, BART)
    pooler: bool = False  # hidden×hidden+bias pooler of *Model encoders
    lm_head: bool = True  # the class has an output projection (False for *Model base classes)
    lm_head_bias: bool = False
    extra_dims: tuple[tuple[str, int], ...] = ()  # family-specific sizes, by name
    # Projections the class holds as ONE module ("qkv": q, k and v in one matrix, GPT-2's c_attn, Phi-3's
    # qkv_proj; "gate_up": the gated MLP's two input matrices in one, Phi-3's gate_up_proj). The weights are
    # the same; what changes is the module an adapter (LoRA) or a per-module quantizer sees.
    fused_projections: tuple[str, ...] = ()
    # Trained with dropout (any dropout probability in the config > 0). Decides whether training
    # activations hold 1-byte dropout masks; True for hand-built GPT-3-style layers (Korthikanti).
    dropout: bool = True

    def dim(self, name: str, default: int = 0) -> int:
        """A family-specific size from ``extra_dims`` (``default`` when absent)."""
        for key, value in self.extra_dims:
            if key == name:
                return value
        return default

    @property
    def attention_layers(self) -> int:
        return sum(1 for layer in self.layers if layer.mixer.is_attention)

    @property
    def is_moe(self) -> bool:
        return self.moe is not None and any(layer.ffn is FFN.MOE for layer in self.layers)

    @property
    def is_hybrid(self) -> bool:
        return len({layer.mixer for layer in self.layers}) > 1

    def layer_counts(self) -> dict[str, int]:
        """How many layers of each mixer/ffn kind, e.g. {"full": 6, "mamba2": 23, "moe": 23}."""
        counts: dict[str, int] = {}
        for layer in self.layers:
            counts[layer.mixer.value] = counts.get(layer.mixer.value, 0) + 1
            if layer.ffn is not FFN.NONE:
                counts[layer.ffn.value] = counts.get(layer.ffn.value, 0) + 1
        return counts


@dataclass(frozen=True)
class ConfigFiles:
    """The small files next to a config that describe a model without weights."""

    config: dict
    tokenizer_config: dict | None = None
    tokenizer_json_path: str | None = None  # a path: tokenizer.json can be tens of MB
    generation_config: dict | None = None
    quantize_config: dict | None = None  # quantize_config.json (GPTQ/AWQ) or hf_quant_config.json
    safetensors_index: dict | None = None
    extra: dict = field(default_factory=dict)
