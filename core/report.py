"""The Report: one model, fully analysed under one Settings, ready to export.

:func:`build_report` is the single pipeline every front end uses (CLI
``report``/``compare``, the TUI, exports): parse the config (unless the
source built the architecture itself, as GGUF does), count parameters
(exactly, with the meta-device engine, when asked and possible — the
analytic count is always computed too and both are kept with their
difference), estimate memory/KV/FLOPs, read the tokenizer, derive
capabilities, and check the stored tensors against the class count,
explaining the difference when the files make it explainable (tied
embeddings stored twice, multi-token-prediction layers, packed INT4 words,
quantization scales).

:meth:`Report.to_dict` is the JSON contract (CONTRACT.md "JSON report",
``schema_version`` 1): integers for bytes and FLOPs, nothing that is not
JSON (NaN/inf become null).
"""

from __future__ import annotations

import math
import re
from dataclasses import asdict, dataclass, field, replace

from lmscope.core.architecture import Architecture, QuantSpec
from lmscope.core.capabilities import LONG_CONTEXT_TOKENS, Capabilities, derive_capabilities
from lmscope.core.errors import ConfigError, LmscopeError, UsageError
from lmscope.core.lineage import Lineage, derive_lineage
from lmscope.core.name_quant import NameQuant, quantization_from_name
from lmscope.core.results import Estimate, ParameterBreakdown, Settings
from lmscope.core.sources.base import HubMetadata, ModelSource, StoredTensors
from lmscope.core.tokenizer import TokenizerFacts, tokenizer_facts

SCHEMA_VERSION = 1

# Tensors a checkpoint stores that are not parameters of the class.
_NON_PARAM_SUFFIXES = (
    "rotary_emb.inv_freq",
    ".qzeros",
    ".scales",
    ".g_idx",
    ".weight_scale",
    ".weight_scale_inv",
    ".input_scale",
    ".k_scale",
    ".v_scale",
    ".weight_zero_point",
    ".input_zero_point",
    ".absmax",
    ".quant_map",
    ".quant_state",
    ".nested_absmax",
    ".nested_quant_map",
    ".biases",  # MLX affine quantization biases
    ".weight_global_scale",
    ".input_global_scale",
    ".weight_packed",  # compressed-tensors packed words (counted separately below)
    ".weight_shape",  # compressed-tensors: the unpacked shape, stored as a tensor
)
_LAYER_INDEX = re.compile(r"(?:^|\.)layers\.(\d+)\.")


@dataclass(frozen=True)
class StoredCheck:
    """What the files store compared with what the class holds."""

    stored_params: int
    stored_bytes: int
    class_params: int
    difference: int  # stored − class
    params_by_dtype: dict[str, int]
    explained: bool
    explanations: tuple[str, ...] = ()

    def to_dict(self) -> dict[str, object]:
        return asdict(self) | {"explanations": list(self.explanations)}


@dataclass(frozen=True)
class Report:
    """Everything lmscope knows about one model under one :class:`Settings`.

    ``estimate`` is None only when there is no architecture (an ONNX file
    without a config beside it). ``parameters_exact`` / ``parameters_analytic``
    keep both engines' answers when both ran; ``estimate.parameters`` is the
    one used.
    """

    source: ModelSource
    settings: Settings
    architecture: Architecture | None
    estimate: Estimate | None
    tokenizer: TokenizerFacts | None
    capabilities: Capabilities | None
    stored: StoredTensors | None
    stored_check: StoredCheck | None = None
    parameters_analytic: ParameterBreakdown | None = None
    parameters_exact: ParameterBreakdown | None = None
    notes: tuple[str, ...] = ()
    onnx_graph: dict | None = None  # --detailed on an ONNX file: inferred shapes, layer boundaries, hazards
    lineage: Lineage | None = None  # generation within the family and training stage
    name_quantization: NameQuant | None = None  # quantization the id names when the files do not say
    analysis_timestamp: str = ""  # ISO 8601 UTC, set once by build_report (to_dict stays deterministic)

    @property
    def model_id(self) -> str:
        return self.source.model_id

    @property
    def parameters(self) -> ParameterBreakdown | None:
        """The parameter breakdown the estimates used (exact when it ran)."""
        if self.estimate is not None:
            return self.estimate.parameters
        return self.parameters_exact or self.parameters_analytic

    @property
    def quantization(self) -> QuantSpec | None:
        """How the checkpoint's weights are quantized (None when they are not)."""
        return self.architecture.quantization if self.architecture is not None else None

    @property
    def metadata(self) -> HubMetadata | None:
        """What the Hub says about the repo (None for local files and the catalog)."""
        return self.source.metadata

    def to_dict(self) -> dict[str, object]:
        """The JSON report of CONTRACT.md (schema_version 1), JSON-safe."""
        return _json_safe(_report_dict(self))

    def _repr_markdown_(self) -> str:
        """Jupyter shows the summary (the Markdown export without the per-step detail)."""
        from lmscope.core.export import report_to_markdown

        return report_to_markdown(self, detailed=False)


# --------------------------------------------------------------------------- building


CONTEXT_OVERFLOW = "exceeds the model's context length"  # every format shows notes holding it first
DEFAULT_SEQ_LEN = 4096


def context_note(capabilities: Capabilities | None, seq_len: int) -> str | None:
    """The warning for a length past the model's context (encoders too: BERT's 512 learned
    positions are a hard limit), or None."""
    context = capabilities.max_context_length if capabilities is not None else None
    if context and seq_len > context:
        return f"sequence length {seq_len:,} {CONTEXT_OVERFLOW} {context:,}; the estimates extrapolate"
    return None


