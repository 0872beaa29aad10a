"""The dimensions every family shares: core sizes, RoPE, the per-layer mixer map, MoE layout and the final checks.

Why apart: each builder (decoder, state-space, encoder, vision) starts from the same reading of
``hidden_size``/heads/positions and ends in :func:`_finish`, so a fix to a shared field lands once.
"""

from __future__ import annotations

from lmscope.core.architecture import (
    FFN,
    LayerSpec,
    Mixer,
    RopeSpec,
)
from lmscope.core.errors import ConfigError
from lmscope.core.parse.reader import (
    _MISSING,
    _TIE_DEFAULT_TRUE,
    MAX_HEADS,
    MAX_LAYERS,
    MAX_POSITIONS,
    MAX_VOCAB,
    ConfigUnsupported,
    _Reader,
    _show,
)


def _rope(r: _Reader) -> RopeSpec | None:
    theta = r.float("rope_theta", "rotary_emb_base", "rope_ratio", lo=0.0, hi=1e12)
    params = r.raw("rope_parameters")
    if theta is None and isinstance(params, dict) and isinstance(params.get("rope_theta"), (int, float)):
        theta = _Reader(params, "rope_parameters.").float("rope_theta", lo=0.0, hi=1e12)
    scaling = r.raw("rope_scaling")
    if scaling is not None and not isinstance(scaling, dict):
        raise ConfigError("config.json: field 'rope_scaling' must be a JSON object or null")
    s = _Reader(scaling or {}, "rope_scaling.")
    kind = s.str("rope_type", "type")
    if kind == "default":
        kind = None
    return RopeSpec(
        theta=theta,
        scaling_type=kind,
        scaling_factor=s.float("factor", lo=0.0, hi=1e6),
        original_max_position=s.opt_int("original_max_position_embeddings", hi=MAX_POSITIONS),
        partial_rotary_factor=r.float("partial_rotary_factor", default=1.0, lo=0.0, hi=1.0) or 1.0,
    )


def _core_dims(r: _Reader, model_type: str) -> dict:
    """hidden, layers, heads, kv heads, head_dim, vocab — checked for consistency."""
    hidden = r.int("hidden_size", "n_embd", "d_model", "dim", "model_dim")
    block_types = r.list("layers_block_type")  # transformers-5 form of Nemotron-H's pattern
    layers = r.int("num_hidden_layers", "n_layer", "num_layers", "n_layers", hi=MAX_LAYERS,
                   default=len(block_types) if block_types else _MISSING)
    heads = r.int("num_attention_heads", "n_head", "num_heads", "n_heads", hi=MAX_HEADS)
    if r.bool("multi_query"):
        kv = 1
    elif r.bool("multi_query_attention") and r.has("multi_query_group_num"):
        kv = r.int("multi_query_group_num", hi=MAX_HEADS)
    else:
        kv = r.opt_int("num_key_value_heads", "num_kv_heads", "n_head_kv", hi=MAX_HEADS) or heads
    head_dim = r.opt_int("head_dim", "kv_channels", "attention_head_dim", hi=1 << 16)
    if head_dim is None:
        if hidden % heads:
            raise ConfigError(
                f"config.json: field '{r.where}hidden_size' ({hidden}) is not divisible by num_attention_heads ({heads}) "
                "and no 'head_dim' is given"
            )
        head_dim = hidden // heads
    if heads % kv:
        raise ConfigError(
            f"config.json: field '{r.where}num_attention_heads' ({heads}) is not a multiple of num_key_value_heads ({kv})"
        )
    vocab = r.int("padded_vocab_size", "vocab_size", "n_vocab", hi=MAX_VOCAB)
    return {
        "hidden_size": hidden,
        "num_layers": layers,
        "num_heads": heads,
        "num_kv_heads": kv,
        "head_dim": head_dim,
        "vocab_size": vocab,
        "max_position_embeddings": r.opt_int(
            "max_position_embeddings", "n_positions", "seq_length", "max_seq_len", "max_sequence_length",
            "model_max_length",  # Baichuan-13B's config class: its only context field
            hi=MAX_POSITIONS,
        ),
        "activation": r.str("hidden_act", "hidden_activation", "activation_function", "mlp_hidden_act",
                            default="silu"),
        "tied_embeddings": r.bool("tie_word_embeddings", "tie_embedding", default=model_type in _TIE_DEFAULT_TRUE),
    }


