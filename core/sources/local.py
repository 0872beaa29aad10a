"""Models on disk: a directory holding ``config.json``, or a ``config.json`` path.

One reader for every folder-shaped source (a local checkout, an HF cache
snapshot, a built-in catalog entry), so a file is read the same way
wherever it comes from. Every file is size-capped before it is read, its
structure is measured before it is parsed (:mod:`.bounded_json`: a file of a
million empty lists is refused, not parsed into gigabytes), and every JSON
error becomes a one-line :class:`ConfigError` naming the file.
Safetensors headers beside the config are read (headers only) so the report
can compare what the files store with what the class holds.
"""

from __future__ import annotations

import math
import re
from pathlib import Path

from lmscope.core.architecture import ConfigFiles
from lmscope.core.errors import ConfigError, SourceError
from lmscope.core.redact import shown
from lmscope.core.sources.base import ModelSource, StoredTensors
from lmscope.core.sources.bounded_json import MAX_INDEX_MEMORY, MAX_JSON_MEMORY, load_bounded
from lmscope.core.sources.safetensors_header import read_safetensors_files

MAX_CONFIG_BYTES = 16 * 1024 * 1024
MAX_INDEX_BYTES = 64 * 1024 * 1024
MAX_TEMPLATE_BYTES = 4 * 1024 * 1024
MAX_INDEX_ENTRIES = 1_000_000  # tensors one index may name (DeepSeek-V3 names ~92,000)
MAX_SHARDS = 100_000

# file name -> ConfigFiles field (the first present wins for quantize_config)
_SMALL_FILES = (
    ("tokenizer_config.json", "tokenizer_config"),
    ("generation_config.json", "generation_config"),
    ("quantize_config.json", "quantize_config"),
    ("quant_config.json", "quantize_config"),
    ("hf_quant_config.json", "quantize_config"),
    ("model.safetensors.index.json", "safetensors_index"),
)


def _reject_constant(name: str) -> float:
    raise ValueError(f"{name} is not valid JSON")


def read_json(path: Path, *, max_bytes: int = MAX_CONFIG_BYTES, strict: bool = False, budget: int = MAX_JSON_MEMORY) -> dict:
    """A JSON object read from ``path`` with a size cap; one-line errors.

    ``strict`` rejects NaN/Infinity (not JSON, and poison for every
    estimate) — used for config.json.
    """
    name = shown(path.name)
    try:
        size = path.stat().st_size
        if size > max_bytes:
            raise ConfigError(f"{name} is {size:,} bytes, more than the {max_bytes // (1024 * 1024)} MB allowed for it")
        with path.open("rb") as handle:
            raw = handle.read(max_bytes + 1)  # the file may have grown since stat
    except OSError as err:
        raise SourceError(f"cannot read {shown(path)}: {err.strerror or shown(err)}") from None
    if len(raw) > max_bytes:
        raise ConfigError(f"{name} is more than the {max_bytes // (1024 * 1024)} MB allowed for it")
    data = load_bounded(raw, name=name, parse_constant=_reject_constant if strict else None, budget=budget)
    if not isinstance(data, dict):
        raise ConfigError(f"{path.name} does not hold a JSON object")
    if strict:
        _check_finite(data, path.name)
    return data


def _check_finite(value: object, name: str, depth: int = 0) -> None:
    if depth > 64:
        raise ConfigError(f"{name} is nested too deeply")
    if isinstance(value, float) and not math.isfinite(value):
        raise ConfigError(f"{name} contains a non-finite number")
    if isinstance(value, dict):
        for item in value.values():
            _check_finite(item, name, depth + 1)
    elif isinstance(value, list):
        for item in value:
            _check_finite(item, name, depth + 1)


def load_config_files(folder: Path, *, config_path: Path | None = None) -> ConfigFiles:
    """The small description files of a model folder as :class:`ConfigFiles`.

    ``config_path`` overrides ``folder/config.json`` (a config given by path).
    Missing optional files are None; a chat template shipped as
    ``chat_template.jinja`` / ``chat_template.json`` goes to ``extra["chat_template"]``.
    """
    config_path = config_path or folder / "config.json"
    if not config_path.is_file():
        raise SourceError(f"{folder} has no config.json")
    # NaN/Infinity are accepted as transformers accepts them (Nemotron-H's ``time_step_limit``);
    # the parser range-checks every number an estimate uses, so they never reach a figure.
    config = read_json(config_path)
    fields: dict[str, object] = {}
    for file_name, field_name in _SMALL_FILES:
        path = folder / file_name
        if field_name in fields or not path.is_file():
            continue
        if field_name == "safetensors_index":
            fields[field_name] = read_json(path, max_bytes=MAX_INDEX_BYTES, budget=MAX_INDEX_MEMORY)
        else:
            fields[field_name] = read_json(path)
    tokenizer_json = folder / "tokenizer.json"
    extra: dict[str, object] = {}
    template = _read_chat_template(folder)
    if template is not None:
        extra["chat_template"] = template
    return ConfigFiles(
        config=config,
        tokenizer_json_path=str(tokenizer_json) if tokenizer_json.is_file() else None,
        extra=extra,
        **fields,  # type: ignore[arg-type]
    )