def notes_at(notes: tuple[str, ...], capabilities: Capabilities | None, seq_len: int) -> tuple[str, ...]:
    """``notes`` with the context warning for ``seq_len`` (a report re-estimated at new settings)."""
    kept = [n for n in notes if CONTEXT_OVERFLOW not in n]
    overflow = context_note(capabilities, seq_len)
    return tuple(kept + [overflow] if overflow else kept)


def default_seq_len(architecture: Architecture | None) -> int:
    """The sequence length to use when none is asked for: 4,096 — or, for a model that cannot
    generate (an encoder such as BERT), the longest it supports when that is shorter."""
    if architecture is None:
        return DEFAULT_SEQ_LEN
    caps = derive_capabilities(architecture, None)
    if not caps.can_generate and caps.max_context_length:
        return min(DEFAULT_SEQ_LEN, caps.max_context_length)
    return DEFAULT_SEQ_LEN


def build_report(
    source: ModelSource,
    settings: Settings,
    *,
    exact: bool = True,
    partial: bool = False,
    skip_tokenizer: bool = False,
    onnx_detail: bool = False,
    seq_len_given: bool = True,
) -> Report:
    """Analyse ``source`` under ``settings``.

    ``exact``: also run the meta-device exact engine (slow on first use,
    cached afterwards) and use its count when it knows the class.

    The engines are independent: when the parser cannot build an
    :class:`Architecture`, the report still carries the exact count, the
    stored tensors and the config's facts, and says what is missing and why
    (no memory/KV/FLOPs estimates). It raises :class:`ConfigError` only for a
    config that describes no model at all, or when nothing at all could be
    counted (``partial=True``, for the app, returns that report anyway: its
    exact count arrives later).
    ``skip_tokenizer``: do not read the tokenizer files (tokenizer.json can be
    tens of MB); tokenizer facts, chat template and the stage evidence they
    give are then unknown. ``onnx_detail``: for an ONNX file, also run the
    bounded graph analysis (shape inference, layer boundaries, hazards).

    ``seq_len_given=False``: the user asked for no length, so use the model's
    :func:`default_seq_len` instead of ``settings.seq_len``.
    """
    notes: list[str] = list(source.notes)
    architecture = source.architecture
    has_config = bool(source.files.config)
    parse_error: ConfigError | None = None
    if architecture is None and source.kind != "onnx":  # an ONNX graph may come without a config
        from lmscope.core.parse import ConfigUnsupported, architecture_from_config, describes_model

        if not describes_model(source.files.config):
            raise ConfigError("config.json describes no model (no model_type, architectures or sizes)")
        try:
            architecture = architecture_from_config(source.files)
        except ConfigUnsupported as err:
            parse_error = err  # the exact engine and the stored headers do not need the parser
    if skip_tokenizer:
        tokenizer = None
        notes.append("tokenizer skipped (--skip-tokenizer): tokenizer facts, chat template and tool use unknown")
    else:
        tokenizer = _with_hub_template(tokenizer_facts(source.files), source)
    if tokenizer is not None:
        notes.extend(tokenizer.notes)
    onnx_graph = _onnx_graph(source, notes) if onnx_detail and source.kind == "onnx" else None
    if architecture is None:
        return _partial_report(source, settings, tokenizer, notes, parse_error, exact=exact, partial=partial, onnx_graph=onnx_graph)
    notes.extend(architecture.notes)
    if not seq_len_given:
        settings = replace(settings, seq_len=default_seq_len(architecture))

    from lmscope.core.params import count_parameters

    analytic = count_parameters(architecture)
    exact_params = None
    if exact and has_config and source.architecture is None:
        exact_params, exact_note = _exact(source.files.config, architecture.model_type)
        if exact_note:
            notes.append(exact_note)
    elif exact and source.architecture is not None:
        notes.append(f"{source.kind} source: parameters counted by the analytic engine from the file's metadata")
    if architecture.family.startswith("Unknown") and not any("analytic engine only" in n for n in notes):
        notes.append(
            f"unknown architecture {architecture.model_type!r}: analytic engine only, assuming a standard transformer layout"
        )
    chosen = exact_params or analytic
    if analytic.method == "approximate":
        if exact_params is not None:
            notes.append(f"{analytic.note}: the exact (class) count is used")
        else:
            stored_params = _stored_breakdown(source.stored, architecture, analytic) if source.stored is not None else None
            if stored_params is not None:
                chosen = stored_params
                notes.append(f"parameters are the stored tensors' count: {analytic.note} and the exact engine could "
                             f"not build the class (the formulas give {analytic.total:,}, approximate)")
            else:
                notes.append(f"parameters approximate: {analytic.note} and neither the exact engine nor stored "
                             "tensors could count them")
    if exact_params is not None and analytic is not None:
        diff = analytic.total - exact_params.total
        if diff:
            pct = 100.0 * diff / exact_params.total if exact_params.total else 0.0
            notes.append(
                f"analytic count differs from the exact (class) count by {diff:+,} ({pct:+.3f}%); the exact count is used"
            )

    from lmscope.core.estimate import estimate as run_estimate

    est = run_estimate(architecture, settings, params=chosen)
    notes.extend(est.notes)
    stored_check = check_stored(source.stored, architecture, chosen) if source.stored is not None else None
    if stored_check is not None and stored_check.difference and not stored_check.explained:
        notes.append(
            f"the files store {stored_check.difference:+,} elements compared with the class count; not explained by tied embeddings, MTP layers or quantization tensors"
        )
    capabilities = derive_capabilities(architecture, tokenizer)
    capabilities = _with_context_fallback(capabilities, tokenizer)
    name_quant = quantization_from_name(source.model_id) if architecture.quantization is None else None
    if name_quant is not None:
        notes.append(
            f"the id names {name_quant.method or 'a'} {_bits_text(name_quant.bits)}quantization but the files do not say: "
            "shown as 'from the name'; the estimates follow the files and --dtype"
        )
    overflow = context_note(capabilities, settings.seq_len)
    if overflow:
        notes.append(overflow)
    return Report(
        source=source,
        settings=settings,
        architecture=architecture,
        estimate=est,
        tokenizer=tokenizer,
        capabilities=capabilities,
        stored=source.stored,
        stored_check=stored_check,
        parameters_analytic=analytic,
        parameters_exact=exact_params,
        notes=tuple(dict.fromkeys(n for n in notes if n)),
        lineage=derive_lineage(source.model_id, architecture, source.files, tokenizer),
        name_quantization=name_quant,
        analysis_timestamp=_now(),
        onnx_graph=onnx_graph,
    )


