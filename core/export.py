"""Reports as JSON, Markdown, YAML and terminal text; atomic file writes.

Formats live here and nowhere else (the TUI's export dialog and the CLI's
``--format`` both call these), and every format is rendered from
:meth:`Report.to_dict` so JSON, Markdown and text can never disagree on a
number. Human units (GiB = 2^30 bytes, TFLOP = 10^12 FLOPs) appear only in
the text and Markdown views; JSON keeps exact integers.

Everything written passes through :func:`~lmscope.core.redact.redact`: a
token in a path, a URL or an error note never reaches a file.
"""

from __future__ import annotations

import io
import json
import re

from lmscope.core.atomic import write_atomic
from lmscope.core.redact import redact
from lmscope.core.report import CONTEXT_OVERFLOW, CompareReport, Report, lookup
from lmscope.core.units import MISSING, byte_units, display, human_bytes, human_count, human_flops, ratio
from lmscope.core.units import exact_count as _exact

# --------------------------------------------------------------------------- units


def _yes(value: object) -> str:
    if value is None:
        return "unknown"
    return "yes" if value else "no"


# --------------------------------------------------------------------------- JSON / YAML


def report_to_json(report: Report) -> str:
    """The JSON report (CONTRACT.md), indented, newline-terminated, token-free."""
    return redact(json.dumps(report.to_dict(), indent=2, ensure_ascii=False, allow_nan=False)) + "\n"


def compare_to_json(compare: CompareReport) -> str:
    """The comparison as JSON: settings, rows with ratios vs the first model, and every report."""
    return redact(json.dumps(compare.to_dict(), indent=2, ensure_ascii=False, allow_nan=False)) + "\n"


def _yaml_scalar(value: object) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, float)):
        return repr(value)
    return json.dumps(str(value), ensure_ascii=False)  # a JSON string is a valid YAML scalar


_PLAIN_KEY = re.compile(r"^[A-Za-z_][A-Za-z0-9_.-]*$")
_YAML_WORDS = {"true", "false", "null", "yes", "no", "on", "off", "y", "n", "~"}


def _yaml_key(key: str) -> str:
    if _PLAIN_KEY.match(key) and key.lower() not in _YAML_WORDS:
        return key
    return json.dumps(key, ensure_ascii=False)


def _yaml_lines(value: object, indent: int) -> list[str]:
    pad = "  " * indent
    lines: list[str] = []
    if isinstance(value, dict):
        if not value:
            return [pad + "{}"]
        for key, item in value.items():
            k = _yaml_key(str(key))
            if isinstance(item, (dict, list)) and item:
                lines.append(f"{pad}{k}:")
                lines.extend(_yaml_lines(item, indent + 1))
            else:
                lines.append(f"{pad}{k}: {_yaml_scalar(item) if not isinstance(item, (dict, list)) else ('{}' if isinstance(item, dict) else '[]')}")
        return lines
    if isinstance(value, list):
        if not value:
            return [pad + "[]"]
        for item in value:
            if isinstance(item, (dict, list)) and item:
                sub = _yaml_lines(item, indent + 1)
                lines.append(f"{pad}- {sub[0].lstrip()}")
                lines.extend(sub[1:])
            else:
                lines.append(f"{pad}- {_yaml_scalar(item) if not isinstance(item, (dict, list)) else ('{}' if isinstance(item, dict) else '[]')}")
        return lines
    return [pad + _yaml_scalar(value)]


def to_yaml(data: object) -> str:
    """YAML for JSON-shaped data (same content as the JSON export)."""
    return redact("\n".join(_yaml_lines(data, 0))) + "\n"


def report_to_yaml(report: Report) -> str:
    return to_yaml(report.to_dict())


def compare_to_yaml(compare: CompareReport) -> str:
    return to_yaml(compare.to_dict())


# --------------------------------------------------------------------------- sections


def _checkpoint_dtype(arch: dict, quant: dict | None) -> str:
    """How the checkpoint stores its weights: a quantized checkpoint's torch_dtype names only the other tensors."""
    dtype = str(arch.get("torch_dtype") or "—")
    if not quant:
        return dtype
    bits = f" {quant['bits']:g}-bit" if isinstance(quant.get("bits"), (int, float)) else ""
    return f"{quant.get('method')}{bits} weights (other tensors {dtype})"


def weights_label(weights_bytes: dict, selected: object, dtype: str) -> str:
    """What the weights in a total are, matching a "weights …" row: "weights bf16", or "checkpoint
    weights" when the checkpoint's own size (an MLX 4-bit file: 4.29 GiB) differs from the generic
    row of its dtype (int4: 5.68 GiB) — one figure per label."""
    if "checkpoint" in weights_bytes and selected == weights_bytes["checkpoint"] and weights_bytes.get(dtype) != selected:
        return f"checkpoint weights, {dtype}"
    return f"weights {dtype}"


