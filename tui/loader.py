"""The app's only door into the engine: open, estimate, search, count exactly.

Each function is a thin call into ``lmscope.core`` so the screens stay free of
engine details and arithmetic. Those that may block (resolve, exact count,
search) are called from thread workers; :func:`estimate_for` is pure and fast
(< 1 ms) and is called synchronously on every slider change.

Errors leave here as :class:`~lmscope.core.errors.LmscopeError` or are turned
into one redacted line by :func:`error_line` — never a traceback.
"""

from __future__ import annotations

import os
from dataclasses import replace
from typing import TYPE_CHECKING

from lmscope.tui.state import LoadedModel

if TYPE_CHECKING:  # pragma: no cover
    import threading
    from collections.abc import Iterator

    from lmscope.core.architecture import Architecture
    from lmscope.core.hardware import Accelerator, LocalGPU
    from lmscope.core.hub.search import SearchResult
    from lmscope.core.plan import Plan
    from lmscope.core.plan.request import PlanRequest
    from lmscope.core.report import Report
    from lmscope.core.results import Estimate, ParameterBreakdown, Settings
    from lmscope.core.sources.catalog import CatalogEntry
    from lmscope.core.weights.records import Resume, WeightsEvent
    from lmscope.tui.state import Deployment


def exact_disabled() -> bool:
    """True when the exact engine must not run (``LMSCOPE_NO_EXACT=1``: snapshots, slow machines)."""
    return os.environ.get("LMSCOPE_NO_EXACT", "").strip().lower() in ("1", "true", "yes", "on")


def is_offline(flag: bool = False) -> bool:
    """Offline when asked for, or when ``HF_HUB_OFFLINE`` says so."""
    return flag or os.environ.get("HF_HUB_OFFLINE", "").strip().lower() in ("1", "true", "yes", "on")


def error_line(err: BaseException) -> str:
    """One redacted line for any exception (LmscopeError messages are already one line)."""
    from lmscope.core.errors import LmscopeError
    from lmscope.core.redact import redact

    text = str(err) if isinstance(err, LmscopeError) else f"{type(err).__name__}: {err}"
    return redact(" ".join(text.split())) or type(err).__name__


def default_model() -> str:
    """The built-in model ``lmscope`` opens with no argument (from the catalog, works offline)."""
    from lmscope.core.sources.catalog import DEFAULT_MODEL

    return str(DEFAULT_MODEL)


def catalog_ids() -> list[str]:
    """Model ids of the built-in catalog, in catalog order."""
    from lmscope.core.sources.catalog import list_catalog

    return [entry.model_id for entry in list_catalog()]


def catalog_entries() -> list[CatalogEntry]:
    from lmscope.core.sources.catalog import list_catalog

    return list(list_catalog())


def open_model(spec: str, settings: Settings, *, offline: bool = False, token: str | None = None) -> LoadedModel:
    """Resolve ``spec`` and build its analytic report (blocking: call from a worker)."""
    from lmscope.core.report import build_report
    from lmscope.core.sources.resolve import resolve

    source = resolve(spec, offline=is_offline(offline), token=token)
    # partial: a config the analytic engine cannot read still opens; the exact count follows.
    report = build_report(source, settings, exact=False, partial=True)
    if not source.files.config or source.architecture is not None:
        # GGUF/ONNX sources describe themselves; the exact engine needs a transformers config.
        return LoadedModel(spec=spec, report=report, exact_state="off", exact_reason=f"{source.kind} source: analytic engine only")
    return LoadedModel(spec=spec, report=report, exact_state="off" if exact_disabled() else "pending", exact_reason="exact engine off (LMSCOPE_NO_EXACT)" if exact_disabled() else None)


def exact_parameters_for(model: LoadedModel) -> tuple[ParameterBreakdown | None, str | None]:
    """The exact (meta-device) breakdown, or None with the reason. Imports torch: worker only."""
    from lmscope.core import exact

    if not exact.exact_available():
        return None, "torch/transformers not installed: analytic engine only"
    config = model.report.source.files.config
    try:
        params = exact.exact_parameters(config)
    except Exception as err:  # noqa: BLE001 - shown as a note, never a crash
        return None, error_line(err)
    if params is None:
        return None, "the exact engine does not know this model class: analytic engine only"
    analytic = model.analytic
    if params.matmul_per_token == 0 and analytic is not None and analytic.matmul_per_token:
        # The exact engine counts names, not matmuls; it documents taking this figure from the
        # analytic engine, but an entry cached by an older version may hold 0 — never show FLOPs of 0.
        params = replace(params, matmul_per_token=analytic.matmul_per_token)
    return params, None