def _partial_report(
    source: ModelSource,
    settings: Settings,
    tokenizer: TokenizerFacts | None,
    notes: list[str],
    parse_error: ConfigError | None,
    *,
    exact: bool,
    partial: bool,
    onnx_graph: dict | None = None,
) -> Report:
    """A report without an architecture: what the exact engine, the headers and the config still give."""
    exact_params = None
    if parse_error is not None:
        reason = str(parse_error).removeprefix("config.json: ")
        notes.append(f"no memory, KV cache or FLOPs estimates: the analytic engine cannot read this config ({reason})")
        if exact:
            exact_params, exact_note = _exact(source.files.config, str(source.files.config.get("model_type")))
            if exact_note:
                notes.append(exact_note.replace(": analytic engine only", ""))
        if exact_params is None and source.stored is None and not partial:
            raise parse_error
        if exact_params is not None:
            notes.append("parameters counted exactly by the model class (meta device)")
            if source.stored is not None and source.stored.total_params != exact_params.total:
                diff = source.stored.total_params - exact_params.total
                notes.append(f"the files store {diff:+,} elements compared with the class count; not explained "
                             "by the analytic engine, which cannot read this config")
        elif source.stored is not None:
            notes.append("parameters are the stored tensors' element count (no class count available)")
    else:
        notes.append("no architecture: only what the file itself describes is reported")
    return Report(
        source=source,
        settings=settings,
        architecture=None,
        estimate=None,
        tokenizer=tokenizer,
        capabilities=None,
        stored=source.stored,
        parameters_exact=exact_params,
        notes=tuple(dict.fromkeys(notes)),
        name_quantization=quantization_from_name(source.model_id),
        analysis_timestamp=_now(),
        onnx_graph=onnx_graph,
    )


def _onnx_graph(source: ModelSource, notes: list[str]) -> dict | None:
    """The bounded ONNX graph analysis; a failure becomes a note, never an error."""
    from lmscope.core.onnx_graph import analyse_onnx_graph

    try:
        graph = analyse_onnx_graph(source.location)
    except Exception as err:  # noqa: BLE001 - the file was already read once; this is an extra view
        notes.append(f"ONNX graph analysis failed ({type(err).__name__}): graph facts only")
        return None
    notes.extend(graph.get("notes") or [])
    return graph


def _now() -> str:
    """The current time as ISO 8601 UTC with a Z (the seeds' ``analysis_timestamp`` form)."""
    from datetime import datetime, timezone

    return datetime.now(timezone.utc).isoformat(timespec="seconds").replace("+00:00", "Z")


def _bits_text(bits: float | None) -> str:
    return f"{bits:g}-bit " if bits else ""


# A tokenizer's model_max_length above this is a placeholder, not a context (transformers' VERY_LARGE_INTEGER is 1e30).
_MAX_PLAUSIBLE_CONTEXT = 1 << 24


def _with_context_fallback(caps: Capabilities, tokenizer: TokenizerFacts | None) -> Capabilities:
    """A context length for configs that state none (Falcon-7B): the tokenizer's ``model_max_length``.

    (transformers' config classes default to the same figure for such models —
    FalconConfig's 2048 — but importing transformers costs seconds and would
    make the answer depend on whether it happened to be loaded.)
    """
    if caps.max_context_length is not None:
        return caps
    length = tokenizer.model_max_length if tokenizer is not None else None
    if length and 0 < length <= _MAX_PLAUSIBLE_CONTEXT:
        return replace(
            caps,
            max_context_length=length,
            context_length_source="tokenizer model_max_length",
            long_context=caps.can_generate and length >= LONG_CONTEXT_TOKENS,
        )
    return caps


_TEMPLATE_FILES = ("chat_template.jinja", "chat_template.json")


