"""Yes/no facts about a model: context length, attention kind, MoE, vision, tools...

These are the questions people ask before the numbers ("does it do long
context?", "is it GQA?", "can it call tools?"). Each answer is derived from
the parsed :class:`Architecture` plus the tokenizer facts, in one place, so
the report, the comparison and the TUI badges agree.

Context length: ``max_position_embeddings``, or — when a RoPE scaling
(yarn, linear, dynamic, longrope) names an original length and a factor —
factor × original when that is larger (Qwen's yarn configs keep
``max_position_embeddings`` at the pre-scaling value).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

from lmscope.core.architecture import Architecture, Mixer, Objective
from lmscope.core.tokenizer import TokenizerFacts

LONG_CONTEXT_TOKENS = 32_768


@dataclass(frozen=True)
class Capabilities:
    """Derived facts; every field is JSON-safe."""

    can_generate: bool
    max_context_length: int | None
    original_context_length: int | None
    rope_scaling: str | None
    long_context: bool
    attention: str  # MHA | GQA | MQA | MLA | none
    sliding_window: int | None
    sliding_layers: int
    full_attention_layers: int
    moe: bool
    hybrid: bool
    state_space: bool
    vision_input: bool
    audio_input: bool
    encoder_decoder: bool
    embedding_model: bool
    chat_template: bool | None
    tool_use: bool | None
    quantized: bool
    quantization_method: str | None
    multi_token_prediction: bool
    lora: bool
    qlora: bool
    # Added for seed parity (defaults keep older constructors valid):
    context_length_source: str | None = None  # config | rope scaling | tokenizer model_max_length
    flash_attention: bool | None = None  # FlashAttention-2's kernel limits allow this model's attention
    flash_attention_basis: str | None = None  # why, in words

    def to_dict(self) -> dict[str, object]:
        return asdict(self)


def context_length(arch: Architecture) -> tuple[int | None, int | None]:
    """(usable context length, original pre-scaling length or None)."""
    base = arch.max_position_embeddings
    rope = arch.rope
    if rope is None or not rope.scaling_type or rope.scaling_type == "default":
        return base, None
    original = rope.original_max_position
    if original and rope.scaling_factor and rope.scaling_type in ("yarn", "linear", "dynamic", "longrope", "su", "llama3"):
        scaled = int(round(original * rope.scaling_factor))
        if rope.scaling_type == "llama3":
            # llama3 scaling: max_position_embeddings already states the extended context
            return base or scaled, original
        return max(base or 0, scaled), original
    return base, original


# FlashAttention-2 kernels take head dimensions up to 256 (Dao, flash-attention README: "all head dimensions up to 256").
FLASH_ATTENTION_MAX_HEAD_DIM = 256


def flash_attention_support(arch: Architecture) -> tuple[bool | None, str]:
    """Whether FlashAttention-2's kernel limits allow the model's attention (a necessary condition).

    No softmax-attention layer (Mamba, RWKV): False. A bias added to the
    scores by position (T5's relative buckets) is not an input the kernel
    takes: False. A head dimension above 256 (MLA: the query/key width): False.
    Otherwise True. This is about the kernel, not about a given framework: a
    transformers class may still not wire it up (checked in the tests: every
    class that declares support passes this rule).
    """
    if arch.layers and arch.attention_layers == 0 and not arch.encoder_layers:
        return False, "no softmax-attention layers"
    if arch.position_encoding == "relative":
        return False, "relative position bias added to the scores"
    dims = [arch.head_dim]
    if arch.mla is not None:
        dims = [arch.mla.qk_nope_head_dim + arch.mla.qk_rope_head_dim, arch.mla.v_head_dim]
    widest = max(d for d in dims if d) if any(dims) else 0
    if not widest:
        return None, "head dimension unknown"
    if widest > FLASH_ATTENTION_MAX_HEAD_DIM:
        return False, f"head dim {widest} > {FLASH_ATTENTION_MAX_HEAD_DIM} (FlashAttention-2 kernel limit)"
    return True, f"kernel limits: head dim {widest} ≤ {FLASH_ATTENTION_MAX_HEAD_DIM}, softmax attention"


def attention_kind(arch: Architecture) -> str:
    """MHA / GQA / MQA / MLA, or "none" for models without attention."""
    if arch.mla is not None or any(layer.mixer is Mixer.MLA for layer in arch.layers):
        return "MLA"
    if arch.attention_layers == 0 and arch.layers:
        return "none"
    if arch.num_kv_heads == 1 and arch.num_heads > 1:
        return "MQA"
    if 0 < arch.num_kv_heads < arch.num_heads:
        return "GQA"
    return "MHA"


def derive_capabilities(arch: Architecture, tokenizer: TokenizerFacts | None = None) -> Capabilities:
    """The :class:`Capabilities` of a parsed model (tokenizer facts add chat/tool answers)."""
    length, original = context_length(arch)
    sliding = sum(1 for layer in arch.layers if layer.mixer in (Mixer.SLIDING, Mixer.CHUNKED))
    full = sum(1 for layer in arch.layers if layer.mixer in (Mixer.FULL, Mixer.MLA))
    state_space = any(layer.mixer in (Mixer.MAMBA, Mixer.MAMBA2, Mixer.LINEAR, Mixer.CONV) for layer in arch.layers)
    generative = arch.objective in (Objective.CAUSAL_LM, Objective.SEQ2SEQ, Objective.VLM, Objective.SPEECH)
    quant = arch.quantization
    chat = tokenizer.chat_template if tokenizer is not None else None
    tools: bool | None = None
    if tokenizer is not None and tokenizer.chat_template:
        tools = tokenizer.chat_template_mentions_tools if tokenizer.chat_template_read else None
    elif chat is False:
        tools = False
    windows = [layer.window for layer in arch.layers if layer.window]
    flash, flash_basis = flash_attention_support(arch)
    context_source = None
    if length is not None:
        context_source = "rope scaling" if original and length != arch.max_position_embeddings else "config"
    return Capabilities(
        can_generate=generative,
        max_context_length=length,
        original_context_length=original,
        rope_scaling=arch.rope.scaling_type if arch.rope is not None else None,
        long_context=bool(length and length >= LONG_CONTEXT_TOKENS and generative),
        attention=attention_kind(arch),
        sliding_window=arch.sliding_window or (min(windows) if windows else None),
        sliding_layers=sliding,
        full_attention_layers=full,
        moe=arch.is_moe,
        hybrid=arch.is_hybrid,
        state_space=state_space,
        vision_input=arch.vision is not None or arch.objective in (Objective.VLM, Objective.VISION),
        audio_input=arch.objective is Objective.SPEECH,
        encoder_decoder=bool(arch.encoder_layers) or arch.objective is Objective.SEQ2SEQ,
        embedding_model=arch.objective is Objective.EMBEDDING,
        chat_template=chat,
        tool_use=tools,
        quantized=quant is not None,
        quantization_method=quant.method if quant is not None else None,
        multi_token_prediction=arch.num_mtp_layers > 0,
        lora=generative or arch.objective in (Objective.MASKED_LM, Objective.EMBEDDING),
        qlora=generative and (quant is None or quant.method == "bitsandbytes"),
        context_length_source=context_source,
        flash_attention=flash,
        flash_attention_basis=flash_basis,
    )