def estimate_for(model: LoadedModel, settings: Settings) -> Estimate:
    """``core.estimate`` for this model and settings, with the best parameter breakdown known."""
    from lmscope.core.estimate import estimate

    return estimate(_architecture(model), settings, params=model.params)


def _architecture(model: LoadedModel) -> Architecture:
    """The model's architecture, or a one-line refusal for a file that carries none (an ONNX graph alone)."""
    from lmscope.core.errors import ConfigError

    if model.architecture is None:
        raise ConfigError(f"{model.model_id} has no architecture (no config): nothing to estimate or plan")
    return model.architecture


def report_at(model: LoadedModel, settings: Settings) -> Report:
    """The model's report re-estimated at ``settings`` with the best parameters known (what Export writes)."""
    from lmscope.core.report import notes_at

    report = model.report
    notes = notes_at(report.notes, report.capabilities, settings.seq_len)  # the context warning follows the length
    if not model.has_architecture:
        return replace(report, settings=settings, notes=notes)
    return replace(
        report,
        settings=settings,
        notes=notes,
        estimate=estimate_for(model, settings),
        parameters_exact=model.exact if model.exact is not None else report.parameters_exact,
    )



def catalog_families() -> dict[str, str]:
    """Family of every built-in catalog model (the Search table's last column)."""
    return {e.model_id: e.family for e in catalog_entries()}


def search_offline(query: str, limit: int = 50) -> list[SearchResult]:
    """The core's offline search (built-in catalog + local HF cache), with parameter counts.

    Parameter counts of catalog/cache hits come from the analytic engine on
    their configs (``core.hub.search.offline_parameters``, a few ms each); the
    worker calls this, never the UI thread.
    """
    from lmscope.core.hub.search import MAX_LIMIT
    from lmscope.core.hub.search import search_offline as core_search_offline

    return core_search_offline(query, limit=min(limit, MAX_LIMIT))


def search_hub(query: str, *, token: str | None = None, limit: int = 30) -> list[SearchResult]:
    """Search the Hub (network: call from a worker). Raises HubError on failure."""
    from lmscope.core.hub.search import search_models

    return search_models(query, limit=limit, token=token)


WEIGHT_SUFFIXES = (".safetensors", ".gguf", ".bin")


def local_weight_files(model: LoadedModel) -> list[str]:
    """Weight files on this machine for the model, the ones the weights engine will read.

    A weights file itself (a GGUF), or in the model's folder (a config.json
    source looks beside its config) the same choice the engine makes:
    ``*.safetensors``, else ``*.bin``, else a single ``*.gguf``. Only regular files.
    """
    source = model.report.source
    location = source.location
    if not location or source.kind == "catalog":
        return []
    if os.path.isfile(location):
        if location.lower().endswith(WEIGHT_SUFFIXES):
            return [location]
        if source.kind != "config" or os.path.basename(location) != "config.json":
            return []
        location = os.path.dirname(location) or "."
    try:
        names = sorted(os.listdir(location))
    except OSError:
        return []
    paths = [os.path.join(location, n) for n in names]
    files = [p for p in paths if os.path.isfile(p)]
    for suffix in WEIGHT_SUFFIXES:
        found = [p for p in files if p.lower().endswith(suffix)]
        if found and (suffix != ".gguf" or len(found) == 1):
            return found
    return []


def weights_engine_available() -> bool:
    """True when the weights engine's entry point is installed."""
    try:
        from lmscope.core.weights import analyze_weights  # noqa: F401
    except ImportError:
        return False
    return True