def _with_hub_template(facts: TokenizerFacts | None, source: ModelSource) -> TokenizerFacts | None:
    """Hub repos that ship the chat template as its own file (not fetched) still have one."""
    meta = source.metadata
    if meta is None or (facts is not None and facts.chat_template):
        return facts
    if not any(path.rsplit("/", 1)[-1] in _TEMPLATE_FILES for path, _ in meta.files):
        return facts
    note = "chat template shipped as a separate file in the repo (not read: tool use unknown)"
    if facts is None:
        return TokenizerFacts(chat_template=True, chat_template_read=False, notes=(note,))
    return replace(facts, chat_template=True, chat_template_read=False, notes=(*facts.notes, note))


def _exact(config: dict, model_type: str) -> tuple[ParameterBreakdown | None, str | None]:
    try:
        from lmscope.core import exact as exact_engine
    except ImportError:
        return None, "exact engine unavailable: analytic engine only"
    if not exact_engine.exact_available():
        return None, "torch/transformers not installed: analytic engine only"
    try:
        result = exact_engine.exact_parameters(config)
    except LmscopeError as err:
        return None, f"exact engine failed ({err}): analytic engine only"
    except Exception as err:  # noqa: BLE001 - a third-party class must not break the report
        return None, f"exact engine failed ({type(err).__name__}): analytic engine only"
    if result is None:
        if _transformers_knows(model_type):
            cls = (config.get("architectures") or ["the model class"])[0]
            return None, f"the exact engine could not build {cls}: analytic engine only"
        return None, f"transformers does not know {model_type}: analytic engine only"
    return result, None


def _transformers_knows(model_type: str) -> bool:
    """Whether the installed transformers has a config class for ``model_type`` (it is imported by now)."""
    import sys

    if "transformers" not in sys.modules:
        return False
    try:
        from transformers import CONFIG_MAPPING

        return model_type in CONFIG_MAPPING
    except Exception:  # noqa: BLE001 - only used to word a note
        return False


def _stored_breakdown(stored: StoredTensors, arch: Architecture, analytic: ParameterBreakdown) -> ParameterBreakdown | None:
    """The stored tensors as a parameter breakdown (method="stored"), or None when elements are not weights.

    Tied heads stored twice and MTP layers outside the class are left out,
    like the class count; packed quantized words are not parameters one to
    one, so such checkpoints keep the approximate analytic count.
    """
    packed, per_element = _packed_tensors(stored, arch)
    if packed and per_element > 1:
        return None
    from lmscope.core.exact import breakdown_from_names

    names = []
    for t in stored.tensors:
        if _is_non_param(t.name) or (arch.tied_embeddings and t.name == "lm_head.weight"):
            continue
        m = _LAYER_INDEX.search(t.name)
        if arch.num_mtp_layers and m and int(m.group(1)) >= arch.num_layers:
            continue
        names.append((t.name, t.numel))
    if not names:
        return None
    top_k = (arch.moe.experts_per_token, arch.moe.num_experts) if arch.moe is not None else (0, 0)
    result = breakdown_from_names(names, top_k=top_k)
    return replace(result, method="stored", matmul_per_token=analytic.matmul_per_token,
                   note="counted from the stored tensors; FLOPs use the approximate analytic matmul count")


def _is_non_param(name: str) -> bool:
    """Quantization side tensors and buffers that a checkpoint stores but the class does not count."""
    return name.endswith(_NON_PARAM_SUFFIXES) or ".quant_state." in name


def _packed_tensors(stored: StoredTensors, arch: Architecture) -> tuple[list, float]:
    """(tensors whose elements are packed words, weights per stored element)."""
    quant = arch.quantization
    method = quant.method if quant is not None else None
    bits = quant.bits if quant is not None and quant.bits else 4.0
    if method == "bitsandbytes":  # 4-bit bnb: two weights per uint8
        packed = [t for t in stored.tensors if t.dtype == "U8" and t.name.endswith(".weight")]
        return packed, 8 / bits if bits < 8 else 1.0
    packed = [
        t
        for t in stored.tensors
        if t.dtype in ("I32", "U32")
        and (t.name.endswith((".qweight", ".weight_packed")) or (method == "mlx" and t.name.endswith(".weight")))
    ]
    return packed, 32 / bits


def check_stored(stored: StoredTensors, arch: Architecture, params: ParameterBreakdown) -> StoredCheck:
    """Compare stored elements with the class count and explain the difference where possible."""
    total = stored.total_params
    diff = total - params.total
    explanations: list[str] = []
    remaining = diff
    names = {t.name for t in stored.tensors}

    packed, per_element = _packed_tensors(stored, arch)
    packed_names = {t.name for t in packed}
    non_param = [t for t in stored.tensors if _is_non_param(t.name) and t.name not in packed_names]
    if non_param:
        count = sum(t.numel for t in non_param)
        remaining -= count
        explanations.append(f"{count:,} elements in {len(non_param)} quantization/buffer tensors (scales, zeros, inv_freq) are not parameters")
    if packed and per_element > 1:
        words = sum(t.numel for t in packed)
        weights = int(round(words * per_element))
        remaining += weights - words
        explanations.append(
            f"{len(packed)} packed tensors hold {per_element:g} weights per stored element ({words:,} stored = {weights:,} weights)"
        )

    if arch.tied_embeddings and "lm_head.weight" in names:
        head = next(t for t in stored.tensors if t.name == "lm_head.weight")
        remaining -= head.numel
        explanations.append(f"tied embeddings stored twice (lm_head.weight, {head.numel:,} elements)")

    if arch.num_mtp_layers:
        mtp = 0
        for t in stored.tensors:
            m = _LAYER_INDEX.search(t.name)
            if m and int(m.group(1)) >= arch.num_layers:
                mtp += t.numel
        if mtp:
            remaining -= mtp
            explanations.append(f"{arch.num_mtp_layers} multi-token-prediction layer(s) stored but not in the class ({mtp:,} elements)")

    explained = diff == 0 or (remaining == 0 and bool(explanations))
    if diff and not explained and explanations:
        explanations.append(f"{remaining:+,} elements remain unexplained")
    return StoredCheck(
        stored_params=total,
        stored_bytes=stored.total_bytes,
        class_params=params.total,
        difference=diff,
        params_by_dtype=stored.params_by_dtype(),
        explained=explained,
        explanations=tuple(explanations),
    )


