"""config.json → :class:`Architecture`: the one place that knows every family's field names.

Why here and only here: families call the same thing by a dozen names
(``n_embd``/``d_model``/``hidden_size``), nest the language model inside a VLM
config, describe hybrid layer maps in five different ways and omit fields
whose defaults live in transformers' config classes. Everything downstream
reads the normalized :class:`Architecture`, so a family's quirk is fixed once.

Configs are untrusted input (any Hub repo, any local file): every number is
type- and range-checked before use and nothing is allocated from a size the
file claims (``num_hidden_layers`` is capped at :data:`MAX_LAYERS` before a
per-layer tuple is built). Problems raise :class:`ConfigError` with one line
naming the field.
"""

from __future__ import annotations

import math
from collections.abc import Callable

from lmscope.core.architecture import (
    FFN,
    Architecture,
    ConfigFiles,
    LayerSpec,
    Mixer,
    MLASpec,
    MoESpec,
    Objective,
    QuantSpec,
    RopeSpec,
    SSMSpec,
    VisionSpec,
)
from lmscope.core.errors import ConfigError
from lmscope.core.families import detect_family

MAX_LAYERS = 10_000
MAX_HIDDEN = 1 << 20
MAX_HEADS = 1 << 14
MAX_VOCAB = 1 << 24
MAX_INTERMEDIATE = 1 << 23
MAX_EXPERTS = 1 << 16
MAX_POSITIONS = 1 << 36

# model_type aliases: checkpoints written before their architecture was ported.
MODEL_TYPE_ALIASES = {"RefinedWebModel": "falcon", "RefinedWeb": "falcon"}

# tie_word_embeddings when the config omits it: the default of transformers' config class.
_TIE_DEFAULT_TRUE = frozenset(
    "gemma gemma2 gemma3 gemma3_text falcon mpt bloom opt gpt2 gpt_neo bert roberta distilbert t5 mt5 bart "
    "whisper mamba falcon_mamba lfm2 cohere cohere2 starcoder2 smollm3 ernie4_5 mistral3 gpt_bigcode minicpm".split()
)

# Defaults of transformers' config classes for sub-configs that ship only a few fields
# (LLaVA's text_config, Gemma-3's text/vision configs).
_DEFAULTS: dict[str, dict] = {
    "llama": {"hidden_size": 4096, "intermediate_size": 11008, "num_hidden_layers": 32, "num_attention_heads": 32,
              "vocab_size": 32000, "max_position_embeddings": 2048, "hidden_act": "silu"},
    "gemma3_text": {"hidden_size": 2304, "intermediate_size": 9216, "num_hidden_layers": 26, "num_attention_heads": 8,
                    "num_key_value_heads": 4, "head_dim": 256, "vocab_size": 262208, "max_position_embeddings": 131072,
                    "sliding_window": 4096, "hidden_activation": "gelu_pytorch_tanh", "sliding_window_pattern": 6,
                    "rope_theta": 1000000.0},
    "clip_vision_model": {"hidden_size": 768, "intermediate_size": 3072, "num_hidden_layers": 12,
                          "num_attention_heads": 12, "image_size": 224, "patch_size": 32, "num_channels": 3},
    "siglip_vision_model": {"hidden_size": 768, "intermediate_size": 3072, "num_hidden_layers": 12,
                            "num_attention_heads": 12, "image_size": 224, "patch_size": 16, "num_channels": 3},
    "llama4_vision_model": {"hidden_size": 768, "intermediate_size": 5632, "num_hidden_layers": 34,
                            "num_attention_heads": 16, "image_size": 448, "patch_size": 14, "num_channels": 3,
                            "projector_input_dim": 4096, "projector_output_dim": 4096, "vision_output_dim": 7680},
    "vit": {"hidden_size": 768, "intermediate_size": 3072, "num_hidden_layers": 12, "num_attention_heads": 12,
            "image_size": 224, "patch_size": 16, "num_channels": 3},
    "t5": {"d_model": 512, "d_ff": 2048, "d_kv": 64, "num_layers": 6, "num_heads": 8, "vocab_size": 32128,
           "relative_attention_num_buckets": 32},
    "bart": {"d_model": 1024, "encoder_layers": 12, "decoder_layers": 12, "encoder_ffn_dim": 4096,
             "decoder_ffn_dim": 4096, "encoder_attention_heads": 16, "decoder_attention_heads": 16,
             "vocab_size": 50265, "max_position_embeddings": 1024},
    "whisper": {"d_model": 384, "encoder_layers": 4, "decoder_layers": 4, "encoder_ffn_dim": 1536,
                "decoder_ffn_dim": 1536, "encoder_attention_heads": 6, "decoder_attention_heads": 6,
                "vocab_size": 51865, "num_mel_bins": 80, "max_source_positions": 1500, "max_target_positions": 448},
    "bert": {"hidden_size": 768, "intermediate_size": 3072, "num_hidden_layers": 12, "num_attention_heads": 12,
             "vocab_size": 30522, "max_position_embeddings": 512, "type_vocab_size": 2, "hidden_act": "gelu"},
    "roberta": {"hidden_size": 768, "intermediate_size": 3072, "num_hidden_layers": 12, "num_attention_heads": 12,
                "vocab_size": 50265, "max_position_embeddings": 512, "type_vocab_size": 2, "hidden_act": "gelu"},
    "gpt2": {"n_embd": 768, "n_layer": 12, "n_head": 12, "vocab_size": 50257, "n_positions": 1024},
    "mamba": {"hidden_size": 768, "num_hidden_layers": 32, "vocab_size": 50280, "state_size": 16, "expand": 2,
              "conv_kernel": 4},
}

