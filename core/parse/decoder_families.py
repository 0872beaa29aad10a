"""Per-family hooks of decoder-only transformers (attention, MoE and bias quirks by model_type).

Each hook adjusts the dict the default :func:`~lmscope.core.parse.decoder._decoder` builder read;
it is registered by one row in :data:`~lmscope.core.parse.decoder._DECODER_HOOKS`.
"""

from __future__ import annotations

from dataclasses import replace

from lmscope.core.architecture import (
    FFN,
    LayerSpec,
    Mixer,
    MLASpec,
    MoESpec,
    Objective,
    RopeSpec,
)
from lmscope.core.errors import ConfigError
from lmscope.core.parse.dims import _index_list, _moe_layout
from lmscope.core.parse.reader import (
    MAX_EXPERTS,
    MAX_HEADS,
    MAX_HIDDEN,
    MAX_INTERMEDIATE,
    MAX_LAYERS,
    MAX_POSITIONS,
    ConfigUnsupported,
    _check_int,
    _Reader,
)


def _qwen2(r: _Reader, d: dict) -> None:
    d["attention_bias"] = r.bool("qkv_bias", default=True)
    d["attention_out_bias"] = False


def _qwen2_moe(r: _Reader, d: dict) -> None:
    _qwen2(r, d)
    _qwen_moe(r, d)


def _qwen_moe(r: _Reader, d: dict) -> None:
    shared = r.opt_int("shared_expert_intermediate_size", hi=MAX_INTERMEDIATE)
    d["moe"] = MoESpec(
        num_experts=r.int("num_experts", "num_local_experts", hi=MAX_EXPERTS),
        experts_per_token=r.int("num_experts_per_tok", hi=MAX_EXPERTS),
        expert_intermediate_size=r.int("moe_intermediate_size", hi=MAX_INTERMEDIATE),
        num_shared_experts=1 if shared else 0,
        shared_expert_intermediate_size=shared,
    )
    if shared:
        d["extra_dims"] = d.get("extra_dims", ()) + (("shared_expert_gate", 1),)
    _moe_layout(r, d)


def _qwen3(r: _Reader, d: dict) -> None:
    d["qk_norm"] = True


def _qwen3_moe(r: _Reader, d: dict) -> None:
    d["qk_norm"] = True
    _qwen_moe(r, d)


def _mixtral(r: _Reader, d: dict) -> None:
    d["moe"] = MoESpec(
        num_experts=r.int("num_local_experts", "num_experts", hi=MAX_EXPERTS),
        experts_per_token=r.int("num_experts_per_tok", hi=MAX_EXPERTS),
        expert_intermediate_size=d["intermediate_size"],
    )
    d["_ffns"] = [FFN.MOE] * d["num_layers"]


def _gpt_oss(r: _Reader, d: dict) -> None:
    d["attention_bias"] = True
    d["attention_sinks"] = True
    d["moe"] = MoESpec(
        num_experts=r.int("num_local_experts", "num_experts", hi=MAX_EXPERTS),
        experts_per_token=r.int("num_experts_per_tok", "experts_per_token", hi=MAX_EXPERTS),
        expert_intermediate_size=d["intermediate_size"],
        router_bias=True,
        expert_bias=True,
    )
    d["_ffns"] = [FFN.MOE] * d["num_layers"]