def _read_chat_template(folder: Path) -> str | None:
    jinja = folder / "chat_template.jinja"
    if jinja.is_file() and jinja.stat().st_size <= MAX_TEMPLATE_BYTES:
        try:
            return jinja.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError):
            return None
    as_json = folder / "chat_template.json"
    if as_json.is_file():
        try:
            data = read_json(as_json, max_bytes=MAX_TEMPLATE_BYTES)
        except (ConfigError, SourceError):
            return None
        template = data.get("chat_template")
        return template if isinstance(template, str) else None
    return None


def stored_tensors_in(folder: Path, index: dict | None) -> tuple[StoredTensors | None, tuple[str, ...]]:
    """Safetensors headers of the checkpoint in ``folder``, when it is all there.

    With an index, every shard it names must be present (a partial set would
    under-count); without one, every ``*.safetensors`` in the folder is read.
    """
    if index is not None:
        weight_map = index.get("weight_map")
        if not isinstance(weight_map, dict):
            return None, ("model.safetensors.index.json has no weight_map",)
        if len(weight_map) > MAX_INDEX_ENTRIES:
            return None, (f"model.safetensors.index.json names {len(weight_map):,} tensors, more than any checkpoint; ignored",)
        shard_names = sorted({str(v) for v in weight_map.values()})
        if len(shard_names) > MAX_SHARDS:
            return None, (f"model.safetensors.index.json names {len(shard_names):,} shard files; ignored",)
        if any("/" in s or "\\" in s or s.startswith("..") for s in shard_names):
            return None, ("the safetensors index names shards outside the folder; ignored",)
        if any(not s or len(s) > 255 or not s.isprintable() for s in shard_names):
            return None, ("the safetensors index names shard files no folder can hold (too long or control characters); ignored",)
        present = [folder / s for s in shard_names if (folder / s).is_file()]
        if not present:
            return None, ()
        if len(present) != len(shard_names):
            return None, (f"only {len(present)} of {len(shard_names)} safetensors shards are present; stored tensors not counted",)
        return read_safetensors_files(present), ()
    files = sorted(p for p in folder.glob("*.safetensors") if p.is_file())
    if not files:
        return None, ()
    return read_safetensors_files(files), ()


def cache_snapshot_id(folder: Path) -> tuple[str, str] | None:
    """``("org/name", sha)`` when ``folder`` is an HF cache snapshot (``models--org--name/snapshots/<sha>``)."""
    resolved = folder.resolve()
    parent = resolved.parent
    if parent.name == "snapshots" and parent.parent.name.startswith("models--"):
        repo_id = parent.parent.name.removeprefix("models--").replace("--", "/", 1)
        return repo_id, resolved.name
    return None


_HUB_STYLE_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,95}(/[A-Za-z0-9][A-Za-z0-9._-]{0,95})?")
# Folder names that say nothing about the model (a checkpoint saved as ``out/model``, or ``.``).
GENERIC_FOLDER_NAMES = frozenset(
    {"model", "models", "checkpoint", "checkpoints", "weights", "hf", "huggingface", "snapshot", "final",
     "latest", "output", "outputs", "export", "merged", "main", "ckpt", "pretrained", ""}
)


def folder_model_name(folder: Path, config: dict | None = None) -> str:
    """A name for a local model folder that says which model it is.

    The folder's own name when it is telling; for a generic one (``model``,
    ``checkpoint``, ``.`` inside such a folder): the config's
    ``_name_or_path`` when it names a model (not a path on some other
    machine), else ``parent/model``, else the whole path.
    """
    resolved = folder.resolve()
    name = resolved.name
    if name.lower() not in GENERIC_FOLDER_NAMES:
        return name
    claimed = (config or {}).get("_name_or_path")
    if isinstance(claimed, str):
        claimed = claimed.strip()
        # a Hub-style id ("org/name" or "name"), never a path on the machine that saved it
        if _HUB_STYLE_ID.fullmatch(claimed) and claimed.rsplit("/", 1)[-1].lower() not in GENERIC_FOLDER_NAMES:
            return claimed
    parent = resolved.parent.name
    if parent and parent.lower() not in GENERIC_FOLDER_NAMES:
        return f"{parent}/{name}"
    return str(resolved)


def source_from_folder(folder: Path, *, model_id: str | None = None, kind: str = "local") -> ModelSource:
    """A :class:`ModelSource` for a folder holding config.json (and maybe weights).

    A folder inside the HF cache is named by its repo id and commit.
    """
    files = load_config_files(folder)
    stored, notes = stored_tensors_in(folder, files.safetensors_index)
    revision = None
    if model_id is None:
        cached = cache_snapshot_id(folder)
        if cached is not None:
            model_id, revision = cached
    return ModelSource(
        model_id=model_id or folder_model_name(folder, files.config),
        kind=kind,
        files=files,
        location=str(folder),
        revision=revision,
        stored=stored,
        notes=notes,
    )


def source_from_config_path(path: Path) -> ModelSource:
    """A :class:`ModelSource` for a path to a config.json; its folder supplies the other files."""
    folder = path.parent
    files = load_config_files(folder, config_path=path)
    if path.name != "config.json":
        # a renamed config: do not pair it with weights that may belong to another file
        return ModelSource(model_id=path.stem, kind="config", files=files, location=str(path))
    stored, notes = stored_tensors_in(folder, files.safetensors_index)
    cached = cache_snapshot_id(folder)
    model_id, revision = cached if cached is not None else (folder_model_name(folder, files.config), None)
    return ModelSource(
        model_id=model_id, kind="config", files=files, location=str(path), revision=revision, stored=stored, notes=notes
    )