def _warnings(d: dict) -> list[str]:
    """Notes that change how to read every number (a length past the context): first in every format."""
    return [n for n in d.get("notes") or [] if CONTEXT_OVERFLOW in n]


def _summary_sections(d: dict, detailed: bool) -> list[tuple[str, list[tuple[str, str]]]]:
    """(title, rows) pairs shared by the text and Markdown views."""
    params = d.get("parameters") or {}
    mem = d.get("memory") or {}
    flops = d.get("flops") or {}
    att = d.get("attention") or {}
    arch = d.get("architecture") or {}
    caps = d.get("capabilities") or {}
    settings = d["settings"]
    sections: list[tuple[str, list[tuple[str, str]]]] = []

    ident = [
        ("model", str(d["model_id"])),
        ("family", str(d.get("family") or "—")),
        ("class", str(d.get("architecture_class") or "—")),
    ]
    if d.get("objective"):
        ident.append(("type / objective", str(d["objective"])))
    lineage = d.get("lineage") or {}
    if lineage.get("generation"):
        ident.append(("generation", f"{lineage['generation']} (from the {_source_words(lineage.get('generation_source'))})"))
    if d.get("objective") in ("causal-lm", "seq2seq", "vlm", "speech"):
        stage = lineage.get("stage")
        ident.append(("training stage", f"{stage} (from the {lineage.get('stage_source')})" if stage else "unknown (no name, template or tokenizer evidence)"))
    ident += [
        ("source", str(d["source"]) + (f" ({d['location']})" if detailed and d.get("location") else "")),
    ]
    if params:
        ident.append(("parameters", f"{human_count(params.get('total'))} ({_exact(params.get('total'))}, {params.get('method')})"))
        if params.get("active_per_token") not in (None, params.get("total")):
            ident.append(("active / token", f"{human_count(params.get('active_per_token'))} ({_exact(params.get('active_per_token'))})"))
        if "exact_total" in params:
            ident.append(("analytic − exact", f"{params['analytic_minus_exact']:+,}"))
    sections.append(("Model", ident))

    if arch:
        dims = [
            ("hidden size", _exact(arch.get("hidden_size"))),
            ("layers", _exact(arch.get("num_layers")) + _layer_mix(arch.get("layer_counts") or {})),
            ("attention", f"{att.get('kind')} — {att.get('num_heads')} heads, {att.get('num_kv_heads')} KV heads, head dim {att.get('head_dim')}"),
            ("FFN width", _exact(arch.get("intermediate_size")) if arch.get("intermediate_size") else "no dense FFN layers"),
            ("vocabulary", _exact(arch.get("vocab_size"))),
            ("context", _exact(caps.get("max_context_length")) + (f" (RoPE {caps['rope_scaling']} from {caps['original_context_length']:,})" if caps.get("original_context_length") else "") + (f" (from the {caps['context_length_source']})" if caps.get("context_length_source") in ("tokenizer model_max_length", "transformers config default") else "")),
        ]
        if att.get("sliding_window"):
            dims.append(("sliding window", _exact(att.get("sliding_window"))))
        moe = d.get("moe")
        if moe:
            dims.append(("experts", f"{moe['num_experts']} routed, top-{moe['experts_per_token']}, {moe['shared_experts']} shared, width {moe['expert_intermediate_size']:,}"))
        if detailed:
            dims.extend(
                [
                    ("activation", str(arch.get("activation"))),
                    ("norm", str(arch.get("norm"))),
                    ("tied embeddings", _yes(arch.get("tied_embeddings"))),
                    ("position encoding", str(att.get("position_encoding"))),
                    ("checkpoint dtype", _checkpoint_dtype(arch, d.get("quantization"))),
                ]
            )
            if att.get("rope"):
                rope = att["rope"]
                dims.append(("RoPE", f"θ={rope.get('theta')}, scaling={rope.get('scaling_type') or 'none'}" + (f" ×{rope['scaling_factor']}" if rope.get("scaling_factor") else "")))
            if att.get("mla"):
                mla = att["mla"]
                dims.append(("MLA", f"kv_lora_rank {mla['kv_lora_rank']}, rope dim {mla['qk_rope_head_dim']}, q_lora_rank {mla['q_lora_rank']}"))
        sections.append(("Architecture", dims))

    if mem:
        weights = mem.get("weights_bytes") or {}
        rows = [(f"weights {k}" + (" (with scales; embeddings 16-bit)" if k in ("fp8", "int8", "int4") else ""), human_bytes(v)) for k, v in weights.items()]
        naive = mem.get("weights_bytes_naive") or {}
        for key in ("int8", "int4"):
            if key in naive:
                per = "1 byte" if key == "int8" else "½ byte"
                rows.append((f"weights {key}, naive ({per}/param)", human_bytes(naive[key])))
        resolved = settings.get("resolved") or {}
        kv_dtype = resolved.get("kv") or settings.get("kv_dtype")
        weight_dtype = resolved.get("weights") or settings.get("dtype")
        rows += [
            (f"KV cache / token ({kv_dtype})", human_bytes(mem.get("kv_cache_bytes_per_token"))),
            (f"KV cache ({settings['batch']} × {settings['seq_len']:,})", human_bytes(mem.get("kv_cache_bytes"))),
        ]
        if mem.get("state_bytes"):
            rows.append(("fixed state", human_bytes(mem.get("state_bytes"))))
        fd = mem.get("flash_decoding")
        if fd and caps.get("can_generate") is not False:  # an encoder decodes nothing
            rows.append(
                (
                    "decode attention scratch",
                    f"{human_bytes(fd['partial_bytes'])} flash-decoding (split-KV, {fd['partitions']:,} × {fd['partition_tokens']}-token partitions) vs {human_bytes(fd['scores_bytes'])} eager score row, per layer",
                )
            )
        rows += [
            ("activations (inference)", human_bytes(mem.get("activation_bytes"))),
            (f"inference total ({weights_label(weights, mem.get('weights_bytes_selected'), str(weight_dtype))})", human_bytes(mem.get("inference_total_bytes"))),
            ("training total", human_bytes(mem.get("training_total_bytes"))),
        ]
        if detailed:
            rows.append(("activations without flash", human_bytes(mem.get("activation_bytes_no_flash"))))
            for k, v in (mem.get("training_breakdown") or {}).items():
                rows.append((f"  training {k}", human_bytes(v)))
            if mem.get("lora_memory_bytes"):
                rows.append((f"LoRA (r={settings['lora_rank']})", human_bytes(mem.get("lora_memory_bytes"))))
            if mem.get("qlora_memory_bytes"):
                rows.append(("QLoRA", human_bytes(mem.get("qlora_memory_bytes"))))
        sections.append(("Memory", rows))

    if flops:
        prefill = flops.get("prefill") or {}
        rows = [
            (f"prefill ({settings['batch']} × {settings['seq_len']:,})", human_flops(prefill.get("total"))),
            ("  linear", human_flops(prefill.get("linear"))),
            ("  attention (no causal skip)", human_flops(prefill.get("attention"))),
            ("decode / token", human_flops(flops.get("decode_per_token"))),
            ("training step", human_flops(flops.get("training_step"))),
        ]
        rows += _roofline_rows(flops.get("roofline"))
        if caps and caps.get("can_generate") is False:  # an encoder: no tokens to decode one by one
            rows = [r for r in rows if "decode" not in r[0]]
        sections.append(("FLOPs", rows))

    if detailed and params.get("by_component"):
        sections.append(("Parameters by component", [(k, f"{_exact(v)}  ({human_count(v)})") for k, v in params["by_component"].items()]))
    if detailed and mem.get("weights_by_component"):
        resolved = settings.get("resolved") or {}
        sections.append((f"Memory by component (weights at {resolved.get('weights') or settings.get('dtype')})", _share_rows(mem["weights_by_component"], human_bytes)))
    if detailed and flops.get("by_component"):
        sections.append(("FLOPs by component", _flops_component_rows(flops)))

    tok = d.get("tokenizer")
    if tok:
        rows = [
            ("type", str(tok.get("type") or tok.get("tokenizer_class") or "—")),
            ("vocabulary", _exact(tok.get("vocab_size"))),
            ("chat template", _yes(tok.get("chat_template"))),
        ]
        if detailed:
            rows.append(("class", str(tok.get("tokenizer_class") or "—")))
            rows.append(("SentencePiece", _yes(tok.get("sentencepiece"))))
            for role, text in (tok.get("special_tokens") or {}).items():
                rows.append((f"{role} token", repr(text)))
            if tok.get("model_max_length"):
                rows.append(("model max length", _exact(tok.get("model_max_length"))))
        sections.append(("Tokenizer", rows))

    named = d.get("quantization_from_name")
    if named and not d.get("quantization"):
        sections.append((
            "Quantization",
            [("method", f"{named.get('method') or '—'} (from the name)"), ("bits", f"{named['bits']:g} (from the name)" if named.get("bits") else "— (the name does not say)")],
        ))
    quant = d.get("quantization")
    if quant:
        rows = [("method", str(quant.get("method"))), ("bits", str(quant.get("bits") or "—"))]
        if quant.get("group_size"):
            rows.append(("group size", str(quant["group_size"])))
        block = (quant.get("details") or {}).get("weight_block_size")
        if block:
            rows.append(("block", str(block).replace("x", "×")))
        if detailed:
            rows += [(str(k), str(v)) for k, v in (quant.get("details") or {}).items()]
        sections.append(("Quantization", rows))

    if caps:
        flags = [
            ("generates text", caps.get("can_generate")),
            ("long context", caps.get("long_context")),
            ("MoE", caps.get("moe")),
            ("hybrid layers", caps.get("hybrid")),
            ("vision input", caps.get("vision_input")),
            ("chat template", caps.get("chat_template")),
            ("tool use", caps.get("tool_use")),
            ("quantized", caps.get("quantized")),
            ("flash attention", caps.get("flash_attention")),
            ("encoder-decoder", caps.get("encoder_decoder")),
            ("embedding model", caps.get("embedding_model")),
            ("multi-token prediction", caps.get("multi_token_prediction")),
            ("LoRA", caps.get("lora")),
            ("QLoRA", caps.get("qlora")),
        ]
        rows = [(name, _yes(value)) for name, value in flags if detailed or value]
        if caps.get("flash_attention_basis") and (detailed or caps.get("flash_attention") is not None):
            rows = [(n, v + (f" ({caps['flash_attention_basis']})" if n == "flash attention" else "")) for n, v in rows]
        if rows:
            sections.append(("Capabilities", rows))

    stored = d.get("stored")
    if stored:
        rows = [
            ("stored tensors", f"{stored['tensors']:,} ({stored['source']})"),
            ("stored elements", _exact(stored.get("total_params"))),
            ("stored bytes", human_bytes(stored.get("total_bytes"))),
        ]
        total_params = stored.get("total_params") or 0
        by_dtype = stored.get("params_by_dtype") or {}
        if by_dtype and total_params:
            rows.append(("stored dtypes", ", ".join(f"{k} {100 * v / total_params:.1f}%" for k, v in sorted(by_dtype.items(), key=lambda kv: -kv[1]))))
        if stored.get("layer_count"):
            per_layer = [b for b in stored.get("bytes_per_layer") or [] if b]
            spread = f"{human_bytes(min(per_layer))} – {human_bytes(max(per_layer))} per layer" if per_layer else ""
            rows.append(("layers (from names)", f"{stored['layer_count']}" + (f", {spread}" if spread else "")))
        check = stored.get("check")
        if check:
            rows.append(("stored − class", f"{check['difference']:+,}" + (" (explained)" if check["explained"] and check["difference"] else "")))
            if detailed:
                rows += [("", e) for e in check.get("explanations") or []]
        sections.append(("Stored checkpoint", rows))

    file_facts = d.get("file")
    if file_facts and detailed:
        rows = []
        for key, value in file_facts.items():
            if key in ("inputs", "outputs"):
                value = ", ".join(f"{v['name']} {v['dtype']}{v['shape']}" for v in value)
            elif key in ("op_counts", "opsets"):
                value = ", ".join(f"{k}×{v}" if key == "op_counts" else f"{k}={v}" for k, v in list(value.items())[:20])
            rows.append((key.replace("_", " "), str(value)))
        sections.append(("File", rows))

    shapes = d.get("shapes")
    kinds = d.get("shapes_by_layer_kind") or []
    if kinds and detailed:
        for kind in kinds:
            title = f"Tensor shapes per step — layers {kind['layer_ranges']} ({len(kind['layers'])}): {kind['kind']}"
            sections.append((title, _shape_rows(kind["rows"])))
    elif shapes and detailed:
        sections.append(("Tensor shapes per step (one layer)", _shape_rows(shapes)))

    graph = d.get("onnx_graph")
    if graph and detailed:
        sections.append(("ONNX graph", _onnx_rows(graph)))
    conversion = d.get("conversion")
    if conversion and detailed:
        sections.append(("Conversion to ONNX", [(c["item"], c["why"]) for c in conversion]))

    meta = d.get("metadata")
    if meta and detailed:
        rows = [(k, str(meta.get(k))) for k in ("author", "downloads", "likes", "license", "gated", "last_modified", "pipeline_tag", "library_name") if meta.get(k) is not None]
        sections.append(("Hub metadata", rows))
    return sections