_MISSING = object()


class ConfigUnsupported(ConfigError):
    """The config is well-formed but names something the analytic engine cannot read.

    Why apart from :class:`ConfigError` (an impossible or malformed value,
    always an error): a missing field, a null or an unknown layer kind does
    not make the model wrong — the report goes on with the exact engine and
    the stored headers, and says which figures are missing.
    """


class _Reader:
    """Typed, range-checked access to one (possibly nested) config dict."""

    def __init__(self, data: dict, where: str = "", defaults: dict | None = None, parent: _Reader | None = None):
        if not isinstance(data, dict):
            raise ConfigError(f"config.json: {where or 'top level'} is not a JSON object")
        self.data = data
        self.where = where
        self.defaults = defaults or {}
        self.parent = parent

    def _find(self, names: tuple[str, ...]) -> tuple[str, object]:
        for name in names:
            if self.data.get(name) is not None:
                return name, self.data[name]
        for name in names:
            if self.defaults.get(name) is not None:
                return name, self.defaults[name]
        if self.parent is not None:
            return self.parent._find(names)
        return names[0], _MISSING

    def has(self, *names: str) -> bool:
        return self._find(names)[1] is not _MISSING

    def raw(self, *names: str, default=None):
        value = self._find(names)[1]
        return default if value is _MISSING else value

    def int(self, *names: str, default=_MISSING, lo: int = 1, hi: int = MAX_HIDDEN) -> int:
        name, value = self._find(names)
        if value is _MISSING:
            if default is _MISSING:
                raise ConfigUnsupported(f"config.json: missing field '{self.where}{names[0]}'")
            return default
        return _check_int(f"{self.where}{name}", value, lo, hi)

    def opt_int(self, *names: str, lo: int = 1, hi: int = MAX_HIDDEN) -> int | None:
        """An optional size: absent, null and 0 all mean "none".

        Why 0 too: configs write 0 for "no such part" (Qwen3-MoE's
        ``shared_expert_intermediate_size: 0``, ``sliding_window: 0``) and
        transformers builds those classes without the part.
        """
        name, value = self._find(names)
        if lo >= 1 and value == 0 and not isinstance(value, bool):
            return None
        return self.int(*names, default=None, lo=lo, hi=hi)

    def float(self, *names: str, default=None, lo: float = 0.0, hi: float = 1e15) -> float | None:
        name, value = self._find(names)
        if value is _MISSING:
            return default
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise ConfigError(f"config.json: field '{self.where}{name}' must be a number, got {_show(value)}")
        if isinstance(value, int) and abs(value) > 1 << 1000:  # beyond any float: math.isfinite would overflow
            raise ConfigError(f"config.json: field '{self.where}{name}' is out of range: {_show(value)}")
        if not math.isfinite(value) or value < lo or value > hi:
            raise ConfigError(f"config.json: field '{self.where}{name}' is out of range: {_show(value)}")
        return float(value)

    def bool(self, *names: str, default: bool = False) -> bool:
        name, value = self._find(names)
        if value is _MISSING:
            return default
        if isinstance(value, bool):
            return value
        if isinstance(value, int) and value in (0, 1):
            return bool(value)
        raise ConfigError(f"config.json: field '{self.where}{name}' must be true or false, got {_show(value)}")

    def str(self, *names: str, default: str | None = None) -> str | None:
        name, value = self._find(names)
        if value is _MISSING:
            return default
        if not isinstance(value, str):
            raise ConfigError(f"config.json: field '{self.where}{name}' must be a string, got {_show(value)}")
        return value

    def list(self, name: str, max_len: int = MAX_LAYERS) -> list | None:
        value = self.raw(name)
        if value is None:
            return None
        if not isinstance(value, list):
            raise ConfigError(f"config.json: field '{self.where}{name}' must be a list, got {_show(value)}")
        if len(value) > max_len:
            raise ConfigError(f"config.json: field '{self.where}{name}' has {len(value)} entries (limit {max_len})")
        return value

    def sub(self, name: str, defaults_key: str | None = None) -> _Reader | None:
        value = self.data.get(name)
        if value is None:
            return None
        if not isinstance(value, dict):
            raise ConfigError(f"config.json: field '{self.where}{name}' must be a JSON object")
        key = defaults_key or value.get("model_type")
        return _Reader(value, f"{self.where}{name}.", _DEFAULTS.get(key if isinstance(key, str) else "", {}))