def _layer_types(r: _Reader, n: int) -> list[str] | None:
    types = r.list("layer_types")
    if types is None:
        return None
    if len(types) != n:
        raise ConfigError(f"config.json: field '{r.where}layer_types' has {len(types)} entries for {n} layers")
    if not all(isinstance(t, str) for t in types):
        raise ConfigError(f"config.json: field '{r.where}layer_types' must hold strings")
    return types


_LAYER_TYPE_MIXER = {
    "full_attention": Mixer.FULL,
    "attention": Mixer.FULL,
    "global": Mixer.FULL,
    "sliding_attention": Mixer.SLIDING,
    "local": Mixer.SLIDING,
    "chunked_attention": Mixer.CHUNKED,
    "indexed_attention": Mixer.MLA,  # DeepSeek-V3.2 (the MLA hook sets every layer anyway)
    "linear_attention": Mixer.LINEAR,
    "conv": Mixer.CONV,
    "mamba": Mixer.MAMBA,
    "mamba2": Mixer.MAMBA2,
}


def _mixers_from_types(r: _Reader, types: list[str]) -> list[Mixer]:
    out = []
    for t in types:
        if t not in _LAYER_TYPE_MIXER:
            raise ConfigUnsupported(f"config.json: field '{r.where}layer_types' has an unknown entry {_show(t)}")
        out.append(_LAYER_TYPE_MIXER[t])
    return out


def _index_list(r: _Reader, name: str, n: int) -> set[int]:
    values = r.list(name) or []
    out = set()
    for v in values:
        if isinstance(v, bool) or not isinstance(v, int) or not 0 <= v < n:
            raise ConfigError(f"config.json: field '{r.where}{name}' holds an invalid layer index {_show(v)}")
        out.add(v)
    return out


def _layers(mixers: list[Mixer], ffns: list[FFN], window: int | None) -> tuple[LayerSpec, ...]:
    return tuple(
        LayerSpec(m, f, window if m in (Mixer.SLIDING, Mixer.CHUNKED) else None)
        for m, f in zip(mixers, ffns, strict=True)
    )


def _sliding(r: _Reader) -> int | None:
    w = r.raw("sliding_window")
    if w is None or w is False or w == 0:  # Qwen2-MoE's default config writes 0 for "none"
        return None
    return r.int("sliding_window", hi=MAX_POSITIONS)


def _finish(d: dict) -> dict:
    mixers, ffns, window, notes = d.pop("_mixers"), d.pop("_ffns"), d.pop("_window"), d.pop("_notes")
    per_layer = d.pop("_per_layer", None)
    if per_layer is not None:
        d["layers"] = tuple(per_layer)
    else:
        d["layers"] = _layers(mixers, ffns, window)
    d["notes"] = tuple(notes)
    _check_layer_specs(d)
    if not any(layer.ffn is FFN.DENSE for layer in d["layers"] + tuple(d.get("encoder_layers", ()))):
        # a dense width no layer uses (Qwen3-MoE's intermediate_size) is not the model's FFN
        d["intermediate_size"] = 0
    moe = d.get("moe")
    if moe is not None and moe.experts_per_token > moe.num_experts:
        raise ConfigError(f"config.json: {moe.experts_per_token} experts per token is more than the "
                          f"{moe.num_experts} experts there are")
    return d


_SSM_KINDS = (Mixer.MAMBA, Mixer.MAMBA2, Mixer.LINEAR, Mixer.CONV)


def _check_layer_specs(d: dict) -> None:
    """Every layer kind the map names must come with its dimensions (else the counts would be fiction)."""
    kinds = {layer.mixer for layer in d["layers"]}
    ssm = d.get("ssm")
    for kind in kinds & set(_SSM_KINDS):
        if ssm is None or ssm.kind is not kind:
            raise ConfigUnsupported(f"config.json: {kind.value} layers without their state-space dimensions "
                              "(this architecture is not supported yet)")
    if Mixer.MLA in kinds and d.get("mla") is None:
        raise ConfigUnsupported("config.json: MLA layers without kv_lora_rank / qk_rope_head_dim")
    if any(layer.ffn is FFN.MOE for layer in d["layers"]) and d.get("moe") is None:
        raise ConfigUnsupported("config.json: mixture-of-experts layers without num_experts / num_experts_per_tok")


def _moe_layout(r: _Reader, d: dict, *, sparse_step_key: str | None = "decoder_sparse_step") -> None:
    n = d["num_layers"]
    only_dense = _index_list(r, "mlp_only_layers", n)
    step = r.int(sparse_step_key, default=1, hi=MAX_LAYERS) if sparse_step_key else 1
    d["_ffns"] = [FFN.DENSE if (i in only_dense or (i + 1) % step) else FFN.MOE for i in range(n)]
