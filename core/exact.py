"""Exact parameter counts: build the real transformers class on the meta device.

Why: the class named by ``architectures[0]`` is the definition of "the model's
parameters" (CONTRACT.md). Building it on ``torch.device("meta")`` allocates no
memory, so even DeepSeek-V3 (671B) instantiates in about a second. We never
pass ``trust_remote_code``: remote-code or unknown architectures give ``None``
and the caller falls back to :func:`lmscope.core.params.count_parameters`.

torch/transformers are imported lazily (``lmscope.core`` must import without
them). Results are cached as JSON keyed by a hash of the canonical config and
the transformers version, under ``platformdirs.user_cache_dir("lmscope")``
(``LMSCOPE_CACHE_DIR`` overrides, so tests use temporary folders). The work is
done under a lock, so calls from a worker thread are safe.
"""

from __future__ import annotations

import copy
import hashlib
import importlib.metadata
import importlib.util
import json
import os
import re
import threading
from dataclasses import replace
from pathlib import Path

from lmscope.core.results import ParameterBreakdown

_LOCK = threading.Lock()
# Bump whenever what is stored changes: version 1 entries could hold matmul_per_token=0;
# version 3 adds active_known.
_CACHE_VERSION = 3

# model_types transformers does not know whose architecture it ships under another name.
_MODEL_TYPE_ALIASES = {"RefinedWebModel": "falcon", "RefinedWeb": "falcon"}


def exact_available() -> bool:
    """True when torch and transformers can be imported (cheap: no import happens)."""
    return importlib.util.find_spec("torch") is not None and importlib.util.find_spec("transformers") is not None


def exact_parameters(config: dict) -> ParameterBreakdown | None:
    """Count the parameters of ``config``'s class on the meta device (method="exact").

    None when torch/transformers are missing, the architecture is unknown to the
    installed transformers or needs remote code, or instantiation fails.
    """
    if not isinstance(config, dict) or not exact_available():
        return None
    version = _transformers_version()
    if version is None:
        return None
    key = _cache_key(config, version)
    cached = _read_cache(key)
    if cached is not None:
        return cached
    if not _plausible(config):
        return None
    with _LOCK:
        try:
            result = _count(config)
        except Exception:
            return None
    if result is not None:
        _write_cache(key, result)
    return result


def _transformers_version() -> str | None:
    """The installed transformers version, read from its metadata.

    Importing transformers costs 1–2 s; a cache hit must not pay it, so the
    cache key uses the distribution's metadata instead of ``__version__``.
    """
    try:
        return importlib.metadata.version("transformers")
    except Exception:  # not installed, or a broken install: "not available", never a crash
        return None


# Meta tensors cost nothing, but every module is a real Python object: a hostile
# config asking for a million layers must not be built. The parser validates and
# caps sizes first; beyond this many layers the analytic count is used instead.
MAX_EXACT_LAYERS = 1_000


_LAYER_KEYS = ("num_hidden_layers", "n_layer", "num_layers", "n_layers", "encoder_layers", "decoder_layers",
               "num_decoder_layers")


def _plausible(config: dict) -> bool:
    """Layer counts a meta instantiation can afford (checked on the raw dicts, parser-independent)."""
    total = 0
    for part in (config, config.get("text_config"), config.get("vision_config"), config.get("audio_config")):
        if not isinstance(part, dict):
            continue
        for key in _LAYER_KEYS:
            value = part.get(key)
            if value is None:
                continue
            if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= MAX_EXACT_LAYERS:
                return False
            total += value
        for key in ("layer_types", "block_configs"):
            if isinstance(part.get(key), list) and len(part[key]) > MAX_EXACT_LAYERS:
                return False
    return total <= 4 * MAX_EXACT_LAYERS


# --------------------------------------------------------------------------------------------


