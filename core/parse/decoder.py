"""Decoder-only language models: the default builder and its table of per-family hooks.

Adding a decoder family is one hook (a function ``(reader, dims) -> None`` in
``decoder_families.py`` or ``state_space.py``) and one row in :data:`_DECODER_HOOKS`.
"""

from __future__ import annotations

from collections.abc import Callable

from lmscope.core.architecture import (
    FFN,
    Mixer,
    MoESpec,
)
from lmscope.core.errors import ConfigError
from lmscope.core.parse.decoder_families import (
    _apertus,
    _arcee,
    _baichuan,
    _bloom,
    _chatglm,
    _cohere,
    _cohere2,
    _decilm,
    _deepseek,
    _ernie45,
    _exaone4,
    _falcon,
    _gemma,
    _gemma2,
    _gemma3_text,
    _glm,
    _glm4,
    _glm4_moe,
    _gpt2,
    _gpt_bigcode,
    _gpt_neo,
    _gpt_neox,
    _gpt_oss,
    _gptj,
    _granitemoe,
    _llama4_text,
    _mimo,
    _mixtral,
    _mpt,
    _olmo,
    _olmo2,
    _olmoe,
    _opt,
    _per_layer_kv,
    _persimmon,
    _phi,
    _phi3small,
    _phimoe,
    _qwen2,
    _qwen2_moe,
    _qwen2_vl,
    _qwen3,
    _qwen3_moe,
    _qwen_v1,
    _stablelm,
    _starcoder2,
)
from lmscope.core.parse.dims import _core_dims, _finish, _layer_types, _mixers_from_types, _rope, _sliding
from lmscope.core.parse.reader import MAX_EXPERTS, MAX_INTERMEDIATE, MAX_LAYERS, ConfigUnsupported, _Reader, _show
from lmscope.core.parse.state_space import (
    _bamba,
    _granitemoehybrid,
    _jamba,
    _lfm2,
    _nemotron_h,
    _qwen3_next,
    _refuse_unknown_state_space,
)


def _decoder(r: _Reader, model_type: str) -> dict:
    d = _core_dims(r, model_type)
    n = d["num_layers"]
    hidden = d["hidden_size"]
    intermediate = r.opt_int("intermediate_size", "ffn_hidden_size", "n_inner", "d_ff", hi=MAX_INTERMEDIATE)
    d["intermediate_size"] = intermediate if intermediate is not None else 4 * hidden
    d["rope"] = _rope(r)
    d["attention_bias"] = r.bool("attention_bias", "add_qkv_bias", "bias", default=False)
    if r.has("attention_out_bias"):
        d["attention_out_bias"] = r.bool("attention_out_bias")
    d["mlp_bias"] = r.bool("mlp_bias", default=False)
    notes: list[str] = []
    window = _sliding(r)
    types = _layer_types(r, n)
    mixers = _mixers_from_types(r, types) if types else [Mixer.FULL] * n
    if types is None and window is not None:
        if r.has("use_sliding_window"):
            if r.bool("use_sliding_window"):
                start = r.int("max_window_layers", default=0, lo=0, hi=MAX_LAYERS)
                mixers = [Mixer.SLIDING if i >= start else Mixer.FULL for i in range(n)]
        elif window < (d["max_position_embeddings"] or 1 << 62):
            mixers = [Mixer.SLIDING] * n
    if window is not None and any(m is Mixer.SLIDING for m in mixers):
        d["sliding_window"] = window
    else:
        window = None
    ffns = [FFN.DENSE] * n
    d["_mixers"], d["_ffns"], d["_window"], d["_notes"] = mixers, ffns, window, notes
    hook = _DECODER_HOOKS.get(model_type)
    if hook is not None:
        hook(r, d)
    else:
        _refuse_unknown_state_space(r, model_type)
        if d.get("moe") is None:
            _generic_moe(r, d)
    _mlp_layer_types(r, d)
    return _finish(d)


_MLP_LAYER_TYPE = {"dense": FFN.DENSE, "sparse": FFN.MOE, "moe": FFN.MOE}