def _shape_rows(rows_in: list) -> list[tuple[str, str]]:
    rows = []
    for r in rows_in:
        shape = "×".join(str(n) for n in r["shape"])
        dims = "×".join(r["dims"])
        flops = f" · {human_flops(r['flops'])}" if r.get("flops") else ""
        rows.append((f"{r['phase']} {r['step']}", f"{shape} ({dims}) · {human_bytes(r['bytes'])}{flops}"))
    return rows


def _dims(shape: object) -> str:
    return "×".join(str(n) for n in shape) if isinstance(shape, list) else "?"


def _onnx_rows(graph: dict) -> list[tuple[str, str]]:
    inference = graph.get("shape_inference") or {}
    rows = [
        (
            "shape inference",
            f"{'ran' if inference.get('ran') else 'not run'}: {inference.get('tensors_with_shapes', 0):,} of {inference.get('intermediate_tensors', 0):,} intermediate tensors shaped",
        )
    ]
    if graph.get("dynamic_inputs"):
        rows.append(("dynamic dimensions", ", ".join(graph["dynamic_inputs"])))
    layers = graph.get("layers") or []
    rows.append(("layer boundaries", f"{len(layers)} layer(s) named in the graph" if layers else "no layer names in the graph"))
    for entry in layers[:64]:
        ops = ", ".join(f"{k}×{v}" for k, v in entry["ops"].items())
        inputs = "; ".join(f"{i['name']} {_dims(i['shape'])}" for i in entry["inputs"])
        rows.append((f"layer {entry['layer']}", f"nodes {entry['first_node']}–{entry['last_node']} ({entry['nodes']}): {ops}" + (f"; enters from {inputs}" if inputs else "")))
    if len(layers) > 64:
        rows.append(("", f"… {len(layers) - 64} more layers in the JSON"))
    if graph.get("custom_ops"):
        rows.append(("custom ops", ", ".join(f"{k}×{v}" for k, v in graph["custom_ops"].items())))
    if graph.get("control_flow"):
        rows.append(("control flow", ", ".join(f"{k}×{v}" for k, v in graph["control_flow"].items())))
    rows += [("conversion hazard", c) for c in graph.get("challenges") or []]
    return rows