def _resolve(config: dict):
    """(config object, model class) for a native architecture, else None."""
    import transformers
    from transformers import CONFIG_MAPPING

    model_type = config.get("model_type")
    archs = config.get("architectures") or []
    arch0 = archs[0] if archs and isinstance(archs[0], str) else None
    if model_type is None and "type_vocab_size" in config:
        model_type = "roberta" if config.get("max_position_embeddings") == 514 else "bert"
    model_type = _MODEL_TYPE_ALIASES.get(model_type, model_type)  # type: ignore[arg-type]  # a str once a config is read
    cls = getattr(transformers, arch0, None) if arch0 else None
    if cls is not None and not (isinstance(cls, type) and hasattr(cls, "_from_config")):
        cls = None
    if model_type in CONFIG_MAPPING:
        config_cls = CONFIG_MAPPING[model_type]  # type: ignore[index]
    elif cls is not None and getattr(cls, "config_class", None) is not None:
        config_cls = cls.config_class  # type: ignore[attr-defined]  # checked just above; e.g. Kimi-K2: model_type kimi_k2, class DeepseekV3ForCausalLM
        model_type = getattr(config_cls, "model_type", model_type)
    else:
        return None
    data = copy.deepcopy(config)
    for drop in ("auto_map", "quantization_config", "quantization"):
        data.pop(drop, None)
    data["model_type"] = model_type
    hf_config = config_cls.from_dict(data)
    if cls is None:
        auto = transformers.AutoModelForCausalLM if (arch0 or "").endswith("ForCausalLM") else transformers.AutoModel
        mapping = auto._model_mapping
        if type(hf_config) not in mapping:
            return None
        cls = mapping[type(hf_config)]
    return hf_config, cls


def _count(config: dict) -> ParameterBreakdown | None:
    import torch

    _quiet_transformers()
    resolved = _resolve(config)
    if resolved is None:
        return None
    hf_config, cls = resolved
    with torch.device("meta"):
        model = cls._from_config(hf_config)
    names = [(name, p.numel()) for name, p in model.named_parameters()]  # shared (tied) tensors once
    del model
    result = breakdown_from_names(names, top_k=_top_k(hf_config))
    return replace(result, matmul_per_token=_analytic_matmul(config))


def _analytic_matmul(config: dict) -> int:
    """matmul_per_token needs the layer structure, not names: take the analytic figure (0 if unparseable)."""
    from lmscope.core.errors import LmscopeError
    from lmscope.core.params import count_parameters
    from lmscope.core.parse import architecture_from_config

    try:
        return count_parameters(architecture_from_config(config)).matmul_per_token
    except LmscopeError:
        return 0


def _top_k(hf_config) -> tuple[int, int]:
    text = getattr(hf_config, "text_config", None) or hf_config
    k = getattr(text, "num_experts_per_tok", None) or getattr(text, "experts_per_token", None) or 0
    e = (getattr(text, "num_local_experts", None) or getattr(text, "n_routed_experts", None)
         or getattr(text, "num_experts", None) or 0)
    return int(k), int(e)


