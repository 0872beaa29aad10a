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

Layout (one job per module): ``reader`` (limits, transformers' defaults, the
checked reader), ``dims`` (dimensions every family shares), ``decoder`` (the
default builder and its per-family hook table), ``decoder_families`` (the
hooks), ``state_space`` (SSM-only builders and hybrid hooks), ``encoders``
(encoders and seq2seq), ``vision`` (ViT and VLM wrappers), ``quantization``.
This module is the entry point and the table of builders by ``model_type``.
"""

from __future__ import annotations

from collections.abc import Callable

from lmscope.core.architecture import Architecture, ConfigFiles, Objective
from lmscope.core.errors import ConfigError
from lmscope.core.families import detect_family
from lmscope.core.parse.decoder import _decoder
from lmscope.core.parse.encoders import _bart_like, _bert, _distilbert, _t5
from lmscope.core.parse.quantization import _quantization
from lmscope.core.parse.reader import (
    CLASS_MODEL_TYPES,
    MAX_EXPERTS,
    MAX_HEADS,
    MAX_HIDDEN,
    MAX_INTERMEDIATE,
    MAX_LAYERS,
    MAX_POSITIONS,
    MAX_VOCAB,
    MODEL_TYPE_ALIASES,
    ConfigUnsupported,
    _Reader,
    _show,
)
from lmscope.core.parse.state_space import _mamba, _mamba2
from lmscope.core.parse.vision import _vit, _vlm

__all__ = [
    "FUSED_PROJECTIONS", "MAX_EXPERTS", "MAX_HEADS", "MAX_HIDDEN", "MAX_INTERMEDIATE", "MAX_LAYERS", "MAX_POSITIONS",
    "MAX_VOCAB", "MODEL_TYPE_ALIASES", "ConfigUnsupported", "architecture_from_config", "config_has_dropout", "describes_model",
]


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
    if archs:
        model_type = CLASS_MODEL_TYPES.get((model_type, archs[0]), model_type)
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
    kwargs.setdefault("fused_projections", FUSED_PROJECTIONS.get(model_type, ()))
    return Architecture(model_type=model_type, family=family, architecture_class=arch0, **kwargs)


# Projections each family's class holds as one module (its modeling code's module names in the comment).
# Why a table: fusion is a fact of the code, not of the config; PEFT adapts the fused module once.
FUSED_PROJECTIONS: dict[str, tuple[str, ...]] = {
    "gpt2": ("qkv",),  # c_attn
    "gpt_bigcode": ("qkv",),  # c_attn (q and one shared k/v head)
    "phi3": ("qkv", "gate_up"),  # qkv_proj, gate_up_proj
    "falcon": ("qkv",),  # query_key_value
    "bloom": ("qkv",),  # query_key_value
    "gpt_neox": ("qkv",),  # query_key_value
    "persimmon": ("qkv",),  # query_key_value
    "mpt": ("qkv",),  # Wqkv
    "dbrx": ("qkv",),  # Wqkv
    "codegen": ("qkv",),  # qkv_proj
    "glm": ("gate_up",),  # gate_up_proj
    "glm4": ("gate_up",),  # gate_up_proj
    # remote code
    "chatglm": ("qkv", "gate_up"),  # query_key_value, dense_h_to_4h
    "qwen": ("qkv",),  # c_attn (w1 and w2 apart)
    "baichuan": ("qkv",),  # W_pack
    "internlm2": ("qkv",),  # wqkv
    "phi3small": ("qkv", "gate_up"),  # query_key_value, up_proj (2·ff_intermediate_size)
}


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