def _deepseek(r: _Reader, d: dict) -> None:
    n = d["num_layers"]
    q_lora = r.opt_int("q_lora_rank", hi=MAX_HIDDEN)
    d["mla"] = MLASpec(
        q_lora_rank=q_lora,
        kv_lora_rank=r.int("kv_lora_rank"),
        qk_nope_head_dim=r.int("qk_nope_head_dim", hi=1 << 16),
        qk_rope_head_dim=r.int("qk_rope_head_dim", hi=1 << 16),
        v_head_dim=r.int("v_head_dim", hi=1 << 16),
    )
    d["head_dim"] = d["mla"].qk_nope_head_dim + d["mla"].qk_rope_head_dim
    d["_mixers"] = [Mixer.MLA] * n
    experts = r.opt_int("n_routed_experts", hi=MAX_EXPERTS)
    if experts:
        n_shared = r.int("n_shared_experts", default=0, lo=0, hi=MAX_EXPERTS)
        d["moe"] = MoESpec(
            num_experts=experts,
            experts_per_token=r.int("num_experts_per_tok", hi=MAX_EXPERTS),
            expert_intermediate_size=r.int("moe_intermediate_size", hi=MAX_INTERMEDIATE),
            num_shared_experts=n_shared,
        )
        first_dense = r.int("first_k_dense_replace", default=0, lo=0, hi=MAX_LAYERS)
        freq = r.int("moe_layer_freq", default=1, hi=MAX_LAYERS)
        d["_ffns"] = [FFN.MOE if (i >= first_dense and i % freq == 0) else FFN.DENSE for i in range(n)]
    d["num_mtp_layers"] = r.int("num_nextn_predict_layers", default=0, lo=0, hi=64)
    if d["num_mtp_layers"]:
        d["_notes"].append(f"{d['num_mtp_layers']} multi-token-prediction layer(s) ship in the checkpoint but are not in the class")
    if d.get("mlp_bias") and r.raw("model_type") == "deepseek_v2":  # DeepseekV2MLP follows config.mlp_bias (V3 never)
        d["extra_dims"] = (*d.get("extra_dims", ()), ("shared_expert_bias", 1))
    if r.has("index_n_heads"):
        d["extra_dims"] = (*d.get("extra_dims", ()), ("index_n_heads", r.int("index_n_heads", hi=MAX_HEADS)),
                           ("index_head_dim", r.int("index_head_dim", hi=1 << 16)),
                           ("index_topk", r.int("index_topk", default=2048, hi=MAX_POSITIONS)))
        d["_notes"].append("DeepSeek sparse attention: a lightning indexer selects the top-k tokens per query")


def _gemma(r: _Reader, d: dict) -> None:
    d["tied_embeddings"] = r.bool("tie_word_embeddings", default=True)


def _gemma2(r: _Reader, d: dict) -> None:
    _gemma(r, d)
    d["norms_per_layer"] = 4
    n = d["num_layers"]
    if r.raw("layer_types") is None:
        d["_mixers"] = [Mixer.SLIDING if (i + 1) % 2 else Mixer.FULL for i in range(n)]
        d["_window"] = d["sliding_window"] = r.int("sliding_window", default=4096, hi=MAX_POSITIONS)


def _gemma3_text(r: _Reader, d: dict) -> None:
    _gemma(r, d)
    d["norms_per_layer"] = 4
    d["qk_norm"] = True
    n = d["num_layers"]
    if r.raw("layer_types") is None:
        pattern = r.int("sliding_window_pattern", "_sliding_window_pattern", default=6, hi=MAX_LAYERS)
        d["_mixers"] = [Mixer.FULL if (i + 1) % pattern == 0 else Mixer.SLIDING for i in range(n)]
        d["_window"] = d["sliding_window"] = r.int("sliding_window", default=4096, hi=MAX_POSITIONS)


def _phi(r: _Reader, d: dict) -> None:
    d["norm"], d["norm_bias"], d["norms_per_layer"] = "layernorm", True, 1
    d["attention_bias"] = d["mlp_bias"] = d["lm_head_bias"] = True
    d["gated_ffn"] = False
    d["activation"] = r.str("hidden_act", default="gelu_new")
    if r.bool("qk_layernorm"):
        d["extra_dims"] = (("qk_layernorm", 1),)


def _falcon(r: _Reader, d: dict) -> None:
    d["norm"], d["norm_bias"], d["gated_ffn"] = "layernorm", True, False
    d["activation"] = "gelu"
    d["tied_embeddings"] = r.bool("tie_word_embeddings", default=True)
    new_arch = r.bool("new_decoder_architecture")
    if new_arch:
        d["num_kv_heads"] = r.int("num_kv_heads", "n_head_kv", default=d["num_heads"], hi=MAX_HEADS)
        d["norms_per_layer"] = 2 if r.int("num_ln_in_parallel_attn", default=2, hi=2) == 2 else 1
    else:
        d["num_kv_heads"] = 1 if r.bool("multi_query", default=True) else d["num_heads"]
        d["norms_per_layer"] = 1 if r.bool("parallel_attn", default=True) else 2
    d["intermediate_size"] = r.int("ffn_hidden_size", default=4 * d["hidden_size"], hi=MAX_INTERMEDIATE)
    d["attention_bias"] = d["mlp_bias"] = r.bool("bias", default=False)
    if r.bool("alibi"):
        d["position_encoding"], d["rope"] = "alibi", None