def breakdown_from_names(names: list[tuple[str, int]], top_k: tuple[int, int] = (0, 0)) -> ParameterBreakdown:
    """A :class:`ParameterBreakdown` from (parameter name, numel) pairs of a real class.

    ``active_per_token`` scales the routed experts by top-k / experts;
    ``matmul_per_token`` needs the layer structure and is reported as 0 here
    (:func:`exact_parameters` fills it from the analytic counter).
    """
    seq2seq = any(".decoder." in f".{n}" for n, _ in names) and any(".encoder." in f".{n}" for n, _ in names)
    has_text = any(_is_text_embedding(n) for n, _ in names)
    by: dict[str, int] = {}
    for name, numel in names:
        comp = component_of(name, seq2seq=seq2seq, vlm=has_text)
        by[comp] = by.get(comp, 0) + numel
    total = sum(by.values())
    k, e = top_k
    experts = by.get("experts", 0)
    known = not experts or 0 < k <= e  # a null (or impossible) top-k: nobody knows what a token visits
    active = total - (experts - experts * k // e) if experts and known else total
    from lmscope.core.params import COMPONENTS

    return ParameterBreakdown(
        total=total,
        active_per_token=active,
        embedding=by.get("embeddings", 0),
        matmul_per_token=0,
        by_component={c: by[c] for c in COMPONENTS if by.get(c)},
        method="exact",
        active_known=known,
    )


def _is_text_embedding(name: str) -> bool:
    return bool(re.search(r"(embed_tokens|word_embeddings|wte|shared)\.weight$", name))


_RULES: tuple[tuple[str, str], ...] = (
    (r"(^|\.)(vision_tower|vision_model|visual)\.", "vision"),
    (r"(^|\.)multi_modal_projector\.", "projector"),
    (r"(^|\.)(lm_head|proj_out|output_layer|embed_out)\.", "lm_head"),
    (r"\.shared_experts?\.|\.shared_expert_gate\.", "shared_experts"),
    (r"\.experts\.", "experts"),
    (r"\.(mlp|feed_forward|block_sparse_moe|mixer)\.(gate|router)\.(weight|bias)$", "router"),
    (r"\.(mlp|feed_forward|mixer)\.(router|gate)\.e_score_correction_bias$", "router"),
    (r"\.linear_attn\.", "linear_attention"),
    (r"\.conv\.(conv|in_proj|out_proj)\.", "conv"),
    (r"\.mixer\.(A_log|D|dt_bias|conv1d|in_proj|x_proj|dt_proj|out_proj|norm)\b", "mamba"),
    (r"\.mamba\.", "mamba"),
    (r"\.LayerNorm\.|_layer_norm\.|layer_norm\d?\.", "norms"),
    (r"(self_attn|self_attention|attention|attn|SelfAttention|EncDecAttention|encoder_attn)\.", "attention"),
    (r"\.mixer\.(q_proj|k_proj|v_proj|o_proj)\.", "attention"),
    (r"(norm|ln_|LayerNorm|layernorm)", "norms"),
    (r"(embed_tokens|embed_in|word_embeddings|wte|wpe|position_embeddings|token_type_embeddings|embed_positions|"
     r"patch_embeddings|cls_token|^shared|\.embeddings\.weight|^embeddings\.weight)", "embeddings"),
    (r"(mlp|ffn|feed_forward|intermediate\.dense|output\.dense|fc1|fc2|DenseReluDense|dense_h_to_4h|"
     r"dense_4h_to_h)", "mlp"),
)
_COMPILED = tuple((re.compile(p), c) for p, c in _RULES)


def component_of(name: str, *, seq2seq: bool = False, vlm: bool = True) -> str:
    """Which ``by_component`` key a parameter name belongs to (see results.ParameterBreakdown)."""
    if seq2seq and re.search(r"(^|\.)encoder\.", name):
        return "encoder"
    for pattern, comp in _COMPILED:
        if pattern.search(name):
            if comp == "vision" and not vlm:
                continue
            return comp
    return "other"


def _quiet_transformers() -> None:
    import logging
    import warnings

    try:
        from transformers.utils import logging as hf_logging

        hf_logging.set_verbosity_error()
        hf_logging.disable_progress_bar()
    except Exception:
        pass
    logging.getLogger("transformers").setLevel(logging.ERROR)
    warnings.filterwarnings("ignore", module="transformers")
    warnings.filterwarnings("ignore", module="torch")


# --------------------------------------------------------------------------------------------
# JSON cache


def cache_dir() -> Path:
    """Where exact counts are cached (``LMSCOPE_CACHE_DIR`` or the platform cache dir)."""
    override = os.environ.get("LMSCOPE_CACHE_DIR")
    if override:
        return Path(override) / "exact"
    import platformdirs

    return Path(platformdirs.user_cache_dir("lmscope")) / "exact"


def _cache_key(config: dict, version: str) -> str:
    canonical = json.dumps(config, sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(f"{_CACHE_VERSION}|{version}|{canonical}".encode()).hexdigest()[:32]


def _read_cache(key: str) -> ParameterBreakdown | None:
    path = cache_dir() / f"{key}.json"
    try:
        data = json.loads(path.read_text())
        return ParameterBreakdown(
            total=int(data["total"]),
            active_per_token=int(data["active_per_token"]),
            embedding=int(data["embedding"]),
            matmul_per_token=int(data["matmul_per_token"]),
            by_component={str(k): int(v) for k, v in data["by_component"].items()},
            method="exact",
            note=data.get("note"),
            active_known=bool(data.get("active_known", True)),
        )
    except (OSError, ValueError, KeyError, TypeError, AttributeError):
        return None


def _write_cache(key: str, result: ParameterBreakdown) -> None:
    folder = cache_dir()
    data = {
        "total": result.total,
        "active_per_token": result.active_per_token,
        "embedding": result.embedding,
        "matmul_per_token": result.matmul_per_token,
        "by_component": result.by_component,
        "note": result.note,
        "active_known": result.active_known,
    }
    try:
        folder.mkdir(parents=True, exist_ok=True)
        tmp = folder / f".{key}.{os.getpid()}.{threading.get_ident()}.tmp"
        tmp.write_text(json.dumps(data))
        os.replace(tmp, folder / f"{key}.json")
    except OSError:
        pass  # a read-only cache is not an error