def _show(value: object) -> str:
    text = repr(value)
    return text if len(text) <= 40 else text[:37] + "..."


def _check_int(name: str, value: object, lo: int, hi: int) -> int:
    if isinstance(value, bool):
        raise ConfigError(f"config.json: field '{name}' must be a whole number, got {_show(value)}")
    if isinstance(value, float):
        if not math.isfinite(value) or value != int(value):
            raise ConfigError(f"config.json: field '{name}' must be a whole number, got {_show(value)}")
        value = int(value)
    if not isinstance(value, int):
        raise ConfigError(f"config.json: field '{name}' must be a whole number, got {_show(value)}")
    if value < lo:
        raise ConfigError(f"config.json: field '{name}' must be at least {lo}, got {value}")
    if value > hi:
        raise ConfigError(f"config.json: field '{name}' is implausibly large: {value} (limit {hi})")
    return value


# --------------------------------------------------------------------------------------------
# entry point

# Keys any model description names (a config with none of them describes no model at all).
_MODEL_KEYS = ("model_type", "architectures", "hidden_size", "n_embd", "d_model", "dim", "text_config",
               "num_hidden_layers", "n_layer", "num_layers", "vocab_size", "auto_map")


def describes_model(config: object) -> bool:
    """Whether ``config`` describes a model at all (``{}`` or only tokenizer fields do not).

    Why apart from :func:`architecture_from_config`: the report goes on
    without the parser (exact engine, stored headers), and only a file that
    describes no model at all is an error.
    """
    return isinstance(config, dict) and any(config.get(k) not in (None, "", [], {}) for k in _MODEL_KEYS)



def architecture_from_config(files: ConfigFiles | dict, model_id: str | None = None) -> Architecture:
    """Normalize a config.json (plus quantization side files) into an :class:`Architecture`.

    ``model_id`` (a repo id or path), when given, only refines the family name
    of families that share a model_type (Phi-3.5 vs Phi-3, Nemotron-3 vs
    Nemotron-H); otherwise the config's ``_name_or_path`` is used. Raises
    :class:`ConfigError` (one line, naming the field) for malformed, hostile or
    impossible configs.
    """
    if isinstance(files, dict):
        files = ConfigFiles(config=files)
    if not isinstance(files, ConfigFiles):
        raise ConfigError("config.json: expected a JSON object")
    root = _Reader(files.config)
    model_type = _model_type(root)
    archs = root.raw("architectures") or []
    if not isinstance(archs, list) or not all(isinstance(a, str) for a in archs):
        raise ConfigError("config.json: field 'architectures' must be a list of strings")
    name_hint = model_id if isinstance(model_id, str) and model_id else root.str("_name_or_path")
    family = detect_family(model_type, tuple(archs), name=name_hint)
    builder = _BUILDERS.get(model_type, _decoder)
    if builder is _decoder and isinstance(files.config.get("text_config"), dict) and not root.has("hidden_size"):
        builder = _vlm  # an unknown wrapper around a known language model (Mistral-3, Qwen2.5-VL in v5 form)
    kwargs = builder(root, model_type)
    kwargs.setdefault("objective", Objective.CAUSAL_LM)
    arch0 = archs[0] if archs else None
    kwargs.setdefault("lm_head", _class_has_head(arch0, kwargs["objective"]))
    if builder in (_bert, _distilbert) and arch0 and arch0.endswith(("ForMaskedLM", "LMHeadModel")):
        # the masked-LM head: a dense transform + LayerNorm before the (tied) decoder with its bias; no pooler
        kwargs["pooler"] = False
        kwargs["extra_dims"] = kwargs.get("extra_dims", ()) + (("mlm_transform", 1),)
    kwargs["quantization"] = _quantization(files, root)
    kwargs["torch_dtype"] = root.str("torch_dtype", "dtype") if isinstance(root.raw("torch_dtype", "dtype"), str) else None
    if kwargs["torch_dtype"] is None and "text_config" in files.config:
        text = root.sub("text_config")
        if text is not None and isinstance(text.raw("torch_dtype", "dtype"), str):
            kwargs["torch_dtype"] = text.raw("torch_dtype", "dtype")
    kwargs["dropout"] = config_has_dropout(files.config)
    return Architecture(model_type=model_type, family=family, architecture_class=arch0, **kwargs)


