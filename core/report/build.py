"""Building a :class:`Report`: the single pipeline every front end uses (CLI, TUI, exports).

Parse the config (unless the source built the architecture itself, as GGUF does), count
parameters (exactly, with the meta-device engine, when asked and possible — the analytic count is
always computed too and both are kept with their difference), estimate memory/KV/FLOPs, read the
tokenizer, derive capabilities, and check the stored tensors against the class count, explaining
the difference when the files make it explainable (tied embeddings stored twice,
multi-token-prediction layers, packed INT4 words, quantization scales).
"""

from __future__ import annotations

import re
from dataclasses import asdict, dataclass, replace
from datetime import UTC

from lmscope.core.architecture import Architecture, QuantSpec
from lmscope.core.capabilities import LONG_CONTEXT_TOKENS, Capabilities, derive_capabilities
from lmscope.core.errors import ConfigError, LmscopeError
from lmscope.core.lineage import Lineage, derive_lineage
from lmscope.core.name_quant import NameQuant, quantization_from_name
from lmscope.core.report.schema import JSONObject, _json_safe, _report_dict
from lmscope.core.results import Estimate, ParameterBreakdown, Settings
from lmscope.core.sources.base import HubMetadata, ModelSource, StoredTensors
from lmscope.core.tokenizer import TokenizerFacts, tokenizer_facts

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

    def to_dict(self) -> JSONObject:
        """The JSON report of CONTRACT.md (schema_version 1), JSON-safe."""
        out = _json_safe(_report_dict(self))
        assert isinstance(out, dict)  # a dict stays a dict
        return out

    def _repr_markdown_(self) -> str:
        """Jupyter shows the summary (the Markdown export without the per-step detail)."""
        from lmscope.core.export import report_to_markdown

        return report_to_markdown(self, detailed=False)


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
        if source.location is None:  # an ONNX model is a local file: it always has one
            raise FileNotFoundError("no location")
        graph = analyse_onnx_graph(source.location)
    except Exception as err:  # noqa: BLE001 - the file was already read once; this is an extra view
        notes.append(f"ONNX graph analysis failed ({type(err).__name__}): graph facts only")
        return None
    graph_notes = graph.get("notes")
    if isinstance(graph_notes, list):
        notes.extend(str(n) for n in graph_notes)
    return graph


def _now() -> str:
    """The current time as ISO 8601 UTC with a Z (the seeds' ``analysis_timestamp`` form)."""
    from datetime import datetime

    return datetime.now(UTC).isoformat(timespec="seconds").replace("+00:00", "Z")


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