def _gpt2(r: _Reader, d: dict) -> None:
    d["norm"], d["norm_bias"], d["gated_ffn"] = "layernorm", True, False
    d["attention_bias"] = d["mlp_bias"] = True
    d["position_encoding"], d["rope"] = "learned", None
    d["position_embeddings"] = d["max_position_embeddings"] or 1024
    d["activation"] = r.str("activation_function", default="gelu_new")


def _llama4_text(r: _Reader, d: dict) -> None:
    n = d["num_layers"]
    step = r.int("interleave_moe_layer_step", default=1, hi=MAX_LAYERS)
    moe_layers = r.list("moe_layers")
    if moe_layers is not None:
        chosen = _index_list(r, "moe_layers", n)
    else:
        chosen = set(range(step - 1, n, step))
    d["_ffns"] = [FFN.MOE if i in chosen else FFN.DENSE for i in range(n)]
    d["moe"] = MoESpec(
        num_experts=r.int("num_local_experts", hi=MAX_EXPERTS),
        experts_per_token=r.int("num_experts_per_tok", hi=MAX_EXPERTS),
        expert_intermediate_size=d["intermediate_size"],
        num_shared_experts=1,
    )
    d["intermediate_size"] = r.int("intermediate_size_mlp", default=d["intermediate_size"], hi=MAX_INTERMEDIATE)
    chunk = r.opt_int("attention_chunk_size", hi=MAX_POSITIONS)
    no_rope = r.list("no_rope_layers")
    if no_rope is not None and len(no_rope) != n:
        raise ConfigError(f"config.json: field '{r.where}no_rope_layers' has {len(no_rope)} entries for {n} layers")
    uses_rope = [bool(x) for x in no_rope] if no_rope is not None else [(i + 1) % 4 != 0 for i in range(n)]
    if chunk:
        d["_mixers"] = [Mixer.CHUNKED if uses_rope[i] else Mixer.FULL for i in range(n)]
        d["_window"] = chunk
        d["_notes"].append(f"chunked attention ({chunk} tokens) on RoPE layers; every 4th layer is global without RoPE")
    if r.bool("use_qk_norm"):
        d["_notes"].append("QK L2-norm without learned weights")


def _chatglm(r: _Reader, d: dict) -> None:
    d["attention_bias"] = r.bool("add_qkv_bias")
    d["attention_out_bias"] = False
    d["mlp_bias"] = r.bool("add_bias_linear")
    d["intermediate_size"] = r.int("ffn_hidden_size", hi=MAX_INTERMEDIATE)
    d["norm"] = "rmsnorm" if r.bool("rmsnorm", default=True) else "layernorm"
    d["final_norm"] = r.bool("post_layer_norm", default=True)
    d["tied_embeddings"] = False
    d["lm_head"] = True  # modeling_chatglm.py: even ChatGLMModel holds output_layer
    d["rope"] = RopeSpec(theta=10000.0 * (r.float("rope_ratio", default=1.0) or 1.0), partial_rotary_factor=0.5)


def _baichuan(r: _Reader, d: dict) -> None:
    """Baichuan (remote code): the 13B models position by ALiBi, the 7B ones by RoPE. The config names no
    scheme; vLLM tells them apart by width (``BaichuanForCausalLM`` with hidden_size 4096 is Baichuan2-7B,
    RoPE; any other width ALiBi; ``BaiChuanForCausalLM`` is the first Baichuan-7B, RoPE)."""
    archs = r.raw("architectures") or []
    cls = archs[0] if isinstance(archs, list) and archs and isinstance(archs[0], str) else None
    if cls == "BaichuanForCausalLM" and d["hidden_size"] != 4096:
        d["position_encoding"], d["rope"] = "alibi", None
    elif d.get("rope") is not None and d["rope"].theta is None:
        d["rope"] = replace(d["rope"], theta=10000.0)  # modeling_baichuan.py: RotaryEmbedding(base=10000)