def config_has_dropout(config: dict) -> bool:
    """True when any dropout probability in the config (or its text_config) is above 0.

    Names vary by family (``attention_dropout``, ``hidden_dropout_prob``,
    ``resid_pdrop``, ``dropout_rate``, ...); a config without any (Llama-2)
    trains without dropout.
    """
    sections = [config]
    if isinstance(config.get("text_config"), dict):
        sections.append(config["text_config"])
    for section in sections:
        for key, value in section.items():
            low = key.lower()
            if ("dropout" in low or "pdrop" in low) and not low.startswith("classifier"):
                if isinstance(value, (int, float)) and not isinstance(value, bool) and value > 0:
                    return True
    return False


def _model_type(root: _Reader) -> str:
    mt = root.raw("model_type")
    if mt is None:
        # FacebookAI/roberta-base ships no model_type: a BERT-shaped config with
        # RoBERTa's 514 positions / single segment.
        if root.has("type_vocab_size") and root.raw("max_position_embeddings") == 514:
            return "roberta"
        if root.has("type_vocab_size"):
            return "bert"
        raise ConfigUnsupported("config.json: missing field 'model_type'")
    if not isinstance(mt, str) or not mt or len(mt) > 100:
        raise ConfigError(f"config.json: field 'model_type' must be a short string, got {_show(mt)}")
    return MODEL_TYPE_ALIASES.get(mt, mt)


def _class_has_head(arch0: str | None, objective: Objective) -> bool:
    if arch0 is None:
        return objective in (Objective.CAUSAL_LM, Objective.SEQ2SEQ, Objective.VLM, Objective.SPEECH)
    return not arch0.endswith("Model") or arch0.endswith("LMHeadModel")


# --------------------------------------------------------------------------------------------
# shared pieces


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
                f"config.json: field '{r.where}hidden_size' ({hidden}) is not divisible by num_attention_heads ({heads})"
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


# --------------------------------------------------------------------------------------------
# decoder-only language models (the default builder)


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
    if r.has("index_n_heads"):
        d["extra_dims"] = (("index_n_heads", r.int("index_n_heads", hi=MAX_HEADS)),
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
    "exaone4": _exaone4,
    "phimoe": _phimoe,
    "granitemoe": _granitemoe,
    "granitemoeshared": _granitemoe,
    "jamba": _jamba,
    "arcee": _arcee,
    "qwen2_vl": _qwen2_vl,
    "qwen2_5_vl": _qwen2_vl,
    "apertus": _apertus,
}


# --------------------------------------------------------------------------------------------
# SSM-only, encoders, seq2seq, vision, VLM wrappers


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