# --------------------------------------------------------------------------- JSON


def _json_safe(value: object) -> object:
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, dict):
        return {str(k): _json_safe(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_json_safe(v) for v in value]
    if isinstance(value, (str, int, bool)) or value is None:
        return value
    if hasattr(value, "value") and isinstance(getattr(value, "value"), str):  # enums
        return value.value
    return str(value)


def settings_dict(settings: Settings) -> dict[str, object]:
    """The settings block of every JSON export."""
    return {
        "seq_len": settings.seq_len,
        "batch": settings.batch,
        "dtype": settings.dtype,
        "kv_dtype": settings.kv_dtype or settings.dtype,
        "mode": settings.mode,
        "flash_attention": settings.flash_attention,
        "recompute": settings.recompute,
        "zero_stage": settings.zero_stage,
        "num_gpus": settings.num_gpus,
        "optimizer": settings.optimizer,
        "lora_rank": settings.lora_rank,
    }


def _resolved_dtypes(est: Estimate | None) -> dict[str, str] | None:
    """The dtypes the estimate actually used ("auto"/None made concrete)."""
    if est is None or not getattr(est, "weight_dtype", ""):
        return None
    return {"weights": est.weight_dtype, "compute": est.compute_dtype, "kv": est.kv_dtype}


def _parameters_dict(report: Report) -> dict[str, object] | None:
    params = report.parameters
    if params is None:
        if report.stored is not None:
            return {
                "total": report.stored.total_params,
                "active_per_token": None,
                "embedding": None,
                "by_component": {},
                "method": "stored",
            }
        return None
    out: dict[str, object] = {
        "total": params.total,
        "active_per_token": params.active_per_token if params.active_known else None,
        "embedding": params.embedding,
        "by_component": dict(params.by_component),
        "method": params.method,
        # the exact engine counts names, not matmuls: without an architecture there is no figure
        "matmul_per_token": params.matmul_per_token if report.architecture is not None or params.matmul_per_token else None,
    }
    if report.parameters_exact is not None and report.parameters_analytic is not None:
        out["exact_total"] = report.parameters_exact.total
        out["analytic_total"] = report.parameters_analytic.total
        out["analytic_minus_exact"] = report.parameters_analytic.total - report.parameters_exact.total
    if params.note:
        out["note"] = params.note
    return out


# Naive bytes per parameter (every parameter at the dtype, no scales, 16-bit embeddings or packing): the
# figure seed 000 prints beside FP32/FP16; lmscope's own weights_bytes keep quantization overhead.
NAIVE_BYTES_PER_PARAMETER: dict[str, float] = {"fp32": 4.0, "fp16": 2.0, "bf16": 2.0, "fp8": 1.0, "int8": 1.0, "int4": 0.5}


def naive_weight_bytes(total_parameters: int) -> dict[str, int]:
    """parameters × bytes per parameter for each dtype (int4 rounded up to whole bytes)."""
    return {k: math.ceil(total_parameters * v) for k, v in NAIVE_BYTES_PER_PARAMETER.items()}


def _memory_dict(est: Estimate) -> dict[str, object]:
    m = est.memory
    return {
        "weights_bytes": dict(m.weights_bytes),
        "weights_bytes_naive": naive_weight_bytes(est.parameters.total),
        "weights_bytes_selected": m.weights_bytes_selected,
        "kv_cache_bytes_per_token": m.kv_cache_bytes_per_token,
        "kv_cache_bytes": m.kv_cache_bytes,
        "state_bytes": m.state_bytes,
        "activation_bytes": m.activation_bytes,
        "activation_bytes_no_flash": m.activation_bytes_no_flash,
        "inference_total_bytes": m.inference_total_bytes,
        "training_total_bytes": m.training_total_bytes,
        "training_breakdown": dict(m.training_breakdown),
        "kv_per_layer_kind": dict(m.kv_per_layer_kind),
        "lora_trainable_parameters": est.lora_trainable_parameters,
        "lora_memory_bytes": est.lora_memory_bytes,
        "qlora_memory_bytes": est.qlora_memory_bytes,
    }


def _flops_dict(est: Estimate) -> dict[str, object]:
    f = est.flops
    return {
        "prefill": {
            "total": f.prefill_total,
            "linear": f.prefill_linear,
            "attention": f.prefill_attention,
            "attention_causal": f.prefill_attention_causal,
        },
        "decode_per_token": f.decode_per_token,
        "training_step": f.training_step,
        "by_component": dict(f.by_component),
        "prefill_intensity": f.prefill_intensity,
        "decode_intensity": f.decode_intensity,
    }


def _shapes_dict(arch: Architecture, est: Estimate) -> list[dict[str, object]]:
    """Activation shapes of one layer per step, prefill and decode (seed 004's spreadsheet).

    Uses the estimate's resolved compute dtype for the byte sizes, so the rows
    line up with the activation figures of the same report.
    """
    from lmscope.core.estimate.shapes import step_shapes
    from lmscope.core.results import DTYPE_BYTES

    settings = est.settings
    bytes_per_element = DTYPE_BYTES.get(est.compute_dtype, 2.0)
    rows = step_shapes(arch, seq_len=settings.seq_len, batch=settings.batch, bytes_per_element=bytes_per_element)
    return [
        {"phase": r.phase, "step": r.step, "shape": list(r.shape), "dims": list(r.dims), "bytes": r.nbytes, "flops": r.flops}
        for r in rows
    ]


def _attention_dict(report: Report) -> dict[str, object]:
    arch = report.architecture
    assert arch is not None
    rope = arch.rope
    caps = report.capabilities
    out: dict[str, object] = {
        "kind": caps.attention if caps is not None else None,
        "num_heads": arch.num_heads,
        "num_kv_heads": arch.num_kv_heads,
        "head_dim": arch.head_dim,
        "sliding_window": arch.sliding_window,
        "layer_types": [layer.mixer.value for layer in arch.layers],
        "attention_layers": arch.attention_layers,
        "position_encoding": arch.position_encoding,
        "rope": asdict(rope) if rope is not None else None,
        "mla": asdict(arch.mla) if arch.mla is not None else None,
        "qk_norm": arch.qk_norm,
        "attention_bias": arch.attention_bias,
    }
    return out


def _moe_dict(arch: Architecture) -> dict[str, object] | None:
    if arch.moe is None:
        return None
    moe = arch.moe
    return {
        "num_experts": moe.num_experts,
        "experts_per_token": moe.experts_per_token,
        "shared_experts": moe.num_shared_experts,
        "expert_intermediate_size": moe.expert_intermediate_size,
        "shared_expert_intermediate_size": moe.shared_expert_intermediate_size,
        "moe_layers": sum(1 for layer in arch.layers if layer.ffn.value == "moe"),
        "dense_layers": sum(1 for layer in arch.layers if layer.ffn.value == "dense"),
        "router_bias": moe.router_bias,
        "gated": moe.gated,
    }


def _quantization_dict(report: Report) -> dict[str, object] | None:
    quant = report.quantization
    if quant is None:
        return None
    return {
        "method": quant.method,
        "bits": quant.bits,
        "group_size": quant.group_size,
        "symmetric": quant.symmetric,
        "details": {k: v for k, v in quant.details},
    }


def _metadata_dict(report: Report) -> dict[str, object] | None:
    meta = report.source.metadata
    if meta is None:
        return None
    out = asdict(meta)
    files = out.pop("files", ())
    out["file_count"] = len(files)
    out["tags"] = list(meta.tags)
    return out


def _architecture_dict(arch: Architecture) -> dict[str, object]:
    return {
        "hidden_size": arch.hidden_size,
        "num_layers": arch.num_layers,
        "intermediate_size": arch.intermediate_size,
        "vocab_size": arch.vocab_size,
        "max_position_embeddings": arch.max_position_embeddings,
        "activation": arch.activation,
        "gated_ffn": arch.gated_ffn,
        "norm": arch.norm,
        "tied_embeddings": arch.tied_embeddings,
        "objective": arch.objective.value,
        "torch_dtype": arch.torch_dtype,
        "layer_counts": arch.layer_counts(),
        "encoder_layers": len(arch.encoder_layers),
        "num_mtp_layers": arch.num_mtp_layers,
        "ssm": asdict(arch.ssm) if arch.ssm is not None else None,
        "vision": asdict(arch.vision) if arch.vision is not None else None,
    }


def _version() -> str:
    from lmscope import __version__

    return __version__


def _objective(report: Report) -> str | None:
    arch = report.architecture
    return arch.objective.value if arch is not None else None


def _report_dict(report: Report) -> dict[str, object]:
    arch = report.architecture
    est = report.estimate
    source = report.source
    lineage = report.lineage
    out = {
        "schema_version": SCHEMA_VERSION,
        "model_id": source.model_id,
        "source": source.kind,
        "location": source.location,
        "revision": source.revision,
        "family": arch.family if arch is not None else _config_family(source),
        "model_type": arch.model_type if arch is not None else _config_str(source, "model_type"),
        "architecture_class": arch.architecture_class if arch is not None else _config_class(source),
        "settings": settings_dict(report.settings) | {"resolved": _resolved_dtypes(est)},
        "parameters": _parameters_dict(report),
        "memory": _memory_dict(est) if est is not None else None,
        "flops": _flops_dict(est) if est is not None else None,
        "shapes": _shapes_dict(arch, est) if arch is not None and est is not None else None,
        "attention": _attention_dict(report) if arch is not None else None,
        "moe": _moe_dict(arch) if arch is not None else None,
        "tokenizer": report.tokenizer.to_dict() if report.tokenizer is not None else None,
        "quantization": _quantization_dict(report),
        "capabilities": report.capabilities.to_dict() if report.capabilities is not None else {},
        "metadata": _metadata_dict(report),
        "architecture": _architecture_dict(arch) if arch is not None else None,
        "stored": _stored_dict(report),
        "file": dict(source.file_facts) or None,
        "provenance": _provenance(source),
        "notes": list(report.notes),
        # additive keys (seed parity): who wrote this, when, and the checkpoint's lineage
        "lmscope_version": _version(),
        "analysis_timestamp": report.analysis_timestamp or None,
        "objective": _objective(report),
        "generation": lineage.generation if lineage is not None else None,
        "training_stage": lineage.stage if lineage is not None else None,
        "lineage": lineage.to_dict() if lineage is not None else None,
        "quantization_from_name": report.name_quantization.to_dict() if report.name_quantization is not None else None,
        "onnx_graph": report.onnx_graph,
    }
    if arch is not None and est is not None:
        _add_phase_views(out, arch, est)
    add_human_strings(out)
    return out


def _add_phase_views(out: dict, arch: Architecture, est: Estimate) -> None:
    """Seed 002/003/004 views: memory and FLOPs by component per phase, flash-decoding, roofline,
    tensor shapes for every layer kind, conversion hazards (all additive keys)."""
    from lmscope.core import phases
    from lmscope.core.estimate.shapes import index_ranges, step_shapes_by_kind
    from lmscope.core.onnx_graph import conversion_challenges
    from lmscope.core.results import DTYPE_BYTES

    memory, flops = out["memory"], out["flops"]
    memory["weights_by_component"] = phases.weights_by_component(arch, est)
    memory["flash_decoding"] = phases.flash_decoding(arch, est)
    flops["decode_by_component"] = phases.decode_flops_by_component(arch, est)
    flops["training_by_component"] = phases.training_flops_by_component(est)
    flops["roofline"] = phases.roofline(est)
    settings = est.settings
    kinds = step_shapes_by_kind(arch, seq_len=settings.seq_len, batch=settings.batch, bytes_per_element=DTYPE_BYTES.get(est.compute_dtype, 2.0))
    out["shapes_by_layer_kind"] = [
        {
            "kind": k.label,
            "layers": list(k.layers),
            "layer_ranges": index_ranges(k.layers),
            "rows": [{"phase": r.phase, "step": r.step, "shape": list(r.shape), "dims": list(r.dims), "bytes": r.nbytes, "flops": r.flops} for r in k.rows],
        }
        for k in kinds
    ]
    out["conversion"] = conversion_challenges(arch)


# section -> unit of its integers (keys ending in these are left alone: ratios, counts of things)
_HUMAN_SECTIONS = {"parameters": "params", "memory": "bytes", "flops": "flops"}
_NOT_HUMAN = ("intensity", "layers", "_ratio", "partitions", "partition_tokens", "context", "balance")


def add_human_strings(d: dict) -> None:
    """Add ``<key>_human`` beside every integer of the parameters/memory/flops sections ("7.24 B", "13.49 GiB").

    Additive keys only (CONTRACT names keep their integers); nested dicts of
    integers get a sibling dict (``weights_bytes_human``).
    """
    from lmscope.core.export import human  # lazy: export imports this module

    for section, unit in _HUMAN_SECTIONS.items():
        block = d.get(section)
        if isinstance(block, dict):
            _humanize_block(block, unit, human)


def _humanize_block(block: dict, unit: str, human) -> None:
    additions: dict[str, object] = {}
    for key, value in block.items():
        if key.endswith(_NOT_HUMAN) or key in ("method", "note"):
            continue
        key_unit = "params" if "parameters" in key else unit
        if isinstance(value, bool):
            continue
        if isinstance(value, int):
            additions[f"{key}_human"] = human(value, key_unit)
        elif isinstance(value, dict) and value and all(isinstance(v, int) and not isinstance(v, bool) for v in value.values()):
            additions[f"{key}_human"] = {k: human(v, key_unit) for k, v in value.items()}
        elif isinstance(value, dict):
            _humanize_block(value, key_unit, human)
    block.update(additions)


def _config_str(source: ModelSource, key: str) -> str | None:
    value = source.files.config.get(key)
    return value[:100] if isinstance(value, str) else None


def _config_class(source: ModelSource) -> str | None:
    archs = source.files.config.get("architectures")
    return archs[0][:100] if isinstance(archs, list) and archs and isinstance(archs[0], str) else None


def _config_family(source: ModelSource) -> str | None:
    """The family the config names, read without the parser (a report without an architecture still has one)."""
    if not source.files.config:
        return None
    from lmscope.core.families import detect_family

    cls = _config_class(source)
    return detect_family(_config_str(source, "model_type"), (cls,) if cls else ())


def _provenance(source: ModelSource) -> list[str] | None:
    """Where a built-in catalog entry's files were copied from (None for other sources)."""
    if source.kind != "catalog":
        return None
    from lmscope.core.sources.catalog import catalog_provenance

    return list(catalog_provenance(source.model_id)) or None


def _stored_dict(report: Report) -> dict[str, object] | None:
    stored = report.stored
    if stored is None:
        return None
    out: dict[str, object] = {
        "source": stored.source,
        "tensors": len(stored.tensors),
        "total_params": stored.total_params,
        "total_bytes": stored.total_bytes,
        "params_by_dtype": stored.params_by_dtype(),
        "notes": list(stored.notes),
    }
    out.update(stored_layers(stored))
    if report.stored_check is not None:
        out["check"] = report.stored_check.to_dict()
    return out


_STORED_LAYER = re.compile(r"(?:^|[./_])(?:layers|layer|h|blk|blocks|block)[./_](\d+)(?:[./_]|$)")


def stored_layers(stored: StoredTensors) -> dict[str, object]:
    """Layer count and bytes per layer, read from the stored tensor names (``layers.N.``, ``blk.N.``, ``h.N.``).

    This is what a file without a config (an ONNX export) still tells about
    its depth; for every checkpoint it shows how evenly the bytes spread.
    """
    per_layer: dict[int, int] = {}
    outside = 0
    for t in stored.tensors:
        m = _STORED_LAYER.search(t.name)
        if m:
            index = int(m.group(1))
            per_layer[index] = per_layer.get(index, 0) + t.nbytes
        else:
            outside += t.nbytes
    if not per_layer:
        return {"layer_count": None, "bytes_per_layer": [], "bytes_outside_layers": outside}
    count = max(per_layer) + 1
    return {
        "layer_count": count,
        "bytes_per_layer": [per_layer.get(i, 0) for i in range(count)],
        "bytes_outside_layers": outside,
    }


# --------------------------------------------------------------------------- comparison

# (dotted path in the report dict, label, unit) — unit: params | bytes | flops | tokens
COMPARE_METRICS: tuple[tuple[str, str, str], ...] = (
    ("parameters.total", "parameters", "params"),
    ("parameters.active_per_token", "active per token", "params"),
    ("memory.weights_bytes_selected", "weights", "bytes"),
    ("memory.kv_cache_bytes_per_token", "KV cache / token", "bytes"),
    ("memory.kv_cache_bytes", "KV cache", "bytes"),
    ("memory.state_bytes", "fixed state", "bytes"),
    ("memory.activation_bytes", "activations", "bytes"),
    ("memory.inference_total_bytes", "inference total", "bytes"),
    ("memory.training_total_bytes", "training total", "bytes"),
    ("flops.prefill.total", "prefill FLOPs", "flops"),
    ("flops.decode_per_token", "decode FLOPs / token", "flops"),
    ("flops.training_step", "training step FLOPs", "flops"),
    ("capabilities.max_context_length", "context length", "tokens"),
)
COMPARE_FACTS: tuple[tuple[str, str], ...] = (
    ("family", "family"),
    ("architecture_class", "class"),
    ("attention.kind", "attention"),
    ("attention.num_heads", "heads"),
    ("attention.num_kv_heads", "KV heads"),
    ("attention.head_dim", "head dim"),
    ("architecture.num_layers", "layers"),
    ("architecture.hidden_size", "hidden size"),
    ("architecture.vocab_size", "vocab"),
    ("capabilities.moe", "MoE"),
    ("capabilities.hybrid", "hybrid"),
    ("quantization.method", "quantization"),
    ("parameters.method", "count method"),
)


def lookup(data: object, path: str) -> object:
    """``data["a"]["b"]`` for ``path == "a.b"``; None when any step is missing."""
    for part in path.split("."):
        if not isinstance(data, dict):
            return None
        data = data.get(part)
    return data


@dataclass(frozen=True)
class CompareReport:
    """Several models under one :class:`Settings`; ratios are against the first."""

    reports: tuple[Report, ...]
    settings: Settings
    notes: tuple[str, ...] = field(default=())

    def rows(self) -> list[dict[str, object]]:
        """One row per metric: label, unit, values, ratios vs the first model (None when undefined)."""
        dicts = [r.to_dict() for r in self.reports]
        rows = []
        for path, label, unit in COMPARE_METRICS:
            values = [lookup(d, path) for d in dicts]
            base = values[0]
            ratios = [
                (v / base) if isinstance(v, (int, float)) and isinstance(base, (int, float)) and base else None
                for v in values
            ]
            rows.append({"metric": path, "label": label, "unit": unit, "values": values, "ratios": ratios})
        return rows

    def facts(self) -> list[dict[str, object]]:
        """Non-numeric facts side by side, with which models differ from the first."""
        dicts = [r.to_dict() for r in self.reports]
        out = []
        for path, label in COMPARE_FACTS:
            values = [lookup(d, path) for d in dicts]
            out.append({"fact": path, "label": label, "values": values, "differs": [v != values[0] for v in values]})
        return out

    def _repr_markdown_(self) -> str:
        """Jupyter shows the side-by-side table (the Markdown export)."""
        from lmscope.core.export import compare_to_markdown

        return compare_to_markdown(self)

    def to_dict(self) -> dict[str, object]:
        """JSON for ``lmscope compare --format json``: the settings, each report, and the comparison rows."""
        return _json_safe(
            {
                "schema_version": SCHEMA_VERSION,
                "settings": settings_dict(self.settings),
                "model_ids": [r.model_id for r in self.reports],
                "comparison": self.rows(),
                "facts": self.facts(),
                "models": [r.to_dict() for r in self.reports],
                "notes": list(self.notes),
            }
        )  # type: ignore[return-value]


def build_compare(sources: list[ModelSource], settings: Settings, *, exact: bool = True, seq_len_given: bool = True) -> CompareReport:
    """Reports for several sources under the same settings.

    ``seq_len_given=False``: the shortest of the models' :func:`default_seq_len`
    (one length for all, so every row compares like with like).
    """
    if len(sources) < 2:
        raise UsageError("compare needs at least two models")
    reports = tuple(build_report(s, settings, exact=exact, seq_len_given=seq_len_given) for s in sources)
    lengths = {r.settings.seq_len for r in reports}
    if len(lengths) > 1 or (lengths and settings.seq_len not in lengths):
        settings = replace(settings, seq_len=min(lengths))
        if len(lengths) > 1:
            reports = tuple(build_report(s, settings, exact=exact) for s in sources)
    return CompareReport(reports=reports, settings=settings)