def _glm4_moe(r: _Reader, d: dict) -> None:
    """GLM-4.5/4.6 (``glm4_moe``): DeepSeek-V3's MoE layout (routed + shared experts, the first
    ``first_k_dense_replace`` layers dense) on grouped-query attention with optional QK-norm and partial
    rotary; the MTP layers ship in the checkpoint, not in the class."""
    n = d["num_layers"]
    d["moe"] = MoESpec(
        num_experts=r.int("n_routed_experts", hi=MAX_EXPERTS),
        experts_per_token=r.int("num_experts_per_tok", hi=MAX_EXPERTS),
        expert_intermediate_size=r.int("moe_intermediate_size", hi=MAX_INTERMEDIATE),
        num_shared_experts=r.int("n_shared_experts", default=0, lo=0, hi=MAX_EXPERTS),
    )
    first_dense = r.int("first_k_dense_replace", default=0, lo=0, hi=MAX_LAYERS)
    d["_ffns"] = [FFN.DENSE if i < first_dense else FFN.MOE for i in range(n)]
    d["qk_norm"] = r.bool("use_qk_norm")
    d["attention_out_bias"] = False  # attention_bias gives q/k/v biases; o_proj never has one
    d["num_mtp_layers"] = r.int("num_nextn_predict_layers", default=0, lo=0, hi=64)
    if d["num_mtp_layers"]:
        d["_notes"].append(f"{d['num_mtp_layers']} multi-token-prediction layer(s) ship in the checkpoint but are not in the class")


def _ernie45(r: _Reader, d: dict) -> None:
    """ERNIE 4.5 (dense and MoE): ``use_bias`` puts a bias on q/k/v/o, every MLP (shared experts included) and,
    in the MoE class, the LM head. MoE layers: ``(i + 1) % moe_layer_interval == 0`` between ``moe_layer_start_index`` and
    ``moe_layer_end_index``; the router keeps a learned score-correction bias per expert (Ernie4_5_MoeStatics)."""
    bias = r.bool("use_bias")
    d["attention_bias"] = d["mlp_bias"] = bias
    d["attention_out_bias"] = bias
    if not r.has("moe_num_experts"):
        return
    d["lm_head_bias"] = bias  # the MoE class's lm_head follows use_bias (the dense class's has none)
    n = d["num_layers"]
    d["moe"] = MoESpec(
        num_experts=r.int("moe_num_experts", hi=MAX_EXPERTS),
        experts_per_token=r.int("moe_k", hi=MAX_EXPERTS),
        expert_intermediate_size=r.int("moe_intermediate_size", hi=MAX_INTERMEDIATE),
        num_shared_experts=r.int("moe_num_shared_experts", default=0, lo=0, hi=MAX_EXPERTS),
        router_bias=True,
    )
    start = r.int("moe_layer_start_index", default=0, lo=0, hi=1 << 20)
    end = r.int("moe_layer_end_index", default=n - 1, lo=-1, hi=1 << 20)
    step = r.int("moe_layer_interval", default=1, hi=MAX_LAYERS)
    d["_ffns"] = [FFN.MOE if (i + 1) % step == 0 and start <= i <= end else FFN.DENSE for i in range(n)]
    if bias:
        d["extra_dims"] = (*d.get("extra_dims", ()), ("shared_expert_bias", 1))


def _mimo(r: _Reader, d: dict) -> None:
    d["attention_out_bias"] = False  # Qwen2 layout: q/k/v biases only
    d["num_mtp_layers"] = r.int("num_nextn_predict_layers", default=0, lo=0, hi=64)
    if d["num_mtp_layers"]:
        d["_notes"].append(f"{d['num_mtp_layers']} multi-token-prediction layer(s) are part of the model class")
        d["extra_dims"] = (("mtp_in_class", 1),)


