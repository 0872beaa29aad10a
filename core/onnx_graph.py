"""A closer look at an ONNX graph (``--detailed``): inferred shapes, layer boundaries, conversion hazards.

Seed 003's checklist for splitting and converting models: run
``onnx.shape_inference`` to see tensor shapes through the graph, find where
one layer ends and the next begins, and name what a conversion struggles
with (MoE routing, Mamba scans, custom operators).

Bounded on purpose: the graph is loaded without external data (weights are
never read), shape inference is skipped above :data:`MAX_INFER_NODES` nodes or
:data:`MAX_INFER_BYTES` of protobuf (it copies the model), and its failures
become a note. Layers are recognised from node and initializer names
(``/model/layers.3/…``, ``blk.3``, ``h.3``), the names every exporter
(torch.onnx, Optimum, onnxruntime-genai) writes.

:func:`conversion_challenges` works from a parsed architecture too, so every
model — not only ONNX files — says what an ONNX conversion would meet.
"""

from __future__ import annotations

import re
from collections import Counter
from pathlib import Path
from typing import Any

from lmscope.core.architecture import Architecture, Mixer

MAX_INFER_NODES = 200_000
MAX_INFER_BYTES = 512 * 1024**2
MAX_BOUNDARIES = 512

_LAYER = re.compile(r"(?:^|[/._])(?:layers|layer|h|blk|blocks|block)[./_](\d+)(?:[./_]|$)")
_STANDARD_DOMAINS = ("", "ai.onnx", "ai.onnx.ml")
# ONNX Runtime contrib operators a converter emits for these layer kinds (com.microsoft domain)
_ORT_MOE_OPS = ("MoE", "QMoE", "SparseMoE")
_ROUTING_OPS = ("TopK",)
_SCATTER_OPS = ("ScatterND", "ScatterElements", "GatherND", "NonZero")
_LOOP_OPS = ("Scan", "Loop", "If")


def _layer_of(name: str) -> int | None:
    m = _LAYER.search(name)
    return int(m.group(1)) if m else None


def _shape_text(value_info) -> list[object]:
    dims: list[object] = []
    for d in value_info.type.tensor_type.shape.dim:
        dims.append(d.dim_value if d.HasField("dim_value") else (d.dim_param or "?"))
    return dims


def analyse_onnx_graph(path: str | Path) -> dict[str, object]:
    """Shape inference summary, layer boundaries and conversion hazards of an ``.onnx`` file (no weights read)."""
    path = Path(path)
    size = path.stat().st_size
    from lmscope.core.sources.onnx_wire import load_onnx_structure

    model, _ = load_onnx_structure(path)  # names, types, shapes and the graph; never the weights' bytes
    graph = model.graph
    notes: list[str] = []
    shapes: dict[str, list[object]] = {}
    for v in (*graph.input, *graph.output, *graph.value_info):
        shapes[v.name] = _shape_text(v)
    inferred = 0
    if len(graph.node) > MAX_INFER_NODES or size > MAX_INFER_BYTES:
        notes.append(f"shape inference skipped: {len(graph.node):,} nodes / {size:,} bytes is above the bound ({MAX_INFER_NODES:,} nodes, {MAX_INFER_BYTES // 1024**2} MiB)")
    else:
        try:
            from onnx import shape_inference

            done = shape_inference.infer_shapes(model, check_type=False, strict_mode=False, data_prop=False)
            before = len(shapes)
            for v in done.graph.value_info:
                shapes[v.name] = _shape_text(v)
            inferred = len(shapes) - before
        except Exception as err:  # noqa: BLE001 - inference fails on custom ops; say so, keep the rest
            notes.append(f"shape inference failed ({type(err).__name__}); shapes only where the file states them")
    produced = {out for node in graph.node for out in node.output if out}
    boundaries = _boundaries(graph, shapes)
    return {
        "shape_inference": {
            "ran": not any(n.startswith("shape inference") for n in notes),
            "tensors_with_shapes": sum(1 for name in produced if shapes.get(name)),
            "intermediate_tensors": len(produced),
            "inferred": inferred,
        },
        "layers": boundaries,
        "custom_ops": _custom_ops(model),
        "control_flow": dict(Counter(n.op_type for n in graph.node if n.op_type in _LOOP_OPS and n.domain in _STANDARD_DOMAINS)),
        "dynamic_inputs": sorted({str(d) for v in graph.input for d in _shape_text(v) if isinstance(d, str)}),
        "challenges": _graph_challenges(graph),
        "notes": notes,
    }