def _bert(r: _Reader, model_type: str) -> dict:
    d = _core_dims(r, model_type)
    n = d["num_layers"]
    d.update(
        objective=Objective.MASKED_LM, intermediate_size=r.int("intermediate_size", hi=MAX_INTERMEDIATE),
        norm="layernorm", norm_bias=True, gated_ffn=False, attention_bias=True, mlp_bias=True,
        position_encoding="learned", rope=None, position_embeddings=d["max_position_embeddings"] or 512,
        token_type_embeddings=r.int("type_vocab_size", default=2, lo=0, hi=1 << 16), embedding_norm=True,
        final_norm=False, pooler=True,
    )
    name = str(r.raw("_name_or_path", default=""))
    if "sentence-transformers" in name:
        d["objective"] = Objective.EMBEDDING
    d.update(_mixers=[Mixer.FULL] * n, _ffns=[FFN.DENSE] * n, _window=None, _notes=[])
    return _finish(d)


def _distilbert(r: _Reader, model_type: str) -> dict:
    hidden = r.int("dim", "hidden_size")
    n = r.int("n_layers", "num_hidden_layers", hi=MAX_LAYERS)
    heads = r.int("n_heads", "num_attention_heads", hi=MAX_HEADS)
    if hidden % heads:
        raise ConfigError(f"config.json: field 'dim' ({hidden}) is not divisible by n_heads ({heads})")
    pos = r.int("max_position_embeddings", default=512, hi=MAX_POSITIONS)
    return _finish({
        "objective": Objective.MASKED_LM, "hidden_size": hidden, "num_layers": n, "num_heads": heads,
        "num_kv_heads": heads, "head_dim": hidden // heads, "intermediate_size": r.int("hidden_dim", hi=MAX_INTERMEDIATE),
        "vocab_size": r.int("vocab_size", hi=MAX_VOCAB), "activation": r.str("activation", default="gelu"),
        "gated_ffn": False, "norm": "layernorm", "norm_bias": True, "attention_bias": True, "mlp_bias": True,
        "tied_embeddings": r.bool("tie_word_embeddings", default=True), "max_position_embeddings": pos,
        "position_encoding": "learned", "rope": None, "position_embeddings": pos, "embedding_norm": True,
        "final_norm": False,
        "_mixers": [Mixer.FULL] * n, "_ffns": [FFN.DENSE] * n, "_window": None, "_notes": [],
    })


def _t5(r: _Reader, model_type: str) -> dict:
    hidden = r.int("d_model")
    n_enc = r.int("num_layers", hi=MAX_LAYERS)
    n_dec = r.int("num_decoder_layers", default=n_enc, hi=MAX_LAYERS)
    heads = r.int("num_heads", hi=MAX_HEADS)
    ff = r.int("d_ff", hi=MAX_INTERMEDIATE)
    proj = r.str("feed_forward_proj", default="relu") or "relu"
    gated = proj.startswith("gated-")
    return _finish({
        "objective": Objective.SEQ2SEQ, "hidden_size": hidden, "num_layers": n_dec, "num_heads": heads,
        "num_kv_heads": heads, "head_dim": r.int("d_kv", hi=1 << 16), "intermediate_size": ff,
        "vocab_size": r.int("vocab_size", hi=MAX_VOCAB), "activation": proj.replace("gated-", ""),
        # transformers 5 ties T5's head always (``tie_word_embeddings: false`` now only stops the
        # decoder-output scaling: configuration_t5.py), so the class never holds a separate lm_head
        "gated_ffn": gated, "norm": "rmsnorm", "tied_embeddings": True,
        "max_position_embeddings": r.opt_int("n_positions", hi=MAX_POSITIONS), "position_encoding": "relative",
        "rope": None, "norms_per_layer": 3,
        "encoder_layers": tuple(LayerSpec(Mixer.FULL, FFN.DENSE) for _ in range(n_enc)),
        "extra_dims": (("relative_attention_num_buckets", r.int("relative_attention_num_buckets", default=32, hi=1 << 16)),
                       ("relative_bias_every_layer", int(model_type == "umt5"))),
        "_mixers": [Mixer.FULL] * n_dec, "_ffns": [FFN.DENSE] * n_dec, "_window": None, "_notes": [],
    })