def _decilm(r: _Reader, d: dict) -> None:
    n = d["num_layers"]
    blocks = r.list("block_configs")
    if blocks is None or len(blocks) != n:
        raise ConfigError(f"config.json: field 'block_configs' must list {n} layers")
    heads, hidden = d["num_heads"], d["hidden_size"]
    specs = []
    for i, block in enumerate(blocks):
        b = _Reader(block, f"block_configs[{i}].")
        att = b.sub("attention") or _Reader({}, f"block_configs[{i}].attention.")
        ffn = b.sub("ffn") or _Reader({}, f"block_configs[{i}].ffn.")
        linear_mixer = att.bool("replace_with_linear")
        if att.bool("no_op") or linear_mixer:
            mixer, kv = Mixer.NONE, None
        else:
            group = att.int("n_heads_in_group", hi=MAX_HEADS)
            if heads % group:
                raise ConfigError(f"config.json: field 'block_configs[{i}].attention.n_heads_in_group' does not divide the heads")
            kv = heads // group
            window = att.opt_int("window_length", hi=MAX_POSITIONS)
            mixer = Mixer.SLIDING if window else Mixer.FULL
        linear_ffn = ffn.bool("replace_with_linear")
        if ffn.bool("no_op") or linear_ffn:
            kind, inter = FFN.NONE, None
        else:
            mult = ffn.float("ffn_mult", lo=0.0, hi=1e3)
            if mult is None:
                raise ConfigUnsupported(f"config.json: missing field 'block_configs[{i}].ffn.ffn_mult'")
            inter = _find_multiple(int(2 * mult * hidden / 3), 256)
            kind = FFN.DENSE
        specs.append(LayerSpec(mixer, kind, window if mixer is Mixer.SLIDING else None, inter, kv,
                               linear_mixer=linear_mixer, linear_ffn=linear_ffn))
    full_kv = [s.num_kv_heads for s in specs if s.num_kv_heads]
    d["num_kv_heads"] = max(full_kv) if full_kv else heads
    inters = [s.intermediate_size for s in specs if s.intermediate_size]
    d["intermediate_size"] = max(inters) if inters else 0
    d["_per_layer"] = specs
    d["_notes"].append("per-layer block_configs (Nemotron-NAS): attention and FFN sizes differ by layer")


def _find_multiple(n: int, k: int) -> int:
    return n if n % k == 0 else n + k - n % k


def _classic(d: dict, *, norm_bias: bool = True, attn_bias: bool = True, out_bias: bool | None = None,
             mlp_bias: bool = True, norms: int = 2, gated: bool = False) -> None:
    """The GPT-2-era layout: LayerNorm, non-gated MLP, biases."""
    d["norm"], d["norm_bias"], d["norms_per_layer"], d["gated_ffn"] = "layernorm", norm_bias, norms, gated
    d["attention_bias"], d["attention_out_bias"], d["mlp_bias"] = attn_bias, out_bias, mlp_bias


def _opt(r: _Reader, d: dict) -> None:
    bias = r.bool("enable_bias", default=True)
    _classic(d, norm_bias=r.bool("layer_norm_elementwise_affine", default=True), attn_bias=bias, mlp_bias=bias)
    d["intermediate_size"] = r.int("ffn_dim", hi=MAX_INTERMEDIATE)
    d["position_encoding"], d["rope"] = "learned", None
    d["position_embeddings"] = (d["max_position_embeddings"] or 2048) + 2  # OPT offsets positions by 2
    d["final_norm"] = r.bool("do_layer_norm_before", default=True) and not r.bool("_remove_final_layer_norm")
    proj = r.int("word_embed_proj_dim", default=d["hidden_size"], hi=MAX_HIDDEN)
    if proj != d["hidden_size"]:
        d["extra_dims"] = (("word_embed_proj_dim", proj),)
        d["_notes"].append(f"embeddings of width {proj} projected to {d['hidden_size']}")
    d["activation"] = r.str("activation_function", default="relu")


def _gpt_neox(r: _Reader, d: dict) -> None:
    _classic(d, attn_bias=r.bool("attention_bias", default=True))
    d["rope"] = RopeSpec(theta=r.float("rotary_emb_base", "rope_theta", default=10000.0),
                         partial_rotary_factor=r.float("rotary_pct", "partial_rotary_factor", default=0.25, hi=1.0) or 0.25)


def _gptj(r: _Reader, d: dict) -> None:
    _classic(d, attn_bias=False, out_bias=False, norms=1)
    d["lm_head_bias"] = True
    d["activation"] = r.str("activation_function", default="gelu_new")