def _share_rows(values: dict, fmt) -> list[tuple[str, str]]:
    """(component, "value  share%") rows and a total, for by-component tables."""
    total = sum(v for v in values.values() if isinstance(v, (int, float)))
    rows = [(k, f"{fmt(v)}  {100 * v / total:5.1f}%" if total else fmt(v)) for k, v in values.items()]
    rows.append(("total", fmt(total)))
    return rows


def _flops_component_rows(flops: dict) -> list[tuple[str, str]]:
    prefill = flops.get("by_component") or {}
    decode = flops.get("decode_by_component") or {}
    training = flops.get("training_by_component") or {}
    rows = []
    for comp in dict.fromkeys([*prefill, *decode, *training]):
        rows.append((comp, f"prefill {human_flops(prefill.get(comp, 0))} · decode/token {human_flops(decode.get(comp, 0))} · training {human_flops(training.get(comp, 0))}"))
    return rows


def _roofline_rows(roofline: object) -> list[tuple[str, str]]:
    if not isinstance(roofline, dict):
        return []
    balance = roofline.get("machine_balance") or 0
    out = []
    for phase in ("prefill", "decode"):
        intensity = roofline.get(f"{phase}_intensity")
        if intensity:
            out.append(
                (
                    f"arithmetic intensity, {phase}",
                    f"{intensity:,.1f} FLOP/byte — {roofline.get(f'{phase}_bound')} on {roofline.get('reference')} (balance {balance:,.0f} FLOP/byte)",
                )
            )
    return out


