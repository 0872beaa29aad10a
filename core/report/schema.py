"""The JSON report schema (CONTRACT.md "JSON report", ``schema_version`` 1).

Why apart from building: the schema is a contract scripts depend on; keeping every key in one
module makes an added key (or a renamed one, which needs a new ``schema_version``) visible in one
diff. Integers for bytes and FLOPs, nothing that is not JSON (NaN/inf become null).
"""

from __future__ import annotations

import math
import re
from dataclasses import asdict
from typing import TYPE_CHECKING, Any, TypeAlias

from lmscope.core.architecture import Architecture
from lmscope.core.results import Estimate, Settings
from lmscope.core.sources.base import ModelSource, StoredTensors
from lmscope.core.units import display

if TYPE_CHECKING:
    from lmscope.core.report.build import Report


SCHEMA_VERSION = 1
# The JSON report as Python: under each key any JSON value (str, number, bool, None, list, object),
# which is what "Any" means here — the schema, not the type, says which.
JSONObject: TypeAlias = dict[str, Any]


def _json_safe(value: object) -> object:
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, dict):
        return {str(k): _json_safe(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_json_safe(v) for v in value]
    if isinstance(value, (str, int, bool)) or value is None:
        return value
    if hasattr(value, "value") and isinstance(value.value, str):  # enums
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
        "lora_targets": settings.lora_targets,
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
    for section, unit in _HUMAN_SECTIONS.items():
        block = d.get(section)
        if isinstance(block, dict):
            _humanize_block(block, unit)


def _humanize_block(block: dict, unit: str) -> None:
    additions: dict[str, object] = {}
    for key, value in block.items():
        if key.endswith(_NOT_HUMAN) or key in ("method", "note"):
            continue
        key_unit = "params" if "parameters" in key else unit
        if isinstance(value, bool):
            continue
        if isinstance(value, int):
            additions[f"{key}_human"] = display(value, key_unit)
        elif isinstance(value, dict) and value and all(isinstance(v, int) and not isinstance(v, bool) for v in value.values()):
            additions[f"{key}_human"] = {k: display(v, key_unit) for k, v in value.items()}
        elif isinstance(value, dict):
            _humanize_block(value, key_unit)
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
