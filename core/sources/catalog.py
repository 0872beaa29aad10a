"""The built-in catalog: real configs of popular models shipped in the package.

It is what makes lmscope useful with no network and no token: the TUI opens
on :data:`DEFAULT_MODEL`, and gated models (Llama, Gemma) can be analysed
without accepting a licence first. Each entry is a folder
``data/catalog/<org>--<name>/`` holding the model's genuine ``config.json``
(plus small tokenizer/quantization files where we have them); where each
file came from is recorded in ``data/catalog_notes.json``.

Loading one entry reads a few small files (well under 5 ms); the listing
reads every config once and is cached.
"""

from __future__ import annotations

import functools
import json
from dataclasses import dataclass, replace
from pathlib import Path

from lmscope.core.errors import SourceError
from lmscope.core.sources.base import ModelSource
from lmscope.core.sources.local import load_config_files

DEFAULT_MODEL = "meta-llama/Llama-3.1-8B"
CATALOG_DIR = Path(__file__).resolve().parent.parent / "data" / "catalog"
NOTES_FILE = CATALOG_DIR.parent / "catalog_notes.json"


@dataclass(frozen=True)
class CatalogEntry:
    """One built-in model: its Hub id, a family name and kind tags (moe, vlm, quantized, ...)."""

    model_id: str
    family: str
    kinds: tuple[str, ...] = ()


@functools.lru_cache(maxsize=1)
def _folders() -> dict[str, Path]:
    """Lower-cased model id -> folder, for every catalog entry."""
    out: dict[str, Path] = {}
    if not CATALOG_DIR.is_dir():
        return out
    for folder in sorted(CATALOG_DIR.iterdir()):
        if folder.is_dir() and "--" in folder.name and (folder / "config.json").is_file():
            org, name = folder.name.split("--", 1)
            out[f"{org}/{name}".lower()] = folder
    return out


def _model_id(folder: Path) -> str:
    org, name = folder.name.split("--", 1)
    return f"{org}/{name}"


@functools.lru_cache(maxsize=1)
def _notes() -> dict[str, dict]:
    try:
        return json.loads(NOTES_FILE.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}


def catalog_ids() -> list[str]:
    """Every model id in the catalog, sorted case-insensitively."""
    return sorted((_model_id(f) for f in _folders().values()), key=str.lower)


def find_in_catalog(spec: str) -> str | None:
    """The catalog model id ``spec`` names, or None.

    Matches a full id case-insensitively, else a bare name (``gpt2``,
    ``llama-2-7b``): the entry whose name equals it, else the single entry
    whose name starts with ``spec-``. An ambiguous short name raises
    :class:`SourceError` listing the candidates.
    """
    key = spec.strip().lower()
    folders = _folders()
    if key in folders:
        return _model_id(folders[key])
    if "/" in key:
        return None
    names = {mid.split("/", 1)[1]: mid for mid in folders}
    if key in names:
        return _model_id(folders[names[key]])
    starts = sorted(mid for name, mid in names.items() if name.startswith(key + "-"))
    if len(starts) == 1:
        return _model_id(folders[starts[0]])
    if len(starts) > 1:
        shown = ", ".join(_model_id(folders[m]) for m in starts[:6])
        raise SourceError(f"{spec!r} matches several built-in models: {shown}; give the full id")
    return None


def load_catalog_entry(model_id: str) -> ModelSource:
    """The :class:`ModelSource` of a catalog entry (its config files; no weights)."""
    folder = _folders().get(model_id.lower())
    if folder is None:
        raise SourceError(f"{model_id} is not in the built-in catalog")
    canonical = _model_id(folder)
    files = load_config_files(folder)
    info = _notes().get(canonical, {})
    notes = ["config from lmscope's built-in catalog (no network used)"]
    if info.get("note"):
        notes.append(f"catalog copy: {info['note']}")
    overrides = info.get("overrides")
    if isinstance(overrides, dict) and overrides:
        # documented corrections where a copied file differs from the Hub's (see catalog_notes.json)
        files = replace(files, config={**files.config, **overrides})
    return ModelSource(model_id=canonical, kind="catalog", files=files, location=str(folder), notes=tuple(notes))


