"""State-space and linear-attention models: SSM-only builders (Mamba, Mamba-2) and hybrid hooks.

Why apart: these layers carry a fixed-size state instead of a KV cache; a config naming state-space
parts the engine does not know is refused (:func:`_refuse_unknown_state_space`) rather than read as a
plain transformer.
"""

from __future__ import annotations

import math

from lmscope.core.architecture import (
    FFN,
    Mixer,
    MoESpec,
    Objective,
    SSMSpec,
)
from lmscope.core.errors import ConfigError
from lmscope.core.parse.decoder_families import _granitemoe, _qwen_moe
from lmscope.core.parse.dims import _finish
from lmscope.core.parse.reader import (
    MAX_EXPERTS,
    MAX_HEADS,
    MAX_HIDDEN,
    MAX_INTERMEDIATE,
    MAX_LAYERS,
    MAX_VOCAB,
    ConfigUnsupported,
    _check_int,
    _Reader,
)

_STATE_SPACE_HINTS = ("mamba", "ssm_state", "ssm_cfg", "linear_attn", "conv_l_cache", "time_step", "rwkv")


def _refuse_unknown_state_space(r: _Reader, model_type: str) -> None:
    """A type without a hook whose config names state-space parts (Falcon-H1, Bamba, GraniteMoE-hybrid…).

    The generic layout would drop those layers from the KV/state and FLOP figures, so the analytic
    engine refuses the model instead of reporting a transformer it is not; the report goes on with
    the exact count.
    """
    keys = [k for k in r.data if isinstance(k, str) and any(h in k.lower() for h in _STATE_SPACE_HINTS)]
    if keys:
        raise ConfigUnsupported(f"config.json: {model_type!r} has state-space fields ({keys[0]}, …) "
                                "whose layers this engine does not know")


def _qwen3_next(r: _Reader, d: dict) -> None:
    n = d["num_layers"]
    d["qk_norm"] = True
    d["attention_output_gate"] = True
    if r.raw("layer_types") is None:
        interval = r.int("full_attention_interval", default=4, hi=MAX_LAYERS)
        d["_mixers"] = [Mixer.FULL if (i + 1) % interval == 0 else Mixer.LINEAR for i in range(n)]
    d["ssm"] = SSMSpec(
        kind=Mixer.LINEAR,
        conv_kernel=r.int("linear_conv_kernel_dim", default=4, hi=1024),
        num_key_heads=r.int("linear_num_key_heads", hi=MAX_HEADS),
        key_head_dim=r.int("linear_key_head_dim", hi=1 << 16),
        num_value_heads=r.int("linear_num_value_heads", hi=MAX_HEADS),
        value_head_dim=r.int("linear_value_head_dim", hi=1 << 16),
    )
    if d["ssm"].num_value_heads % d["ssm"].num_key_heads:
        raise ConfigError("config.json: field 'linear_num_value_heads' is not a multiple of linear_num_key_heads")
    _qwen_moe(r, d)