def _bart_like(r: _Reader, model_type: str) -> dict:
    hidden = r.int("d_model")
    n_enc = r.int("encoder_layers", hi=MAX_LAYERS)
    n_dec = r.int("decoder_layers", hi=MAX_LAYERS)
    heads = r.int("decoder_attention_heads", hi=MAX_HEADS)
    enc_heads = r.int("encoder_attention_heads", hi=MAX_HEADS)
    if hidden % heads or hidden % enc_heads:
        raise ConfigError("config.json: field 'd_model' is not divisible by the attention heads")
    whisper = model_type == "whisper"
    ffn = r.int("decoder_ffn_dim", hi=MAX_INTERMEDIATE)
    enc_ffn = r.int("encoder_ffn_dim", hi=MAX_INTERMEDIATE)
    d = {
        "objective": Objective.SPEECH if whisper else Objective.SEQ2SEQ, "hidden_size": hidden, "num_layers": n_dec,
        "num_heads": heads, "num_kv_heads": heads, "head_dim": hidden // heads, "intermediate_size": ffn,
        "vocab_size": r.int("vocab_size", hi=MAX_VOCAB), "activation": r.str("activation_function", default="gelu"),
        "gated_ffn": False, "norm": "layernorm", "norm_bias": True, "attention_bias": True, "mlp_bias": True,
        "tied_embeddings": r.bool("tie_word_embeddings", default=True), "position_encoding": "learned", "rope": None,
        "norms_per_layer": 3,
        "encoder_layers": tuple(LayerSpec(Mixer.FULL, FFN.DENSE, intermediate_size=enc_ffn) for _ in range(n_enc)),
        "_mixers": [Mixer.FULL] * n_dec, "_ffns": [FFN.DENSE] * n_dec, "_window": None, "_notes": [],
    }
    if whisper:
        tgt = r.int("max_target_positions", hi=MAX_POSITIONS)
        d.update(max_position_embeddings=tgt, position_embeddings=tgt, final_norm=True, extra_dims=(
            ("encoder_heads", enc_heads), ("num_mel_bins", r.int("num_mel_bins", hi=1 << 16)),
            ("encoder_positions", r.int("max_source_positions", hi=MAX_POSITIONS)), ("k_proj_bias", 0),
            ("encoder_final_norm", 1), ("encoder_embedding_norm", 0)))
    else:
        pos = r.int("max_position_embeddings", hi=MAX_POSITIONS)
        final = model_type == "mbart" or r.bool("add_final_layer_norm")  # mBART is pre-LN: both stacks end in a LayerNorm
        d.update(max_position_embeddings=pos, position_embeddings=pos + 2, embedding_norm=r.bool("normalize_embedding", default=True),
                 final_norm=final, extra_dims=(("encoder_heads", enc_heads), ("encoder_positions", pos + 2),
                                               ("k_proj_bias", 1), ("encoder_final_norm", int(final)),
                                               ("encoder_embedding_norm", 1)))
    return _finish(d)


def _vision_spec(v: _Reader, kind: str) -> VisionSpec:
    hidden = v.int("hidden_size")
    heads = v.int("num_attention_heads", hi=MAX_HEADS)
    if hidden % heads:
        raise ConfigError(f"config.json: field '{v.where}hidden_size' is not divisible by num_attention_heads")
    return VisionSpec(
        hidden_size=hidden,
        num_layers=v.int("num_hidden_layers", hi=MAX_LAYERS),
        num_heads=heads,
        intermediate_size=v.int("intermediate_size", hi=MAX_INTERMEDIATE),
        image_size=v.int("image_size", hi=1 << 16),
        patch_size=v.int("patch_size", hi=1 << 12),
        kind=kind,
        num_channels=v.int("num_channels", default=3, hi=64),
    )


def _vit(r: _Reader, model_type: str) -> dict:
    vision = _vision_spec(r, "vit")
    n = vision.num_layers
    return _finish({
        "objective": Objective.VISION, "hidden_size": vision.hidden_size, "num_layers": n,
        "num_heads": vision.num_heads, "num_kv_heads": vision.num_heads,
        "head_dim": vision.hidden_size // vision.num_heads, "intermediate_size": vision.intermediate_size,
        "vocab_size": 0, "activation": r.str("hidden_act", default="gelu"), "gated_ffn": False, "norm": "layernorm",
        "norm_bias": True, "attention_bias": r.bool("qkv_bias", default=True), "mlp_bias": True,
        "attention_out_bias": True, "position_encoding": "learned", "rope": None, "vision": vision,
        "pooler": True, "lm_head": False, "final_norm": True,
        "_mixers": [Mixer.FULL] * n, "_ffns": [FFN.DENSE] * n, "_window": None, "_notes": [],
    })