def _source_words(source: object) -> str:
    return {"name+config": "id, checked against the config", "name": "id", "config": "config"}.get(str(source), str(source))


def _layer_mix(counts: dict) -> str:
    mixers = {k: v for k, v in counts.items() if k not in ("dense", "moe")}
    if len(mixers) <= 1 and "moe" not in counts:
        return ""
    return " (" + ", ".join(f"{v} {k}" for k, v in counts.items()) + ")"


# --------------------------------------------------------------------------- text


def _console(width: int | None):
    from rich.console import Console

    return Console(file=io.StringIO(), width=width or 100, color_system=None, force_terminal=False, highlight=False, emoji=False)


def _tidy(console) -> str:
    """The console's text with trailing spaces removed, redacted."""
    text = console.file.getvalue()
    return redact("\n".join(line.rstrip() for line in text.splitlines())) + "\n"


# Notes that say how to read every number of a report (shown even without --detailed).
_HEADLINE_NOTES = ("analytic engine only", "analytic only", "no architecture", "no memory, KV cache or FLOPs",
                   "approximate", "not explained by")


def report_to_text(report: Report, *, detailed: bool = False, width: int | None = None) -> str:
    """A human-readable report (rich tables, plain text): summary, or everything with ``detailed``."""
    d = report.to_dict()
    console = _console(width)
    resolved = d["settings"].get("resolved") or {}
    dtype = d["settings"]["dtype"] + (f" ({resolved['weights']})" if resolved.get("weights") and d["settings"]["dtype"] == "auto" else "")
    title = f"{d['model_id']} — {d['settings']['batch']} × {d['settings']['seq_len']:,} tokens, dtype {dtype}"
    console.print(title, style="bold")
    for warning in _warnings(d):
        console.print(f"⚠ {warning}", style="yellow")
    for name, rows in _summary_sections(d, detailed):
        if rows:
            _print_section(console, name, rows)
    notes = d.get("notes") or []
    if notes:
        console.print()
    if notes and detailed:
        console.print("Notes", style="bold")
        for note in notes:
            console.print(f"  • {note}")
    elif notes:
        # A note that changes how to read every number is shown even in the summary.
        for note in notes:
            if any(key in note for key in _HEADLINE_NOTES):
                console.print(f"• {note}")
        console.print(f"{len(notes)} note(s); --detailed shows them")
    return _tidy(console)