def _lfm2(r: _Reader, d: dict) -> None:
    d["tied_embeddings"] = r.bool("tie_word_embeddings", "tie_embedding", default=True)
    d["qk_norm"] = True
    d["final_norm"] = True  # embedding_norm is applied after the last layer
    ff = r.int("block_ff_dim", "intermediate_size", hi=MAX_INTERMEDIATE)
    if r.bool("block_auto_adjust_ff_dim"):
        ff = int(2 * ff / 3)
        mult = r.float("block_ffn_dim_multiplier", lo=0.0, hi=1e3)
        if mult is not None:
            ff = int(mult * ff)
        m = r.int("block_multiple_of", default=256, hi=1 << 16)
        ff = m * ((ff + m - 1) // m)
    d["intermediate_size"] = ff
    d["ssm"] = SSMSpec(kind=Mixer.CONV, conv_kernel=r.int("conv_L_cache", default=3, hi=1024),
                       intermediate_size=r.int("conv_dim", default=d["hidden_size"], hi=MAX_HIDDEN))
    if r.bool("conv_bias"):
        d["extra_dims"] = (("conv_bias", 1),)


def _nemotron_h(r: _Reader, d: dict) -> None:
    n = d["num_layers"]
    pattern = r.str("hybrid_override_pattern")
    block_types = r.list("layers_block_type")
    if pattern is None and block_types is not None:
        symbols = {"mamba": "M", "linear_attention": "M", "attention": "*", "full_attention": "*", "mlp": "-",
                   "moe": "E"}
        if not all(isinstance(b, str) and b in symbols for b in block_types):
            raise ConfigUnsupported("config.json: field 'layers_block_type' has an unknown entry")
        pattern = "".join(symbols[b] for b in block_types)
    if pattern is None:
        raise ConfigUnsupported("config.json: missing field 'hybrid_override_pattern'")
    if len(pattern) != n:
        raise ConfigError(f"config.json: field 'hybrid_override_pattern' has {len(pattern)} entries for {n} layers")
    table = {"M": (Mixer.MAMBA2, FFN.NONE), "*": (Mixer.FULL, FFN.NONE), "-": (Mixer.NONE, FFN.DENSE),
             "E": (Mixer.NONE, FFN.MOE)}
    for ch in pattern:
        if ch not in table:
            raise ConfigError(f"config.json: field 'hybrid_override_pattern' has an unknown symbol {ch!r}")
    d["_mixers"] = [table[ch][0] for ch in pattern]
    d["_ffns"] = [table[ch][1] for ch in pattern]
    d["norms_per_layer"] = 1
    d["gated_ffn"] = False
    d["tied_embeddings"] = False  # NemotronHForCausalLM ties nothing (_tied_weights_keys is empty)
    d["attention_bias"] = False  # q/k/v/o never have a bias in NemotronHAttention
    d["position_encoding"], d["rope"] = "none", None  # its attention layers use no positional embedding
    d["activation"] = r.str("mlp_hidden_act", default="relu2")
    d["mlp_bias"] = r.bool("mlp_bias")
    heads = r.int("mamba_num_heads", hi=MAX_HEADS)
    head_dim = r.int("mamba_head_dim", hi=1 << 16)
    d["ssm"] = SSMSpec(
        kind=Mixer.MAMBA2,
        conv_kernel=r.int("conv_kernel", default=4, hi=1024),
        intermediate_size=heads * head_dim,
        state_size=r.int("ssm_state_size", "state_size", hi=1 << 16),
        n_groups=r.int("n_groups", default=1, hi=MAX_HEADS),
        num_heads=heads,
        head_dim=head_dim,
        state_dtype=r.str("mamba_ssm_cache_dtype"),
    )
    extra = [("conv_bias", int(r.bool("use_conv_bias", default=True))), ("mamba_proj_bias", int(r.bool("mamba_proj_bias"))),
             ("shared_expert_bias", int(d["mlp_bias"]))]
    latent = r.opt_int("moe_latent_size", hi=MAX_HIDDEN)
    if latent and "E" in pattern:
        extra.append(("moe_latent_size", latent))
    if "E" in pattern:
        shared = r.opt_int("moe_shared_expert_intermediate_size", hi=MAX_INTERMEDIATE)
        d["moe"] = MoESpec(
            num_experts=r.int("n_routed_experts", hi=MAX_EXPERTS),
            experts_per_token=r.int("num_experts_per_tok", hi=MAX_EXPERTS),
            expert_intermediate_size=r.int("moe_intermediate_size", hi=MAX_INTERMEDIATE),
            num_shared_experts=r.int("n_shared_experts", default=1 if shared else 0, lo=0, hi=MAX_EXPERTS),
            shared_expert_intermediate_size=shared,
            gated=False,
        )
    d["extra_dims"] = tuple(extra)


def _mamba2_spec(r: _Reader, d: dict) -> SSMSpec:
    """The Mamba-2 mixer of the IBM/TII hybrids (Bamba, GraniteMoE-hybrid): ``mamba_*`` fields."""
    h = d["hidden_size"]
    heads = r.int("mamba_n_heads", default=128, hi=MAX_HEADS)
    inner = r.int("mamba_expand", default=2, hi=64) * h
    if inner % heads:  # transformers' config classes refuse it too
        raise ConfigError(f"config.json: mamba_expand × hidden_size ({inner}) is not divisible by mamba_n_heads ({heads})")
    head_dim = r.raw("mamba_d_head", default="auto")
    head_dim = inner // heads if head_dim == "auto" else _check_int("mamba_d_head", head_dim, 1, 1 << 16)
    if heads * head_dim != inner:  # as transformers' config validation
        raise ConfigError(f"config.json: mamba_n_heads × mamba_d_head ({heads} × {head_dim}) is not "
                          f"mamba_expand × hidden_size ({inner})")
    d["extra_dims"] = (("conv_bias", int(r.bool("mamba_conv_bias", default=True))),
                       ("mamba_proj_bias", int(r.bool("mamba_proj_bias"))))
    return SSMSpec(kind=Mixer.MAMBA2, conv_kernel=r.int("mamba_d_conv", default=4, hi=1024), intermediate_size=inner,
                   state_size=r.int("mamba_d_state", default=256, hi=1 << 16),
                   n_groups=r.int("mamba_n_groups", default=1, hi=MAX_HEADS), num_heads=heads, head_dim=head_dim)


def _bamba(r: _Reader, d: dict) -> None:
    """Bamba: Mamba-2 layers with attention at ``attn_layer_indices``; every layer has a gated MLP and two norms."""
    n = d["num_layers"]
    indices = r.list("attn_layer_indices") or []
    if not all(isinstance(i, int) and not isinstance(i, bool) and 0 <= i < n for i in indices):
        raise ConfigError(f"config.json: field 'attn_layer_indices' must hold layer numbers below {n}")
    d["_mixers"] = [Mixer.FULL if i in indices else Mixer.MAMBA2 for i in range(n)]
    d["_ffns"] = [FFN.DENSE] * n
    d["ssm"] = _mamba2_spec(r, d)


_GRANITE_HYBRID_MIXERS = {"mamba": Mixer.MAMBA2, "linear_attention": Mixer.MAMBA2, "attention": Mixer.FULL,
                          "full_attention": Mixer.FULL}


def _granitemoehybrid(r: _Reader, d: dict) -> None:
    """GraniteMoE-hybrid (Granite 4.0): ``layer_types`` of Mamba-2 ("mamba", in transformers 5 "linear_attention")
    and attention layers; every layer has the shared MLP and, with experts, GraniteMoE's routed experts. Its
    attention is positionless unless ``position_embedding_type`` is "rope"."""
    n = d["num_layers"]
    types = r.list("layer_types")
    if types is None or len(types) != n or not all(isinstance(t, str) for t in types):
        raise ConfigUnsupported(f"config.json: field 'layer_types' must name the kind of each of the {n} layers")
    unknown = [t for t in types if t not in _GRANITE_HYBRID_MIXERS]
    if unknown:
        raise ConfigUnsupported(f"config.json: field 'layer_types' has an unknown entry {unknown[0]!r}")
    d["_mixers"] = [_GRANITE_HYBRID_MIXERS[t] for t in types]
    shared = r.int("shared_intermediate_size", default=0, lo=0, hi=MAX_INTERMEDIATE)
    if r.int("num_local_experts", default=0, lo=0, hi=MAX_EXPERTS) > 0:
        _granitemoe(r, d)
    else:  # Granite-4.0 dense hybrids: the shared MLP is the layer's only MLP
        d["intermediate_size"] = shared
        d["_ffns"] = [FFN.DENSE if shared else FFN.NONE] * n
    if r.raw("position_embedding_type") != "rope":
        d["position_encoding"], d["rope"] = "none", None
    if Mixer.MAMBA2 in d["_mixers"] or r.has("mamba_n_heads"):
        d["ssm"] = _mamba2_spec(r, d)


def _jamba(r: _Reader, d: dict) -> None:
    n = d["num_layers"]
    a_period = r.int("attn_layer_period", default=8, hi=MAX_LAYERS)
    a_offset = r.int("attn_layer_offset", default=4, lo=0, hi=MAX_LAYERS)
    e_period = r.int("expert_layer_period", default=2, hi=MAX_LAYERS)
    e_offset = r.int("expert_layer_offset", default=1, lo=0, hi=MAX_LAYERS)
    experts = r.int("num_experts", default=16, hi=MAX_EXPERTS)
    d["_mixers"] = [Mixer.FULL if i % a_period == a_offset else Mixer.MAMBA for i in range(n)]
    d["_ffns"] = [FFN.MOE if experts > 1 and i % e_period == e_offset else FFN.DENSE for i in range(n)]
    d["moe"] = MoESpec(num_experts=experts, experts_per_token=r.int("num_experts_per_tok", default=2, hi=MAX_EXPERTS),
                       expert_intermediate_size=d["intermediate_size"])
    h = d["hidden_size"]
    inner = r.int("mamba_expand", default=2, hi=64) * h
    rank = r.raw("mamba_dt_rank", default="auto")
    dt_rank = math.ceil(h / 16) if rank == "auto" else _check_int("mamba_dt_rank", rank, 1, MAX_HIDDEN)
    d["ssm"] = SSMSpec(kind=Mixer.MAMBA, conv_kernel=r.int("mamba_d_conv", default=4, hi=1024),
                       intermediate_size=inner, state_size=r.int("mamba_d_state", default=16, hi=1 << 16))
    d["extra_dims"] = (("time_step_rank", dt_rank), ("conv_bias", int(r.bool("mamba_conv_bias", default=True))),
                       ("mamba_proj_bias", int(r.bool("mamba_proj_bias"))), ("mamba_inner_norms", 1))
    d["position_encoding"], d["rope"] = "none", None


def _mamba(r: _Reader, model_type: str) -> dict:
    hidden = r.int("hidden_size", "d_model")
    n = r.int("num_hidden_layers", "n_layer", hi=MAX_LAYERS)
    vocab = r.int("vocab_size", hi=MAX_VOCAB)
    inter = r.opt_int("intermediate_size", hi=MAX_INTERMEDIATE) or r.int("expand", default=2, hi=64) * hidden
    state = r.int("state_size", "d_state", default=16, hi=1 << 16)
    rank = r.raw("time_step_rank", default="auto")
    dt_rank = math.ceil(hidden / 16) if rank == "auto" else _check_int("time_step_rank", rank, 1, MAX_HIDDEN)
    return _finish({
        "objective": Objective.CAUSAL_LM, "hidden_size": hidden, "num_layers": n, "num_heads": 0, "num_kv_heads": 0,
        "head_dim": 0, "intermediate_size": 0, "vocab_size": vocab,
        "tied_embeddings": r.bool("tie_word_embeddings", default=True), "position_encoding": "none", "rope": None,
        "activation": r.str("hidden_act", default="silu"), "norms_per_layer": 1,
        "ssm": SSMSpec(kind=Mixer.MAMBA, conv_kernel=r.int("conv_kernel", "d_conv", default=4, hi=1024),
                       intermediate_size=inter, state_size=state),
        "extra_dims": (("time_step_rank", dt_rank), ("conv_bias", int(r.bool("use_conv_bias", default=True))),
                       ("mamba_proj_bias", int(r.bool("use_bias")))),
        "_mixers": [Mixer.MAMBA] * n, "_ffns": [FFN.NONE] * n, "_window": None, "_notes": [],
    })


def _mamba2(r: _Reader, model_type: str) -> dict:
    hidden = r.int("hidden_size", "d_model")
    n = r.int("num_hidden_layers", "n_layer", hi=MAX_LAYERS)
    heads = r.int("num_heads", hi=MAX_HEADS)
    head_dim = r.int("head_dim", default=64, hi=1 << 16)
    return _finish({
        "objective": Objective.CAUSAL_LM, "hidden_size": hidden, "num_layers": n, "num_heads": 0, "num_kv_heads": 0,
        "head_dim": 0, "intermediate_size": 0, "vocab_size": r.int("vocab_size", hi=MAX_VOCAB),
        "tied_embeddings": r.bool("tie_word_embeddings", default=False), "position_encoding": "none", "rope": None,
        "activation": r.str("hidden_act", default="silu"), "norms_per_layer": 1,
        "ssm": SSMSpec(kind=Mixer.MAMBA2, conv_kernel=r.int("conv_kernel", default=4, hi=1024),
                       intermediate_size=heads * head_dim, state_size=r.int("state_size", default=128, hi=1 << 16),
                       n_groups=r.int("n_groups", default=1, hi=MAX_HEADS), num_heads=heads, head_dim=head_dim),
        "extra_dims": (("conv_bias", int(r.bool("use_conv_bias", default=True))),
                       ("mamba_proj_bias", int(r.bool("use_bias")))),
        "_mixers": [Mixer.MAMBA2] * n, "_ffns": [FFN.NONE] * n, "_window": None, "_notes": [],
    })