def _gpt_neo(r: _Reader, d: dict) -> None:
    _gpt2(r, d)
    d["attention_bias"], d["attention_out_bias"] = False, True
    window = r.int("window_size", default=256, hi=MAX_POSITIONS)
    n = d["num_layers"]
    kinds: list[str] = []
    for entry in r.list("attention_types") or [[["global", "local"], n // 2]]:
        if (not isinstance(entry, list) or len(entry) != 2 or not isinstance(entry[0], list)
                or not isinstance(entry[1], int) or isinstance(entry[1], bool) or not 0 <= entry[1] <= MAX_LAYERS):
            raise ConfigError("config.json: field 'attention_types' must hold [[kinds], repeat] pairs")
        kinds.extend([k for k in entry[0] if isinstance(k, str)] * entry[1])
        if len(kinds) > MAX_LAYERS:
            raise ConfigError("config.json: field 'attention_types' describes too many layers")
    if len(kinds) == n:
        d["_mixers"] = [Mixer.SLIDING if k == "local" else Mixer.FULL for k in kinds]
        d["_window"] = d["sliding_window"] = window


def _gpt_bigcode(r: _Reader, d: dict) -> None:
    _gpt2(r, d)
    d["num_kv_heads"] = 1 if r.bool("multi_query", default=True) else d["num_heads"]


def _bloom(r: _Reader, d: dict) -> None:
    _classic(d)
    d["embedding_norm"] = True
    d["position_encoding"], d["rope"] = "alibi", None


def _mpt(r: _Reader, d: dict) -> None:
    bias = not r.bool("no_bias", default=True)
    _classic(d, norm_bias=bias, attn_bias=bias, mlp_bias=bias)
    d["intermediate_size"] = r.int("expansion_ratio", default=4, hi=1024) * d["hidden_size"]
    d["position_encoding"], d["rope"] = "alibi", None
    d["activation"] = "gelu"


def _starcoder2(r: _Reader, d: dict) -> None:
    bias = r.bool("use_bias", default=True)
    _classic(d, attn_bias=bias, mlp_bias=bias)


def _persimmon(r: _Reader, d: dict) -> None:
    _classic(d)
    if r.bool("qk_layernorm", default=True):
        d["extra_dims"] = (("qk_layernorm", 1),)


def _stablelm(r: _Reader, d: dict) -> None:
    _classic(d, attn_bias=r.bool("use_qkv_bias"), out_bias=False, mlp_bias=False, gated=True,
             norms=1 if r.bool("use_parallel_residual") else 2)
    if r.bool("qk_layernorm"):
        d["extra_dims"] = (("qk_layernorm_per_head", 1),)


def _cohere(r: _Reader, d: dict) -> None:
    d["norm"], d["norm_bias"], d["norms_per_layer"] = "layernorm", False, 1
    d["tied_embeddings"] = r.bool("tie_word_embeddings", default=True)
    if r.bool("use_qk_norm"):
        d["extra_dims"] = (("qk_norm_per_head_width", 1),)


def _cohere2(r: _Reader, d: dict) -> None:
    _cohere(r, d)
    n = d["num_layers"]
    if r.raw("layer_types") is None and r.has("sliding_window_pattern"):
        pattern = r.int("sliding_window_pattern", hi=MAX_LAYERS)
        d["_mixers"] = [Mixer.FULL if (i + 1) % pattern == 0 else Mixer.SLIDING for i in range(n)]
        d["_window"] = d["sliding_window"] = r.int("sliding_window", default=4096, hi=MAX_POSITIONS)


def _olmo(r: _Reader, d: dict) -> None:
    d["norm"], d["norms_per_layer"], d["final_norm"] = "layernorm", 0, False  # non-parametric LayerNorm
    d["_notes"].append("OLMo's LayerNorm has no learned parameters")


def _olmo2(r: _Reader, d: dict) -> None:
    d["extra_dims"] = (("qk_norm_full_width", 1),)


def _olmoe(r: _Reader, d: dict) -> None:
    _olmo2(r, d)
    d["moe"] = MoESpec(
        num_experts=r.int("num_experts", hi=MAX_EXPERTS),
        experts_per_token=r.int("num_experts_per_tok", hi=MAX_EXPERTS),
        expert_intermediate_size=d["intermediate_size"],
    )
    d["_ffns"] = [FFN.MOE] * d["num_layers"]


def _glm(r: _Reader, d: dict) -> None:
    d["attention_out_bias"] = False


def _glm4(r: _Reader, d: dict) -> None:
    d["attention_out_bias"] = False
    d["norms_per_layer"] = 4


def _qwen2_vl(r: _Reader, d: dict) -> None:
    _qwen2(r, d)
    d["objective"] = Objective.VLM
    d["_notes"].append("vision tower not counted by the analytic formulas (the exact count includes it)")


def _arcee(r: _Reader, d: dict) -> None:
    d["gated_ffn"] = False


def _apertus(r: _Reader, d: dict) -> None:
    d["gated_ffn"], d["qk_norm"] = False, True
    if r.str("hidden_act", default="xielu") == "xielu":
        d["extra_dims"] = (("activation_params", 2),)  # xIELU's learned alpha_p, alpha_n


def _exaone4(r: _Reader, d: dict) -> None:
    d["qk_norm"] = True


def _phimoe(r: _Reader, d: dict) -> None:
    d["norm"], d["norm_bias"] = "layernorm", True
    d["lm_head_bias"] = r.bool("lm_head_bias")
    _mixtral(r, d)


def _granitemoe(r: _Reader, d: dict) -> None:
    _mixtral(r, d)
    shared = r.int("shared_intermediate_size", default=0, lo=0, hi=MAX_INTERMEDIATE)
    if shared:
        d["moe"] = MoESpec(d["moe"].num_experts, d["moe"].experts_per_token, d["moe"].expert_intermediate_size,
                           num_shared_experts=1, shared_expert_intermediate_size=shared)


def _qwen_v1(r: _Reader, d: dict) -> None:
    """Qwen v1 (remote code ``QWenLMHeadModel``): ``intermediate_size`` counts both SwiGLU input
    projections, each of which is half of it (modeling_qwen.py: ``ff_dim_in = intermediate_size // 2``);
    ``c_attn`` always has a bias, ``c_proj`` and the MLP follow ``no_bias``."""
    full = r.int("intermediate_size", "ffn_hidden_size", hi=MAX_INTERMEDIATE)
    if full % 2:
        raise ConfigError(f"config.json: field 'intermediate_size' ({full}) must be even for QWenLMHeadModel")
    d["intermediate_size"] = full // 2
    no_bias = r.bool("no_bias", default=True)
    d["attention_bias"], d["attention_out_bias"], d["mlp_bias"] = True, not no_bias, not no_bias
    d["rope"] = RopeSpec(theta=r.float("rotary_emb_base", default=10000.0, hi=1e12),
                         partial_rotary_factor=r.float("rotary_pct", default=1.0, hi=1.0) or 1.0)


def _phi3small(r: _Reader, d: dict) -> None:
    """Phi-3-small (remote code): LayerNorm with bias, fused QKV and dense with biases, GeGLU ``up_proj``
    of width 2·``ff_intermediate_size`` with bias; every other layer attends block-sparsely."""
    d["norm"], d["norm_bias"] = "layernorm", True
    d["attention_bias"] = d["mlp_bias"] = True
    d["gated_ffn"], d["activation"] = True, "gegelu"
    d["intermediate_size"] = r.int("ff_intermediate_size", hi=MAX_INTERMEDIATE)
    d["tied_embeddings"] = r.bool("tie_word_embeddings", default=True)
    d["rope"] = RopeSpec(theta=r.float("rope_embedding_base", default=10000.0, hi=1e12))
    every = r.int("dense_attention_every_n_layers", default=2, hi=MAX_LAYERS)
    d["_notes"].append(f"block-sparse attention on all but every {every}th layer (each still caches its keys and values)")


def _per_layer_kv(r: _Reader, d: dict) -> None:
    """DeciLM-7B (remote code ``deci``): ``num_key_value_heads_per_layer`` gives each layer its own KV heads."""
    n = d["num_layers"]
    per_layer = r.list("num_key_value_heads_per_layer")
    if per_layer is None:
        return
    if len(per_layer) != n:
        raise ConfigError(f"config.json: field 'num_key_value_heads_per_layer' has {len(per_layer)} entries for {n} layers")
    kvs = [_check_int(f"num_key_value_heads_per_layer[{i}]", v, 1, MAX_HEADS) for i, v in enumerate(per_layer)]
    if any(d["num_heads"] % kv for kv in kvs):
        raise ConfigError("config.json: field 'num_key_value_heads_per_layer' holds a count that does not divide the heads")
    d["num_kv_heads"] = max(kvs)
    d["_per_layer"] = [LayerSpec(m, f, d["_window"] if m is Mixer.SLIDING else None, None, kv)
                       for m, f, kv in zip(d["_mixers"], d["_ffns"], kvs, strict=True)]
    d["_notes"].append("per-layer KV heads (num_key_value_heads_per_layer)")