def _compare_cells(row: dict) -> list[str]:
    """One comparison row's values, each model after the first with its ratio to the first."""
    cells = []
    for i, (value, value_ratio) in enumerate(zip(row["values"], row["ratios"])):
        text = display(value, str(row["unit"]))
        if i and value_ratio is not None:
            text += f" ({ratio(value_ratio, 1)})"
        cells.append(text)
    return cells


def compare_plan_rows(compare: CompareReport) -> list[tuple[str, list[str]]]:
    """The "on this hardware" rows of a comparison with ``--gpu``: verdict, decode speed, solved context.

    Values are the plans' own (``CompareReport.plans``); decode speeds after the
    first carry their ratio to the first, like the metric rows.
    """
    hw, plans = compare.hardware, compare.plans
    if hw is None or not plans:
        return []

    def verdict(p: dict) -> str:
        if p.get("error"):
            return f"— ({p['error']})"
        if p["fits"]:
            return f"fits (headroom {human_bytes(p['headroom_bytes'])})"
        return f"does not fit ({human_bytes(p['per_gpu_bytes'])} per GPU)"

    base = plans[0].get("decode_tokens_per_s")
    speeds = []
    for i, p in enumerate(plans):
        v = p.get("decode_tokens_per_s")
        text = MISSING if v is None else f"{v:,.1f}" + (f" {p['bound']}-bound" if p.get("bound") else "")
        if i and isinstance(v, (int, float)) and isinstance(base, (int, float)) and base:
            text += f" ({ratio(v / base, 1)})"
        speeds.append(text)
    batch = compare.settings.batch
    return [
        (f"on {hw['count']} × {hw['name']}", [verdict(p) for p in plans]),
        ("decode tokens/s (roofline)", speeds),
        (f"max context at batch {batch}", [MISSING if p.get("max_seq_len") is None else f"{p['max_seq_len']:,}" for p in plans]),
    ]


def compare_to_text(compare: CompareReport, *, width: int | None = None) -> str:
    """Models side by side: values, ratios vs the first model, differing facts marked with '*'."""
    from rich.table import Table

    ids = [r.model_id for r in compare.reports]
    console = _console(width or max(100, 30 + 26 * len(ids)))
    s = compare.settings
    console.print(f"Comparison — {s.batch} × {s.seq_len:,} tokens, dtype {s.dtype}, ratios vs {ids[0]}", style="bold")
    for report in compare.reports:
        for warning in _warnings(report.to_dict()):
            console.print(f"⚠ {report.model_id}: {warning}", style="yellow")
    table = Table(show_header=True, header_style="bold", box=None, padding=(0, 2))
    table.add_column("")
    for mid in ids:
        table.add_column(mid, justify="right", overflow="fold")
    for row in compare.rows():
        table.add_row(str(row["label"]), *_compare_cells(row))
    plan_rows = compare_plan_rows(compare)
    if plan_rows:
        table.add_section()
        for label, cells in plan_rows:
            table.add_row(label, *cells)
    table.add_section()
    for fact in compare.facts():
        cells = [("* " if differs else "") + display(value, "") for value, differs in zip(fact["values"], fact["differs"])]
        table.add_row(str(fact["label"]), *cells)
    console.print(table)
    console.print("* differs from the first model")
    return _tidy(console)


# --------------------------------------------------------------------------- Markdown