def _vlm(r: _Reader, model_type: str) -> dict:
    text_key = {"llava": "llama", "llava_next": "llama", "llava_onevision": "qwen2", "gemma3": "gemma3_text",
                "llama4": "llama4_text"}.get(model_type)
    raw_text = r.raw("text_config") or {}
    if not isinstance(raw_text, dict):
        raise ConfigError("config.json: field 'text_config' must be a JSON object")
    text_type = raw_text.get("model_type") if isinstance(raw_text.get("model_type"), str) else text_key
    text_type = text_type or "llama"
    text = _Reader(raw_text, "text_config.", _DEFAULTS.get(text_type, {}))
    d = _BUILDERS.get(text_type, _decoder)(text, text_type)
    d["objective"] = Objective.VLM
    v_raw = r.raw("vision_config")
    if isinstance(v_raw, dict):
        v_type = v_raw.get("model_type") if isinstance(v_raw.get("model_type"), str) else None
        v_type = v_type or {"gemma3": "siglip_vision_model", "llava_onevision": "siglip_vision_model",
                            "llama4": "llama4_vision_model"}.get(model_type, "clip_vision_model")
        v = _Reader(v_raw, "vision_config.", _DEFAULTS.get(v_type, {}))
        kind = {"clip_vision_model": "clip", "siglip_vision_model": "siglip", "llama4_vision_model": "llama4"}.get(v_type)
        if kind is None or model_type not in _BUILDERS:
            d["_notes_extra"] = (f"vision tower ({v_type}) not counted by the analytic formulas "
                                 "(the exact count includes it)",)
            v_raw = None
    if isinstance(v_raw, dict):
        spec = _vision_spec(v, kind)
        text_hidden = d["hidden_size"]
        if kind == "siglip" and v.bool("vision_use_head", default=True):
            spec = _replace(spec, kind="siglip_head")
        if model_type == "gemma3":
            spec = _replace(spec, projector="gemma3", projector_dims=(text_hidden,))
        elif model_type == "llama4":
            spec = _replace(spec, projector="llama4", projector_dims=(
                v.int("projector_input_dim", hi=MAX_HIDDEN), v.int("projector_output_dim", hi=MAX_HIDDEN),
                v.int("vision_output_dim", hi=MAX_HIDDEN), text_hidden,
                int(v.bool("multi_modal_projector_bias"))))
        else:
            spec = _replace(spec, projector="mlp2", projector_dims=(text_hidden, int(r.bool("multimodal_projector_bias", default=True))))
        d["vision"] = spec
    d["notes"] = d["notes"] + d.pop("_notes_extra", ())
    if model_type in ("llava_next", "llava_onevision"):
        d["extra_dims"] = d.get("extra_dims", ()) + (("image_newline", d["hidden_size"]),)
    # the wrapper's tie flag wins over the text config's (transformers reads the top-level one);
    # LLaVA-style configs also tie when only the text config says so (configuration_llava.py)
    if model_type in ("llava", "llava_onevision", "llava_next_video"):
        d["tied_embeddings"] = r.bool("tie_word_embeddings", default=False) or d["tied_embeddings"]
    elif model_type == "llama4":
        pass  # Llama4ForConditionalGeneration holds a whole Llama4ForCausalLM: its text config's flag decides
    elif r.raw("tie_word_embeddings") is not None:
        d["tied_embeddings"] = r.bool("tie_word_embeddings")
    elif model_type == "llava":
        d["tied_embeddings"] = False
    return d


def _replace(spec: VisionSpec, **changes) -> VisionSpec:
    from dataclasses import replace

    return replace(spec, **changes)


_BUILDERS: dict[str, Callable[[_Reader, str], dict]] = {
    "mamba": _mamba,
    "mamba2": _mamba2,
    "falcon_mamba": _mamba,
    "bert": _bert,
    "roberta": _bert,
    "xlm-roberta": _bert,
    "t5": _t5,
    "mt5": _t5,
    "umt5": _t5,
    "distilbert": _distilbert,
    "bart": _bart_like,
    "mbart": _bart_like,
    "whisper": _bart_like,
    "vit": _vit,
    "llava": _vlm,
    "llava_next": _vlm,
    "llava_onevision": _vlm,
    "gemma3": _vlm,
    "llama4": _vlm,
}


# --------------------------------------------------------------------------------------------
# quantization