def _mlp_layer_types(r: _Reader, d: dict) -> None:
    """``mlp_layer_types`` ("dense"/"sparse" per layer), when a config spells it out, is what the class builds.

    It overrides ``first_k_dense_replace`` and friends (transformers derives it from them only when absent).
    """
    types = r.list("mlp_layer_types")
    if types is None or d.get("moe") is None or "_per_layer" in d:
        return
    n = d["num_layers"]
    if len(types) != n or not all(isinstance(t, str) for t in types):
        raise ConfigError(f"config.json: field '{r.where}mlp_layer_types' must hold {n} strings")
    unknown = [t for t in types if t not in _MLP_LAYER_TYPE]
    if unknown:
        raise ConfigUnsupported(f"config.json: field '{r.where}mlp_layer_types' has an unknown entry {_show(unknown[0])}")
    d["_ffns"] = [_MLP_LAYER_TYPE[t] for t in types]


def _generic_moe(r: _Reader, d: dict) -> None:
    """An unknown family that names experts: assume every layer is MoE (Mixtral-style), and say so."""
    experts = r.opt_int("num_local_experts", "num_experts", "n_routed_experts", "moe_num_experts", hi=MAX_EXPERTS)
    if not experts or experts < 2:
        return
    shared = r.int("n_shared_experts", "num_shared_experts", "moe_num_shared_experts", default=0, lo=0, hi=MAX_EXPERTS)
    d["moe"] = MoESpec(
        num_experts=experts,
        experts_per_token=r.int("num_experts_per_tok", "moe_k", "experts_per_token", "moe_topk", hi=MAX_EXPERTS),
        expert_intermediate_size=r.int("moe_intermediate_size", default=d["intermediate_size"], hi=MAX_INTERMEDIATE),
        num_shared_experts=shared,
    )
    d["_ffns"] = [FFN.MOE] * d["num_layers"]
    d["_notes"].append("unknown MoE family: every layer assumed MoE with routed experts only in the parameter count")


_DECODER_HOOKS: dict[str, Callable[[_Reader, dict], None]] = {
    "qwen": _qwen_v1,
    "phi3small": _phi3small,
    "deci": _per_layer_kv,
    "qwen2": _qwen2,
    "qwen2_moe": _qwen2_moe,
    "qwen3": _qwen3,
    "qwen3_moe": _qwen3_moe,
    "qwen3_next": _qwen3_next,
    "mixtral": _mixtral,
    "gpt_oss": _gpt_oss,
    "deepseek_v2": _deepseek,
    "deepseek_v3": _deepseek,
    "deepseek_v32": _deepseek,
    "kimi_k2": _deepseek,
    "gemma": _gemma,
    "gemma2": _gemma2,
    "gemma3_text": _gemma3_text,
    "phi": _phi,
    "falcon": _falcon,
    "gpt2": _gpt2,
    "llama4_text": _llama4_text,
    "lfm2": _lfm2,
    "nemotron_h": _nemotron_h,
    "chatglm": _chatglm,
    "baichuan": _baichuan,
    "mimo": _mimo,
    "nemotron-nas": _decilm,
    "opt": _opt,
    "gpt_neox": _gpt_neox,
    "gptj": _gptj,
    "gpt_neo": _gpt_neo,
    "gpt_bigcode": _gpt_bigcode,
    "bloom": _bloom,
    "mpt": _mpt,
    "starcoder2": _starcoder2,
    "persimmon": _persimmon,
    "stablelm": _stablelm,
    "cohere": _cohere,
    "cohere2": _cohere2,
    "olmo": _olmo,
    "olmo2": _olmo2,
    "olmo3": _olmo2,
    "olmoe": _olmoe,
    "glm": _glm,
    "glm4": _glm4,
    "glm4_moe": _glm4_moe,
    "ernie4_5": _ernie45,
    "ernie4_5_moe": _ernie45,
    "exaone4": _exaone4,
    "phimoe": _phimoe,
    "granitemoe": _granitemoe,
    "granitemoeshared": _granitemoe,
    "jamba": _jamba,
    "bamba": _bamba,
    "granitemoehybrid": _granitemoehybrid,
    "arcee": _arcee,
    "qwen2_vl": _qwen2_vl,
    "qwen2_5_vl": _qwen2_vl,
    "apertus": _apertus,
}
