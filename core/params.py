"""Analytic parameter counts: closed-form sums over :attr:`Architecture.layers`.

Why analytic when transformers can count exactly: it runs in microseconds (live
sliders), needs no torch, and covers remote-code families transformers cannot
build. Every formula here is pinned by tests to the meta-device oracle
(``sum(p.numel())`` of the real class) for each fixture config, so "analytic"
does not mean "approximate" — a mismatch is a bug.

Conventions (CONTRACT.md): ``total`` counts the class named by
``architectures[0]`` — all experts, tied embeddings once, MTP layers only when
the class itself holds them. ``matmul_per_token`` is the N of FLOPs = 2·N·T:
every weight a token multiplies (routed experts visited, shared experts,
router, LM head even when tied, encoder stack for seq2seq), never embedding
lookups, norms, biases, convolutions or the vision tower (image tokens are not
text tokens).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

from lmscope.core.architecture import FFN, Architecture, LayerSpec, Mixer
from lmscope.core.results import ParameterBreakdown

COMPONENTS = (
    "embeddings", "attention", "mlp", "experts", "shared_experts", "router", "norms", "lm_head", "vision",
    "mamba", "linear_attention", "conv", "encoder", "projector", "other",
)


@dataclass
class _Tally:
    """Running sums: parameters by component, matmul weights, inactive expert parameters."""

    by: dict[str, int] = field(default_factory=dict)
    matmul: int = 0
    inactive: int = 0
    matmul_by: dict[str, int] = field(default_factory=dict)

    def merge(self, other: _Tally, times: int) -> None:
        for comp, n in other.by.items():
            self.by[comp] = self.by.get(comp, 0) + n * times
        for comp, n in other.matmul_by.items():
            self.matmul_by[comp] = self.matmul_by.get(comp, 0) + n * times
        self.matmul += other.matmul * times
        self.inactive += other.inactive * times

    def add(self, component: str, n: int, matmul: int = 0) -> None:
        if n:
            self.by[component] = self.by.get(component, 0) + n
        if matmul:
            self.matmul += matmul
            self.matmul_by[component] = self.matmul_by.get(component, 0) + matmul


# Model types whose formulas equal the class count: every type transformers registers with a head is
# swept against the meta-device class (default config and seeded variations, tests/test_sweep.py); the
# sweep fails on any type listed here that does not match. Anything else is counted "approximate".
VERIFIED_MODEL_TYPES: frozenset[str] = frozenset(
    """
    apertus arcee bamba bart bert bloom cohere cohere2 deepseek_v2 deepseek_v3 deepseek_v32 distilbert ernie4_5 ernie4_5_moe exaone exaone4
    falcon falcon_mamba gemma gemma2 gemma3 gemma3_text glm glm4 glm4_moe gpt2 gpt_bigcode gpt_neo gpt_neox gpt_oss gptj
    granite granitemoe granitemoehybrid granitemoeshared internlm3 jamba kimi_k2 lfm2 llama llama4 llama4_text llava llava_next
    llava_onevision mamba mamba2 mbart mistral mixtral mpt mt5 nemotron_h olmo olmo2 olmo3 olmoe opt
    persimmon phi phi3 phimoe qwen2 qwen2_moe qwen3 qwen3_moe qwen3_next roberta seed_oss smollm3 stablelm
    starcoder2 t5 umt5 vit whisper xlm-roberta
    """.split()
)

# Remote-code types (no class in transformers to sweep): each checked against a published parameter
# count or a real safetensors total cited in tests/test_remote_code.py.
VERIFIED_REMOTE_CODE_TYPES: frozenset[str] = frozenset(
    {"qwen", "chatglm", "baichuan", "internlm2", "minicpm", "phi3small", "nemotron-nas", "mimo"}
)


def analytic_refusal(arch: Architecture) -> str | None:
    """Why the analytic count of ``arch`` is not exact (None when its formulas are verified).

    Why a declaration and not a guess: a layout the formulas have never been
    checked against may differ in any matrix; the count is then labelled
    "approximate" and the report prefers the exact engine or the stored
    tensors.
    """
    if arch.model_type in VERIFIED_MODEL_TYPES or arch.model_type in VERIFIED_REMOTE_CODE_TYPES:
        return _feature_refusal(arch)
    return f"the analytic formulas are not verified for model type {arch.model_type!r}"


_HEAD_SUFFIXES = ("ForCausalLM", "LMHeadModel", "ForConditionalGeneration", "ForMaskedLM", "Model")


def _feature_refusal(arch: Architecture) -> str | None:
    """Features of a verified type that the formulas do not cover (the sweep found them)."""
    cls = arch.architecture_class
    if arch.dim("moe_latent_size"):
        return "experts working in a latent width (moe_latent_size) are not in the formulas"
    if cls and not cls.endswith(_HEAD_SUFFIXES):
        return f"the formulas do not count the task head of {cls}"
    if cls and cls.endswith("ForCausalLM") and (arch.encoder_layers or arch.objective.value in ("seq2seq", "speech")):
        return f"{cls} is the decoder of a sequence-to-sequence model alone (the formulas count both stacks)"
    return None


def count_parameters(arch: Architecture) -> ParameterBreakdown:
    """Analytic :class:`ParameterBreakdown` of ``arch``.

    method="analytic" when the formulas are verified for this architecture
    (:func:`analytic_refusal`), else "approximate" with the reason in ``note``.
    """
    t = _tally(arch)
    total = sum(t.by.values())
    embedding = t.by.get("embeddings", 0)
    refusal = analytic_refusal(arch)
    return ParameterBreakdown(
        total=total,
        active_per_token=total - t.inactive,
        embedding=embedding,
        matmul_per_token=t.matmul,
        by_component={k: t.by[k] for k in COMPONENTS if t.by.get(k)},
        method="approximate" if refusal else "analytic",
        note=refusal,
    )


def matmul_by_component(arch: Architecture) -> dict[str, int]:
    """Matmul weights one token uses, by component (sums to ``matmul_per_token``)."""
    t = _tally(arch)
    return {k: t.matmul_by[k] for k in COMPONENTS if t.matmul_by.get(k)}


def layer_parameters(arch: Architecture, layer: LayerSpec) -> dict[str, int]:
    """Parameters of one layer of kind ``layer``, by component (what the diagram labels each block with).

    Summed over ``arch.layers`` this is the per-layer part of :func:`count_parameters`
    (everything but embeddings, final norm, LM head, encoder, vision tower).
    """
    t = _Tally()
    _layer(arch, layer, t)
    return dict(t.by)


def _tally(arch: Architecture) -> _Tally:
    t = _Tally()
    h = arch.hidden_size
    _embeddings(arch, t)
    for layer, copies in _distinct_layers(arch.layers):  # most models repeat one or two layer kinds
        one = _Tally()
        _layer(arch, layer, one)
        t.merge(one, copies)
    if arch.model_type in ("t5", "mt5", "umt5"):
        copies = len(arch.layers) if arch.dim("relative_bias_every_layer") else 1
        t.add("attention", copies * arch.dim("relative_attention_num_buckets") * arch.num_heads)
    if arch.final_norm:
        t.add("norms", _norm(arch, h))
    if arch.pooler:
        t.add("other", h * h + h)
    if arch.dim("mlm_transform"):  # BERT-style masked-LM head: dense + LayerNorm + decoder bias
        # (untied, the decoder's bias and the head's own bias vector are two parameters)
        separate = not arch.tied_embeddings and arch.model_type in ("bert", "roberta", "xlm-roberta")
        bias = arch.vocab_size * (2 if separate else 1)
        t.add("lm_head", h * h + h + _norm(arch, h) + bias, h * h)
    if arch.model_type in ("bart", "mbart") and not arch.tied_embeddings:
        # untied BART keeps separate encoder and decoder token embeddings beside ``shared``
        t.add("encoder", arch.vocab_size * h)
        t.add("embeddings", arch.vocab_size * h)
    if arch.lm_head:
        head = arch.vocab_size * arch.dim("word_embed_proj_dim", h)  # OPT: the head has the embeddings' width
        t.add("lm_head", (0 if arch.tied_embeddings else head) + (arch.vocab_size if arch.lm_head_bias else 0), head)
    if arch.encoder_layers:
        enc = _Tally()
        _encoder(arch, enc)
        t.add("encoder", sum(enc.by.values()), enc.matmul)
    if arch.num_mtp_layers and arch.dim("mtp_in_class"):
        _mimo_mtp(arch, t)
    if arch.vision is not None and arch.objective.value != "vision":
        _vision_tower(arch, t)
    return t


def _distinct_layers(layers: tuple[LayerSpec, ...]) -> list[tuple[LayerSpec, int]]:
    counts: dict[LayerSpec, int] = {}
    for layer in layers:
        counts[layer] = counts.get(layer, 0) + 1
    return list(counts.items())


def _norm(arch: Architecture, width: int) -> int:
    return 2 * width if arch.norm_bias else width


def _embeddings(arch: Architecture, t: _Tally) -> None:
    h = arch.hidden_size
    if arch.objective.value == "vision" and arch.vision is not None:
        v = arch.vision
        image, patch = v.image_size, v.patch_size
        assert image is not None and patch is not None  # the ViT builder (parse/vision.py) reads both
        patches = (image // patch) ** 2
        t.add("embeddings", h + (patches + 1) * h + v.num_channels * patch**2 * h + h)
        return
    width = arch.dim("word_embed_proj_dim", h)  # OPT-350m: narrower embeddings projected in and out
    t.add("embeddings", arch.vocab_size * width + arch.position_embeddings * h + arch.token_type_embeddings * h)
    if width != h:
        t.add("other", 2 * width * h, 2 * width * h)
    if arch.embedding_norm:
        t.add("norms", _norm(arch, h))


def _layer(arch: Architecture, layer: LayerSpec, t: _Tally) -> None:
    h = arch.hidden_size
    mixer = layer.mixer
    if mixer in (Mixer.FULL, Mixer.SLIDING, Mixer.CHUNKED):
        n, mm = _attention(arch, layer.num_kv_heads or arch.num_kv_heads)
        t.add("attention", n, mm)
    elif mixer in _MIXER_COUNTS:
        component, count = _MIXER_COUNTS[mixer]
        n, mm = count(arch)
        t.add(component, n, mm)
    elif layer.linear_mixer:
        t.add("attention", h * h + (h if arch.attention_bias else 0), h * h)
    if arch.encoder_layers:
        n, mm = _cross_attention(arch)
        t.add("attention", n, mm)
    if layer.ffn is FFN.DENSE:
        inter = layer.intermediate_size or arch.intermediate_size
        n, mm = _mlp(h, inter, arch.gated_ffn, arch.mlp_bias)
        t.add("mlp", n + arch.dim("activation_params"), mm)
    elif layer.ffn is FFN.MOE:
        _moe(arch, t)
    elif layer.linear_ffn:
        t.add("mlp", h * h + (h if arch.mlp_bias else 0), h * h)
    t.add("norms", _layer_norms(arch, layer) * _norm(arch, h))


def _layer_norms(arch: Architecture, layer: LayerSpec) -> int:
    if arch.model_type in ("nemotron-nas", "deci"):
        has_mixer = layer.mixer is not Mixer.NONE or layer.linear_mixer
        has_ffn = layer.ffn is not FFN.NONE or layer.linear_ffn
        return int(has_mixer) + int(has_ffn)
    return arch.norms_per_layer


def _attention(arch: Architecture, kv_heads: int) -> tuple[int, int]:
    """(parameters, matmul weights) of one softmax-attention block."""
    h, d, heads = arch.hidden_size, arch.head_dim, arch.num_heads
    q_out = heads * d * (2 if arch.attention_output_gate else 1)
    kv_out = kv_heads * d
    weights = h * q_out + 2 * h * kv_out + heads * d * h
    n = weights
    if arch.attention_bias:
        n += q_out + 2 * kv_out
        if not arch.dim("k_proj_bias", 1):
            n -= kv_out  # Whisper's k_proj has no bias
    out_bias = arch.attention_bias if arch.attention_out_bias is None else arch.attention_out_bias
    if out_bias:
        n += h
    if arch.qk_norm:
        n += 2 * d
    if arch.dim("qk_layernorm"):  # one LayerNorm over head_dim for q and one for k (Phi, Persimmon)
        n += 2 * _norm(arch, d)
    if arch.dim("qk_layernorm_per_head"):  # StableLM: one LayerNorm per head
        n += (heads + kv_heads) * _norm(arch, d)
    if arch.dim("qk_norm_per_head_width"):  # Cohere: (heads, head_dim) weights, no bias
        n += (heads + kv_heads) * d
    if arch.dim("qk_norm_full_width"):  # OLMo-2: RMSNorm over all of q and all of k
        n += q_out + kv_out
    if arch.attention_sinks:
        n += heads
    return n, weights


def _mla(arch: Architecture) -> tuple[int, int]:
    m = arch.mla
    assert m is not None
    h, heads = arch.hidden_size, arch.num_heads
    qk = m.qk_nope_head_dim + m.qk_rope_head_dim
    if m.q_lora_rank:
        q = h * m.q_lora_rank + m.q_lora_rank * heads * qk
        q_norm = m.q_lora_rank
    else:
        q, q_norm = h * heads * qk, 0
    kv = h * (m.kv_lora_rank + m.qk_rope_head_dim) + m.kv_lora_rank * heads * (m.qk_nope_head_dim + m.v_head_dim)
    o = heads * m.v_head_dim * h
    weights = q + kv + o
    n = weights + q_norm + m.kv_lora_rank
    if arch.attention_bias:  # q_a_proj, kv_a_proj_with_mqa and o_proj (q_proj never has one)
        n += (m.q_lora_rank or 0) + m.kv_lora_rank + m.qk_rope_head_dim + h
    idx_heads, idx_dim = arch.dim("index_n_heads"), arch.dim("index_head_dim")
    if idx_heads:  # DeepSeek-V3.2 lightning indexer
        idx_w = (m.q_lora_rank or h) * idx_heads * idx_dim + h * idx_dim + h * idx_heads
        n += idx_w + 2 * idx_dim
        weights += idx_w
    return n, weights


def _mlp(h: int, inter: int, gated: bool, bias: bool) -> tuple[int, int]:
    weights = (3 if gated else 2) * h * inter
    n = weights + ((2 * inter if gated else inter) + h if bias else 0)
    return n, weights


def _moe(arch: Architecture, t: _Tally) -> None:
    moe = arch.moe
    assert moe is not None
    h, e, k, inter = arch.hidden_size, moe.num_experts, moe.experts_per_token, moe.expert_intermediate_size
    per_expert_w = (3 if moe.gated else 2) * h * inter
    per_expert = per_expert_w + (((2 * inter) if moe.gated else inter) + h if moe.expert_bias else 0)
    t.add("experts", e * per_expert, k * per_expert_w)
    t.inactive += (e - k) * per_expert
    t.add("router", e * h + (e if moe.router_bias else 0), e * h)
    if moe.num_shared_experts:
        shared = moe.shared_expert_intermediate_size or inter * moe.num_shared_experts
        n, mm = _mlp(h, shared, moe.gated, bool(arch.dim("shared_expert_bias")))
        gate = h * arch.dim("shared_expert_gate")
        t.add("shared_experts", n + gate, mm + gate)


def _mamba1(arch: Architecture) -> tuple[int, int]:
    s = arch.ssm
    assert s is not None
    h, inner, n_state, rank = arch.hidden_size, s.intermediate_size, s.state_size, arch.dim("time_step_rank")
    proj_bias = arch.dim("mamba_proj_bias")
    weights = h * 2 * inner + inner * (rank + 2 * n_state) + rank * inner + inner * h
    n = weights + inner * s.conv_kernel + inner * arch.dim("conv_bias", 1) + inner  # conv, conv bias, dt bias
    n += inner * n_state + inner  # A_log, D
    n += (2 * inner + h) * proj_bias
    if arch.dim("mamba_inner_norms"):  # Jamba: RMSNorms on dt, B and C
        n += rank + 2 * n_state
    return n, weights


def _mamba2(arch: Architecture) -> tuple[int, int]:
    s = arch.ssm
    assert s is not None
    h, inner = arch.hidden_size, s.intermediate_size
    gn = s.n_groups * s.state_size
    in_out = 2 * inner + 2 * gn + s.num_heads
    weights = h * in_out + inner * h
    conv_dim = inner + 2 * gn
    n = weights + conv_dim * s.conv_kernel + conv_dim * arch.dim("conv_bias", 1)
    n += 3 * s.num_heads + inner  # dt_bias, A_log, D, gated norm
    n += (in_out + h) * arch.dim("mamba_proj_bias")
    return n, weights


def _gated_deltanet(arch: Architecture) -> tuple[int, int]:
    s = arch.ssm
    assert s is not None
    h = arch.hidden_size
    key = s.num_key_heads * s.key_head_dim
    value = s.num_value_heads * s.value_head_dim
    weights = h * (2 * key + 2 * value) + h * 2 * s.num_value_heads + value * h
    n = weights + (2 * key + value) * s.conv_kernel + 2 * s.num_value_heads + s.value_head_dim
    return n, weights


def _short_conv(arch: Architecture) -> tuple[int, int]:
    h = arch.hidden_size
    k = arch.ssm.conv_kernel if arch.ssm is not None else 3
    weights = h * 3 * h + h * h
    bias = arch.dim("conv_bias")
    return weights + h * k + bias * (3 * h + h + h), weights


def _encoder(arch: Architecture, t: _Tally) -> None:
    """Encoder stack of a seq2seq model (T5, BART, Whisper): everything outside the shared embedding."""
    h = arch.hidden_size
    if arch.model_type in ("t5", "mt5", "umt5"):
        heads, d = arch.num_heads, arch.head_dim
        for _ in arch.encoder_layers:
            w = 4 * h * heads * d
            m, mm = _mlp(h, arch.intermediate_size, arch.gated_ffn, False)
            t.add("encoder", w + m + 2 * h, w + mm)
        copies = len(arch.encoder_layers) if arch.dim("relative_bias_every_layer") else 1
        t.add("encoder", copies * arch.dim("relative_attention_num_buckets") * heads + h)
        return
    heads = arch.dim("encoder_heads", arch.num_heads)
    d = h // heads
    k_bias = arch.dim("k_proj_bias", 1)
    if arch.model_type == "whisper":
        mel = arch.dim("num_mel_bins")
        t.add("encoder", mel * h * 3 + h + h * h * 3 + h)
    t.add("encoder", arch.dim("encoder_positions") * h)
    if arch.dim("encoder_embedding_norm"):
        t.add("encoder", _norm(arch, h))
    for layer in arch.encoder_layers:
        w = 4 * h * heads * d
        attn = w + (3 if k_bias else 2) * heads * d + h
        m, mm = _mlp(h, layer.intermediate_size or arch.intermediate_size, False, True)
        t.add("encoder", attn + m + 2 * _norm(arch, h), w + mm)
    if arch.dim("encoder_final_norm"):
        t.add("encoder", _norm(arch, h))


def _cross_attention(arch: Architecture) -> tuple[int, int]:
    h, heads, d = arch.hidden_size, arch.num_heads, arch.head_dim
    w = 4 * h * heads * d
    if not arch.attention_bias:
        return w, w
    return w + (3 if arch.dim("k_proj_bias", 1) else 2) * heads * d + h, w


def _vision_tower(arch: Architecture, t: _Tally) -> None:
    v = arch.vision
    assert v is not None
    h, inter = v.hidden_size, v.intermediate_size
    patches = (v.image_size // v.patch_size) ** 2 if v.image_size and v.patch_size else 0
    patch_in = v.num_channels * v.patch_size**2 if v.patch_size else 0
    layer = 4 * (h * h + h) + 2 * h * inter + inter + h + 2 * 2 * h
    n = v.num_layers * layer
    if v.kind == "clip":
        n += h + patch_in * h + (patches + 1) * h + 2 * h + 2 * h
    elif v.kind in ("siglip", "siglip_head"):
        n += patch_in * h + h + patches * h + 2 * h
        if v.kind == "siglip_head":  # attention-pooling head: probe, MultiheadAttention, LayerNorm, MLP
            n += h + 4 * h * h + 4 * h + 2 * h + 2 * h * inter + inter + h
    elif v.kind == "llama4":
        p_in, p_out = v.projector_dims[0], v.projector_dims[1]
        n += h + (patches + 1) * h + patch_in * h + 4 * h + inter * p_in + p_out * p_in
    else:
        n += h + (patches + 1) * h + patch_in * h + h + 2 * h
    t.add("vision", n)
    t.add("other", arch.dim("image_newline"))  # LLaVA-NeXT's learned row separator
    if v.projector == "mlp2":
        th, bias = v.projector_dims[0], v.projector_dims[1]
        t.add("projector", h * th + th * th + 2 * th * bias)
    elif v.projector == "gemma3":
        t.add("projector", h * v.projector_dims[0] + h)
    elif v.projector == "llama4":
        out_dim, th, bias = v.projector_dims[2], v.projector_dims[3], v.projector_dims[4]
        t.add("projector", out_dim * th + th * bias)


def _mimo_mtp(arch: Architecture, t: _Tally) -> None:
    """MiMo keeps its MTP layers inside the model class: a Qwen2 block + 2h→h input projection + 5 norms."""
    h = arch.hidden_size
    for _ in range(arch.num_mtp_layers):
        a, _mm = _attention(arch, arch.num_kv_heads)
        m, _mm2 = _mlp(h, arch.intermediate_size, arch.gated_ffn, arch.mlp_bias)
        t.add("other", a + m + 2 * h * h + 5 * h)


# mixer -> (the component its parameters count under, the function counting them: (params, matmul params));
# attention with KV heads (FULL/SLIDING/CHUNKED) takes the layer's own KV head count and stays in _layer
_MIXER_COUNTS: dict[Mixer, tuple[str, Callable[[Architecture], tuple[int, int]]]] = {
    Mixer.MLA: ("attention", _mla),
    Mixer.MAMBA: ("mamba", _mamba1),
    Mixer.MAMBA2: ("mamba", _mamba2),
    Mixer.LINEAR: ("linear_attention", _gated_deltanet),
    Mixer.CONV: ("conv", _short_conv),
}