def _md_escape(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


def report_to_markdown(report: Report, *, detailed: bool = True) -> str:
    """The report as Markdown: a heading per section, two-column tables, notes as a list."""
    d = report.to_dict()
    s = d["settings"]
    resolved = s.get("resolved") or {}
    dtype = resolved.get("weights") or s["dtype"]
    kv = resolved.get("kv") or s["kv_dtype"]
    out = [f"# {d['model_id']}", "", f"Settings: batch {s['batch']}, sequence {s['seq_len']:,}, weights {dtype}, KV cache {kv}.", ""]
    if d.get("analysis_timestamp"):
        out += [f"Analysis date: {d['analysis_timestamp']} · lmscope {d.get('lmscope_version')}", ""]
    out += [f"> ⚠ {_md_escape(w)}" for w in _warnings(d)] + ([""] if _warnings(d) else [])
    for name, rows in _summary_sections(d, detailed):
        if not rows:
            continue
        out += [f"## {name}", "", "| | |", "|---|---|"]
        out += [f"| {_md_escape(label)} | {_md_escape(value)} |" for label, value in rows]
        out.append("")
    if d.get("notes"):
        out += ["## Notes", ""] + [f"- {_md_escape(n)}" for n in d["notes"]] + [""]
    unit_note = "GB = 10^9 bytes" if byte_units() == "decimal" else "GiB = 2^30 bytes"
    out.append(f"_Generated by lmscope. {unit_note}; TFLOP = 10^12 FLOPs (2 per multiply-add)._")
    return redact("\n".join(out)) + "\n"


def compare_to_markdown(compare: CompareReport) -> str:
    """Side-by-side Markdown table with ratios vs the first model; differing facts in bold."""
    ids = [r.model_id for r in compare.reports]
    s = compare.settings
    out = [
        "# Comparison",
        "",
        f"Settings: batch {s.batch}, sequence {s.seq_len:,}, dtype {s.dtype}. Ratios are against {ids[0]}.",
        "",
        *(f"> ⚠ {_md_escape(r.model_id)}: {_md_escape(w)}" for r in compare.reports for w in _warnings(r.to_dict())),
        *([""] if any(_warnings(r.to_dict()) for r in compare.reports) else []),
        "| | " + " | ".join(_md_escape(i) for i in ids) + " |",
        "|---|" + "---:|" * len(ids),
    ]
    for row in compare.rows():
        out.append(f"| {row['label']} | " + " | ".join(_compare_cells(row)) + " |")
    for label, cells in compare_plan_rows(compare):
        out.append(f"| {_md_escape(label)} | " + " | ".join(_md_escape(c) for c in cells) + " |")
    for fact in compare.facts():
        cells = [(f"**{display(v, '')}**" if differs else display(v, "")) for v, differs in zip(fact["values"], fact["differs"])]
        out.append(f"| {fact['label']} | " + " | ".join(_md_escape(c) for c in cells) + " |")
    out += ["", "Bold: differs from the first model.", ""]
    return redact("\n".join(out)) + "\n"


# --------------------------------------------------------------------------- dispatch and files

FORMATS = ("text", "json", "markdown", "yaml")
PHASES = ("prefill", "decode", "training")


def phase_sections(d: dict, phase: str | None, table: str | None) -> list[tuple[str, list[tuple[str, str]]]]:
    """Seed 002's tables: memory and/or FLOPs by component for one phase (or all three), plus the roofline."""
    from lmscope.core.phases import phase_memory

    mem = d.get("memory") or {}
    flops = d.get("flops") or {}
    if not mem or not flops:
        return [("Phases", [("", "no architecture: no per-phase memory or FLOPs")])]
    phases = [phase] if phase else list(PHASES)
    tables = ["memory", "flops"] if table in (None, "all") else [table]
    sections: list[tuple[str, list[tuple[str, str]]]] = []
    flops_by = {"prefill": flops.get("by_component") or {}, "decode": flops.get("decode_by_component") or {}, "training": flops.get("training_by_component") or {}}
    for ph in phases:
        if "memory" in tables:
            rows = phase_memory(mem, ph)
            values = {k: v for k, v in rows[:-1]}
            sections.append((f"Memory — {ph}", _share_rows(values, human_bytes)))
        if "flops" in tables:
            title = {"prefill": "FLOPs — prefill", "decode": "FLOPs — decode (one token)", "training": "FLOPs — training step"}[ph]
            sections.append((title, _share_rows(flops_by[ph], human_flops)))
    roofline = [r for r in _roofline_rows(flops.get("roofline")) if phase in (None, "prefill", "decode") and (phase is None or phase in r[0])]
    if roofline:
        sections.append(("Arithmetic intensity", roofline))
    return sections


def _print_section(console, name: str, rows) -> None:
    """One titled two-column section (label dimmed, value) after a blank line: every text report's layout."""
    from rich.table import Table

    table = Table(title=name, title_justify="left", show_header=False, box=None, pad_edge=False, padding=(0, 2))
    table.add_column(style="dim", no_wrap=True)
    table.add_column()
    for label, value in rows:
        table.add_row(label, value)
    console.print()
    console.print(table)


def report_phase_text(report: Report, *, phase: str | None, table: str | None, width: int | None = None) -> str:
    """Only the per-phase memory/FLOPs tables (``--phase`` / ``--table``), as text."""
    d = report.to_dict()
    console = _console(width)
    s = d["settings"]
    console.print(f"{d['model_id']} — {s['batch']} × {s['seq_len']:,} tokens, dtype {(s.get('resolved') or {}).get('weights') or s['dtype']}", style="bold")
    for name, rows in phase_sections(d, phase, table):
        _print_section(console, name, rows)
    return _tidy(console)


def report_phase_markdown(report: Report, *, phase: str | None, table: str | None) -> str:
    """Only the per-phase memory/FLOPs tables, as Markdown."""
    d = report.to_dict()
    out = [f"# {d['model_id']}", ""]
    for name, rows in phase_sections(d, phase, table):
        out += [f"## {name}", "", "| | |", "|---|---|"]
        out += [f"| {_md_escape(label)} | {_md_escape(value)} |" for label, value in rows]
        out.append("")
    return redact("\n".join(out)) + "\n"


_PHASE_FLOPS_KEYS = {"prefill": "by_component", "decode": "decode_by_component", "training": "training_by_component"}
_PHASE_FLOPS_TOTALS = {"prefill": "prefill", "decode": "decode_per_token", "training": "training_step"}


def phase_document(d: dict, phase: str | None, table: str | None) -> dict:
    """The report dict narrowed to ``--phase`` / ``--table`` (JSON and YAML).

    Why its own shape: the CONTRACT names stay (``schema_version``, ``model_id``, ``settings`` and the
    ``memory`` / ``flops`` blocks, whole, for the tables asked for); ``phases`` is additive — per phase, the
    memory rows in bytes and the FLOPs by component, each with its total, the numbers the text tables show.
    """
    from lmscope.core.phases import phase_memory

    phases = [phase] if phase else list(PHASES)
    tables = ["memory", "flops"] if table in (None, "all") else [table]
    out: dict = {key: d.get(key) for key in ("schema_version", "model_id", "settings", "lmscope_version",
                                             "analysis_timestamp")}
    out["phase"], out["table"] = phase, table or "all"
    mem, flops = d.get("memory") or {}, d.get("flops") or {}
    for name, block in (("memory", mem), ("flops", flops)):
        if name in tables:
            out[name] = block or None
    views: dict = {}
    for ph in phases:
        view: dict = {}
        if "memory" in tables and mem:
            rows = phase_memory(mem, ph)
            view["memory"] = {"by_row": {k: v for k, v in rows[:-1]}, "total_bytes": rows[-1][1]}
        if "flops" in tables and flops:
            view["flops"] = {"by_component": dict(flops.get(_PHASE_FLOPS_KEYS[ph]) or {}),
                             "total": flops.get(_PHASE_FLOPS_TOTALS[ph])}
        roof: dict = flops["roofline"] if isinstance(flops.get("roofline"), dict) else {}
        if ph in ("prefill", "decode") and roof.get(f"{ph}_intensity"):
            view["roofline"] = {"intensity": roof[f"{ph}_intensity"], "bound": roof.get(f"{ph}_bound"),
                                "reference": roof.get("reference"), "machine_balance": roof.get("machine_balance")}
        views[ph] = view
    out["phases"] = views
    if not mem or not flops:
        out["notes"] = ["no architecture: no per-phase memory or FLOPs"]
    return out


def render_report(
    report: Report, fmt: str, *, detailed: bool = False, width: int | None = None, phase: str | None = None, table: str | None = None
) -> str:
    """``report`` in one of :data:`FORMATS`; ``phase``/``table`` narrow every format to seed 002's tables."""
    if (phase or table) and fmt == "text":
        return report_phase_text(report, phase=phase, table=table, width=width)
    if (phase or table) and fmt == "markdown":
        return report_phase_markdown(report, phase=phase, table=table)
    if (phase or table) and fmt == "json":
        doc = phase_document(report.to_dict(), phase, table)
        return redact(json.dumps(doc, indent=2, ensure_ascii=False, allow_nan=False)) + "\n"
    if (phase or table) and fmt == "yaml":
        return to_yaml(phase_document(report.to_dict(), phase, table))
    if fmt == "json":
        return report_to_json(report)
    if fmt == "markdown":
        return report_to_markdown(report, detailed=True)
    if fmt == "yaml":
        return report_to_yaml(report)
    return report_to_text(report, detailed=detailed, width=width)


def render_compare(compare: CompareReport, fmt: str, *, width: int | None = None) -> str:
    """``compare`` in one of :data:`FORMATS`."""
    if fmt == "json":
        return compare_to_json(compare)
    if fmt == "markdown":
        return compare_to_markdown(compare)
    if fmt == "yaml":
        return compare_to_yaml(compare)
    return compare_to_text(compare, width=width)


__all__ = [
    "FORMATS",
    "compare_to_json",
    "compare_to_markdown",
    "compare_to_text",
    "compare_to_yaml",
    "human_bytes",
    "human_count",
    "human_flops",
    "lookup",
    "render_compare",
    "render_report",
    "report_to_json",
    "report_to_markdown",
    "report_to_text",
    "report_to_yaml",
    "write_atomic",
]