def catalog_provenance(model_id: str) -> tuple[str, ...]:
    """Where each file of a catalog entry was copied from (repository, path, commit)."""
    return tuple(_notes().get(model_id, {}).get("provenance", ()))


@functools.lru_cache(maxsize=1)
def list_catalog() -> list[CatalogEntry]:
    """Every built-in model with its family and kind tags, sorted by id."""
    entries = []
    for model_id in catalog_ids():
        folder = _folders()[model_id.lower()]
        try:
            config = json.loads((folder / "config.json").read_text(encoding="utf-8"))
        except (OSError, ValueError):
            continue
        has_quant_file = any((folder / n).is_file() for n in ("quantize_config.json", "hf_quant_config.json"))
        entries.append(CatalogEntry(model_id, family_of_config(config, model_id), kind_tags(config, quantized_file=has_quant_file)))
    return entries


def family_of_config(config: dict, model_id: str | None = None) -> str:
    """A family name for a raw config (the parser's family table when available)."""
    model_type = config.get("model_type") if isinstance(config.get("model_type"), str) else None
    archs = config.get("architectures") if isinstance(config.get("architectures"), list) else []
    try:
        from lmscope.core.families import detect_family
    except ImportError:
        return model_type or (str(archs[0]) if archs else "unknown")
    try:
        family = detect_family(model_type, archs, name=model_id)
    except Exception:  # noqa: BLE001 - a listing must not fail on one odd config
        family = model_type or "unknown"
    if family.startswith("Unknown"):
        # old configs without model_type (2019-era RoBERTa): the parser infers it from the fields
        try:
            from lmscope.core.parse import architecture_from_config

            family = architecture_from_config(config).family
        except Exception:  # noqa: BLE001
            pass
    return family


def _text_config(config: dict) -> dict:
    for key in ("text_config", "llm_config", "language_config"):
        sub = config.get(key)
        if isinstance(sub, dict):
            return sub
    return config


def kind_tags(config: dict, *, quantized_file: bool = False) -> tuple[str, ...]:
    """Cheap kind tags straight from a raw config: moe, mla, hybrid, ssm, vlm, quantized, ..."""
    text = _text_config(config)
    model_type = str(config.get("model_type", "")).lower()
    archs = " ".join(str(a) for a in config.get("architectures") or []).lower()
    tags: list[str] = []
    experts = next(
        (text.get(k) for k in ("num_local_experts", "num_experts", "n_routed_experts", "moe_num_experts") if text.get(k)),
        None,
    )
    if isinstance(experts, int) and experts > 1:
        tags.append("moe")
    if text.get("kv_lora_rank"):
        tags.append("mla")
    layer_types = text.get("layer_types")
    non_attention = ("linear", "conv", "mamba")
    if text.get("hybrid_override_pattern") or text.get("full_attention_interval") or (
        isinstance(layer_types, list) and any(any(k in str(t) for k in non_attention) for t in layer_types)
    ):
        tags.append("hybrid")
    if "mamba" in model_type:
        tags.append("ssm")
    if isinstance(text.get("sliding_window"), int) and text.get("sliding_window") and text.get("use_sliding_window", True) is not False:
        tags.append("sliding")
    if config.get("vision_config") is not None or "vision" in archs or "llava" in model_type:
        tags.append("vlm" if ("causallm" in archs or "conditionalgeneration" in archs or "llava" in model_type) else "vision")
    if model_type in ("vit", "deit", "beit", "dinov2") and "vision" not in tags:
        tags.append("vision")
    if config.get("is_encoder_decoder") or model_type in ("t5", "bart", "whisper", "mt5"):
        tags.append("seq2seq")
    if model_type in ("bert", "roberta", "distilbert", "xlm-roberta", "deberta", "deberta-v2", "electra"):
        tags.append("encoder")
    if "whisper" in model_type:
        tags.append("speech")
    if config.get("quantization_config") or quantized_file:
        tags.append("quantized")
    return tuple(dict.fromkeys(tags))