def _boundaries(graph, shapes: dict[str, list[object]]) -> list[dict[str, object]]:
    """Per layer: first/last node index, node count and the tensors that cross into the next layer."""
    layer_of_node: list[int | None] = []
    weights = {t.name for t in graph.initializer}
    for node in graph.node:
        index = _layer_of(node.name)
        if index is None:  # unnamed nodes: their outputs or their weights carry the layer (not their inputs)
            for name in (*node.output, *(n for n in node.input if n in weights)):
                index = _layer_of(name)
                if index is not None:
                    break
        layer_of_node.append(index)
    producer: dict[str, int | None] = {v.name: None for v in graph.input if v.name not in weights}
    for node, index in zip(graph.node, layer_of_node):
        for out in node.output:
            producer[out] = index
    layers: dict[int, dict[str, Any]] = {}
    for position, (node, index) in enumerate(zip(graph.node, layer_of_node)):
        if index is None:
            continue
        entry = layers.setdefault(index, {"layer": index, "first_node": position, "last_node": position, "nodes": 0, "ops": Counter(), "inputs_from_before": set()})
        entry["last_node"] = position
        entry["nodes"] += 1  # type: ignore[operator]
        entry["ops"][node.op_type] += 1  # type: ignore[index]
        for name in node.input:
            src = producer.get(name)
            if name in producer and src != index and (src is None or src < index):
                entry["inputs_from_before"].add(name)  # type: ignore[union-attr]
    out = []
    for index in sorted(layers)[:MAX_BOUNDARIES]:
        entry = layers[index]
        crossing = sorted(entry["inputs_from_before"])[:8]  # type: ignore[arg-type]
        out.append(
            {
                "layer": index,
                "first_node": entry["first_node"],
                "last_node": entry["last_node"],
                "nodes": entry["nodes"],
                "ops": dict(entry["ops"].most_common(6)),  # type: ignore[union-attr]
                "inputs": [{"name": n, "shape": shapes.get(n)} for n in crossing],
            }
        )
    return out


def _custom_ops(model) -> dict[str, int]:
    ops: Counter[str] = Counter()
    for node in model.graph.node:
        if node.domain not in _STANDARD_DOMAINS:
            ops[f"{node.domain}::{node.op_type}"] += 1
    return dict(ops.most_common())


def _graph_challenges(graph) -> list[str]:
    ops = Counter(n.op_type for n in graph.node)
    out: list[str] = []
    if any(ops.get(op) for op in _ORT_MOE_OPS):
        out.append("MoE routing as an ONNX Runtime contrib op (com.microsoft MoE/QMoE): runs only on ONNX Runtime")
    elif ops.get("TopK") and any(ops.get(op) for op in _SCATTER_OPS):
        out.append("MoE-style routing (TopK + gather/scatter): data-dependent shapes, hard to optimise or split")
    if ops.get("Scan") or ops.get("Loop"):
        out.append("loops in the graph (Scan/Loop: recurrent or state-space scans): sequential, poorly fused by most runtimes")
    custom = [n for n in graph.node if n.domain not in _STANDARD_DOMAINS]
    if custom:
        domains = sorted({n.domain for n in custom})
        out.append(f"{len(custom)} custom-domain node(s) ({', '.join(domains)}): need a runtime that implements them")
    return out


def conversion_challenges(arch: Architecture) -> list[dict[str, str]]:
    """What converting this architecture to ONNX would struggle with (seed 003's list), from the config."""
    out: list[dict[str, str]] = []
    mixers = {layer.mixer for layer in arch.layers}
    if arch.moe is not None:
        out.append({"item": "MoE routing", "why": f"top-{arch.moe.experts_per_token} of {arch.moe.num_experts} experts per token: data-dependent gather/scatter; needs custom handling (ONNX Runtime's com.microsoft MoE/QMoE) or a dense fallback that runs every expert"})
    if Mixer.MAMBA in mixers or Mixer.MAMBA2 in mixers:
        out.append({"item": "Mamba selective scan", "why": "no standard ONNX operator: a Scan/Loop over tokens (slow) or a custom op"})
    if Mixer.LINEAR in mixers:
        out.append({"item": "linear-attention recurrence (gated delta rule)", "why": "a chunked recurrent state update: no standard ONNX operator; Scan/Loop or a custom op"})
    if Mixer.CONV in mixers:
        out.append({"item": "short causal convolution with a rolling state", "why": "the decode-time conv state must be an explicit graph input/output"})
    if Mixer.MLA in mixers:
        out.append({"item": "multi-head latent attention", "why": "the compressed KV latent and its absorbed projections need a custom attention pattern; standard exports decompress it (larger KV cache)"})
    if any(layer.mixer in (Mixer.SLIDING, Mixer.CHUNKED) for layer in arch.layers) and len(mixers) > 1:
        out.append({"item": "mixed sliding-window and full attention layers", "why": "per-layer masks and cache sizes; exporters that assume one attention kind get it wrong"})
    if 0 < arch.num_kv_heads < arch.num_heads:
        out.append({"item": "grouped-query attention", "why": "standard, but the KV heads must be repeated or fed to GroupQueryAttention (ONNX Runtime contrib op)"})
    if arch.vision is not None:
        out.append({"item": "vision tower", "why": "exported as a separate graph feeding image embeddings into the text model"})
    if arch.quantization is not None:
        out.append({"item": f"{arch.quantization.method} quantized weights", "why": "packed weights need dequantization or a matching MatMulNBits-style op"})
    return out