def weights_events(model: LoadedModel, cancel: threading.Event, ray: str | None = None,
                   resume: Resume | None = None) -> Iterator[WeightsEvent]:
    """The weights engine's event iterator for this model (blocking generator: worker only).

    ``ray``: None runs in this process; a string is a Ray address ("" = ``RAY_ADDRESS`` or a
    local cluster). ``resume``: a :class:`~lmscope.core.weights.records.Resume` of a cancelled run.
    """
    from lmscope.core.weights import analyze_weights
    from lmscope.core.weights.records import WeightsOptions

    options = WeightsOptions(device="auto", keep_singular_values=True, cancel=cancel, ray=ray)
    return analyze_weights(model.report.source, options, resume=resume)


# --- the deployment planner (Plan screen, Compare's fit row) ----------------------------------

FALLBACK_GPU = "h100"  # what Plan shows when no local GPU is detected (the user picks another)


def detect_gpus() -> tuple[LocalGPU, ...]:
    """The GPUs on this machine (NVML / nvidia-smi; may take a moment: worker only)."""
    from lmscope.core.hardware import detect_local

    return tuple(detect_local())


def default_gpu(local: tuple[LocalGPU, ...]) -> tuple[str, int]:
    """(GPU key, count) to plan for first: the local GPUs of the first kind detected, else the fallback card."""
    if not local:
        return FALLBACK_GPU, 1
    first = local[0]
    key = first.profile or "local:0"
    same = sum(1 for g in local if g.name == first.name and g.memory_bytes == first.memory_bytes)
    return key, same


def gpu_choices(local: tuple[LocalGPU, ...]) -> list[tuple[str, str]]:
    """(key, short label) for the GPU picker: the local GPUs first (marked), then every built-in profile."""
    from lmscope.core.hardware import list_accelerators

    out: list[tuple[str, str]] = []
    seen: set[str] = set()
    for i, gpu in enumerate(local):
        key = gpu.profile or f"local:{i}"
        if key in seen:
            continue
        seen.add(key)
        out.append((key, f"{gpu.profile} (local)" if gpu.profile else f"local {gpu.name.replace('NVIDIA ', '')}"))
    out += [(a.name, a.name) for a in list_accelerators() if a.name not in seen]
    return out


def accelerator_for(key: str, local: tuple[LocalGPU, ...]) -> Accelerator:
    """The ``core.hardware.Accelerator`` a GPU key names: a detected GPU as ``local_accelerator`` sees it
    (its profile, with the detected memory when they disagree), else the built-in profile."""
    from lmscope.core.hardware import get_accelerator, local_accelerator

    if key.startswith("local:"):
        return local_accelerator(local[int(key.split(":", 1)[1])])
    mine = next((g for g in local if g.profile == key), None)
    return local_accelerator(mine) if mine is not None else get_accelerator(key)


def plan_request(settings: Settings, deployment: Deployment) -> PlanRequest:
    """The ``core.plan.PlanRequest`` for the app's settings and deployment (parallelism only for inference)."""
    from lmscope.core.plan import PlanRequest

    inference = settings.mode == "inference"
    return PlanRequest(
        seq_len=settings.seq_len,
        batch=settings.batch,
        dtype=settings.dtype,
        kv_dtype=settings.kv_dtype,
        mode=settings.mode,
        count=settings.num_gpus,
        tp=deployment.tp if inference else None,
        pp=deployment.pp if inference else 1,
        ep=deployment.ep if inference else 1,
        zero=settings.zero_stage,
        optimizer=settings.optimizer,
        recompute=settings.recompute,
        lora_rank=settings.lora_rank,
        lora_targets=settings.lora_targets,
        flash=settings.flash_attention,
    )


def plan_for(model: LoadedModel, settings: Settings, deployment: Deployment, hardware: Accelerator) -> Plan:
    """``core.plan.make_plan`` for one model (a few ms; called from a worker). Raises LmscopeError."""
    from lmscope.core.errors import ConfigError
    from lmscope.core.plan import make_plan

    arch, params = _architecture(model), model.params
    if params is None:
        raise ConfigError(f"{model.model_id}: no parameter count to plan with")
    return make_plan(
        arch,
        params,
        plan_request(settings, deployment),
        hardware,
        model_id=model.model_id,
        is_gguf=model.report.source.kind == "gguf",
    )