def _quantization(files: ConfigFiles, r: _Reader) -> QuantSpec | None:
    q = files.config.get("quantization_config")
    if q is None and isinstance(files.config.get("text_config"), dict):
        q = files.config["text_config"].get("quantization_config")
    mlx = files.config.get("quantization")
    side = files.quantize_config
    if isinstance(side, dict) and isinstance(side.get("quantization"), dict):  # hf_quant_config.json (ModelOpt)
        inner = side["quantization"]
        algo = str(inner.get("quant_algo") or "modelopt")
        bits = 8.0 if "FP8" in algo.upper() else 4.0 if "4" in algo else None
        details = tuple((k, str(v)) for k, v in inner.items() if isinstance(v, (str, int, float)))
        return QuantSpec(method="modelopt", bits=bits, details=(("quant_algo", algo),) + details[1:])
    if isinstance(q, dict):
        return _quant_from_dict(q)
    if isinstance(mlx, dict):
        return _quant_from_dict({**mlx, "quant_method": "mlx"})
    if isinstance(side, dict):  # quantize_config.json (GPTQ / AWQ)
        return _quant_from_dict({"quant_method": side.get("quant_method", "gptq"), **side})
    return None


def _positive_bits(bits: float | None, field: str) -> float | None:
    """A bit width is positive: 0 or fewer bits per weight is not a quantization, it is a broken file."""
    if bits is not None and bits <= 0:
        raise ConfigError(f"config.json: field 'quantization_config.{field}' must be a positive bit width, got {_show(bits)}")
    return bits


def _group_size(group: object, field: str) -> int | None:
    """A group size: positive, or -1 (GPTQ's "one group per column", no grouping); 0 and below -1 are refused."""
    if not isinstance(group, int) or isinstance(group, bool) or group == -1:
        return None
    if group <= 0 or group > MAX_HIDDEN:
        raise ConfigError(f"config.json: field 'quantization_config.{field}' must be a positive size or -1, got {_show(group)}")
    return group


def _quant_from_dict(q: dict) -> QuantSpec:
    qr = _Reader(q, "quantization_config.")
    method = qr.str("quant_method", default=None)
    if method is None:
        method = "mlx" if "mode" in q and "bits" in q else "unknown"
    method = method.lower()
    bits: float | None = _positive_bits(qr.float("bits", "w_bit", lo=0.0, hi=64.0), "bits")
    group = qr.raw("group_size", "q_group_size")
    group_size = _group_size(group, "group_size")
    block_text: str | None = None
    if method == "bitsandbytes":
        if qr.bool("load_in_4bit", "_load_in_4bit"):
            bits = 4.0
            group_size = 64
        elif qr.bool("load_in_8bit", "_load_in_8bit"):
            bits = 8.0
    elif method in ("fp8", "fbgemm_fp8"):
        bits = 8.0
        block = q.get("weight_block_size")
        if block is not None:
            if (not isinstance(block, list) or len(block) != 2
                    or not all(isinstance(x, int) and not isinstance(x, bool) and 0 < x <= MAX_HIDDEN for x in block)):
                raise ConfigError("config.json: field 'quantization_config.weight_block_size' must be two positive "
                                  f"whole numbers, got {_show(block)}")
            # a 128×128 block is a block, not a "group of 16,384": kept as its shape (details), never as a group size
            block_text = f"{block[0]}x{block[1]}"
    elif method == "mxfp4":
        bits, group_size = 4.25, 32
    elif method == "compressed-tensors":
        groups = q.get("config_groups")
        if isinstance(groups, dict):
            for g in groups.values():
                w = g.get("weights") if isinstance(g, dict) else None
                if isinstance(w, dict):
                    wr = _Reader(w, "quantization_config.config_groups.weights.")
                    if isinstance(w.get("num_bits"), (int, float)):
                        bits = _positive_bits(wr.float("num_bits", lo=0.0, hi=64.0), "config_groups.weights.num_bits")
                    if isinstance(w.get("group_size"), int):
                        group_size = _group_size(w["group_size"], "config_groups.weights.group_size")
                    break
    symmetric = q.get("sym") if isinstance(q.get("sym"), bool) else None
    details = tuple(
        (str(k), str(v)) for k, v in q.items()
        if isinstance(v, (str, int, float, bool)) and k not in ("quant_method", "bits", "group_size", "sym")
    )[:16]
    if block_text:
        details = (("weight_block_size", block_text),) + details
    return QuantSpec(method=method, bits=bits, group_size=group_size, symmetric=symmetric, details=details)
