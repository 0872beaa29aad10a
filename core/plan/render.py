"""Plan as text, Markdown, JSON or YAML (JSON/YAML carry ``Plan.to_dict()`` unchanged)."""

from __future__ import annotations

import json

from lmscope.core.export import to_yaml
from lmscope.core.hardware import Accelerator, list_accelerators
from lmscope.core.redact import redact
from lmscope.core.units import fixed, human_bytes, human_seconds

FORMATS = ("text", "json", "markdown", "yaml")


def _gib(n: object) -> str:
    return human_bytes(n)


def _seconds(t: float) -> str:
    return human_seconds(t)


def plan_lines(d: dict) -> list[tuple[str, list[tuple[str, str]]]]:
    """Sections of (label, value) rows shared by the text and Markdown views."""
    s, hw, mem = d["settings"], d["hardware"], d["memory"]
    res = s["resolved_dtypes"]
    head = [
        ("model", d["model_id"]),
        ("hardware", f"{s['count']} x {hw['label']} ({_gib(hw['memory_bytes'])} each"
         + (f", {_gib(hw['usable_bytes'])} GPU-usable" if hw["usable_bytes"] != hw["memory_bytes"] else "") + ")"),
        ("mode", s["mode"] + (f", ZeRO-{s['zero']}, {s['optimizer']}, recompute {s['recompute']}" if s["mode"] != "inference" else
                              f", TP {s['tp']} x PP {s['pp']}" + (f", EP {s['ep']}" if s["ep"] > 1 else ""))
         + (f", LoRA rank {s['lora_rank']} ({s['lora_targets']})" if s["mode"] in ("lora", "qlora") else "")),
        ("settings", f"seq_len {s['seq_len']:,}, batch {s['batch']}, weights {res['weights']}, KV {res['kv_cache']}"),
    ]
    verdict = "FITS" if d["fits"] else "DOES NOT FIT"
    rows = [
        ("weights", _gib(mem["weights_bytes"])),
        ("KV cache", _gib(mem["kv_cache_bytes"])),
        ("state", _gib(mem["state_bytes"])),
        ("activations", _gib(mem["activation_bytes"])),
    ]
    if s["mode"] != "inference":
        rows += [("gradients", _gib(mem["gradients_bytes"])), ("optimizer", _gib(mem["optimizer_bytes"]))]
        if mem["adapter_bytes"]:
            rows.append(("adapters", _gib(mem["adapter_bytes"])))
    rows += [
        ("overhead", _gib(mem["overhead_bytes"])),
        ("per GPU", f"{_gib(mem['per_gpu_bytes'])} of {_gib(hw['usable_bytes'])}"),
        ("verdict", f"{verdict} (headroom {_gib(d['headroom_bytes'])})"),
        ("max context", f"{d['max_seq_len']:,} tokens at batch {s['batch']}" if d["max_seq_len"] else "none fits"),
        ("max batch", f"{d['max_batch']:,} at {s['seq_len']:,} tokens" if d["max_batch"] else "none fits"),
    ]
    sections = [("plan", head), ("memory per GPU", rows)]
    r = d.get("roofline")
    if r:
        balance = f"machine balance {r['machine_balance']:,.0f} FLOP/B ({r['peak_dtype']})"
        if r.get("decode_tokens_per_s") is not None:
            rr = [
                ("prefill", f"{_seconds(r['prefill_seconds'])} ({r['prefill_bound']}-bound)"),
                ("time to first token", _seconds(r["ttft_seconds"])),
                ("decode", f"{r['decode_tokens_per_s']:,.1f} tokens/s ({r['decode_tokens_per_s_per_sequence']:,.1f} per sequence), "
                           f"{r['bound']}-bound"),
                ("intensity", f"decode {r['decode_intensity']:,.1f} FLOP/B, prefill {r['prefill_intensity']:,.0f} FLOP/B; {balance}"),
            ]
        else:  # an encoder: one forward pass, no decode
            rr = [
                ("forward pass", f"{_seconds(r['prefill_seconds'])} ({r['prefill_bound']}-bound); an encoder has no decode step"),
                ("intensity", f"{r['prefill_intensity']:,.0f} FLOP/B; {balance}"),
            ]
        e = r.get("with_efficiency")
        if e:
            decode = f", decode {e['decode_tokens_per_s']:,.1f} tokens/s" if e.get("decode_tokens_per_s") is not None else ""
            rr.append((f"at {e['efficiency']:.0%} efficiency", f"prefill {_seconds(e['prefill_seconds'])}{decode}"))
        sections.append(("roofline (pure bound)" if d["fits"] else "roofline (pure bound, were it to fit)", rr))
    sv = d.get("serving")
    if sv:
        conc = sv["max_concurrency"]
        sections.append(("vLLM start-up accounting (per GPU)", [
            ("budget", f"{_gib(sv['budget_bytes'])} (gpu_memory_utilization {sv['gpu_memory_utilization']:.2f} of total)"),
            ("weights / non-torch", f"{_gib(sv['weights_bytes'])} / {_gib(sv['non_torch_bytes'])}"),
            ("activation peak / CUDA graphs", f"{_gib(sv['activation_peak_bytes'])} / {_gib(sv['cuda_graph_bytes'])}"
             f" (profiling {sv['max_num_batched_tokens']:,} tokens)"),
            ("KV cache pool", _gib(sv["kv_pool_bytes"])),
            ("max concurrency", (f"{conc:,.2f}x" if conc is not None else "unbounded")
             + f" for {sv['tokens_per_request']:,} tokens per request"),
            ("needed", f"gpu_memory_utilization {sv['utilization_needed']:.2f} for {s['batch']} request(s); "
                       + (f"TP {sv['tp_needed']} at {sv['gpu_memory_utilization']:.2f}" if sv["tp_needed"] else "no TP up to 64 suffices")),
        ]))
    sp = d.get("split")
    if sp:
        kinds = ", ".join(f"{n} {k}" for k, n in sp["gpu_layer_kinds"].items()) or "none"
        rows = [
            ("layers on GPU", f"{sp['gpu_layers']} ({kinds}), {_gib(sp['gpu_bytes'])}"),
            ("layers on CPU", f"{sp['cpu_layers']}, {_gib(sp['cpu_bytes'])} in RAM"),
        ]
        if sp["experts_on_cpu"]:
            ex = sp["experts_on_cpu"]
            rows.append(("experts on CPU", f"GPU {_gib(ex['gpu_bytes_per_gpu'])} per GPU ({'fits' if ex['fits'] else 'does not fit'}), "
                                            f"RAM {_gib(ex['cpu_bytes'])}; llama.cpp {ex['llama_cpp']}"))
        for w in sp["what_if"]:
            rows.append((w["change"], f"saves {_gib(w['saves_bytes_per_gpu'])} per GPU; {'then fits' if w['fits'] else 'still does not fit'}"))
        sections.append(("GPU/CPU split", rows))
    tr = d.get("training")
    if tr:
        rows = [("trainable parameters", f"{tr['trainable_parameters']:,}"),
                ("model states (DeepSpeed)", _gib(tr["model_states_bytes"]))]
        if tr.get("paper_model_states_bytes"):
            rows.append(("model states (ZeRO paper)", _gib(tr["paper_model_states_bytes"])))
        sections.append(("training", rows))
    cm = d.get("commands")
    if cm:
        rows = [(k, cm[k]) for k in ("vllm", "sglang", "llama_cpp") if cm.get(k)]
        sections.append(("commands", rows))
    return sections


def plan_to_text(d: dict) -> str:
    out: list[str] = []
    for title, rows in plan_lines(d):
        out.append(title)
        width = max((len(k) for k, _ in rows), default=0)
        out += [f"  {k.ljust(width)}  {v}" for k, v in rows]
        out.append("")
    if d.get("commands"):
        out.append("basis of the commands")
        out += [f"  - {b}" for b in d["commands"]["basis"]]
        out.append("")
    out.append("assumptions")
    out += [f"  - {a}" for a in d["assumptions"]]
    return redact("\n".join(out)) + "\n"


def plan_to_markdown(d: dict) -> str:
    out = [f"# Plan: {d['model_id']}", ""]
    for title, rows in plan_lines(d):
        out += [f"## {title}", "", "| | |", "|---|---|"]
        out += [f"| {k} | {('`' + v + '`') if title == 'commands' else v.replace('|', '/')} |" for k, v in rows]
        out.append("")
    out += ["## assumptions", ""] + [f"- {a}" for a in d["assumptions"]]
    return redact("\n".join(out)) + "\n"


def render_plan(d: dict, fmt: str) -> str:
    if fmt == "json":
        return redact(json.dumps(d, indent=2, ensure_ascii=False, allow_nan=False)) + "\n"
    if fmt == "yaml":
        return to_yaml(d)
    if fmt == "markdown":
        return plan_to_markdown(d)
    return plan_to_text(d)


def gpus_table(fmt: str = "text", extra: list[Accelerator] | None = None) -> str:
    """`lmscope plan --list-gpus`: every profile with its figures and source."""
    accs = list_accelerators() + list(extra or [])
    rows = []
    for a in accs:
        rows.append({
            "name": a.name, "label": a.label, "memory_bytes": a.memory_bytes, "usable_bytes": a.usable_bytes,
            "bandwidth_bytes_per_s": a.bandwidth_bytes_per_s,
            "peak_flops": dict(a.peak_flops), "interconnect": a.interconnect or None,
            "interconnect_bytes_per_s": a.interconnect_bytes_per_s or None, "source": a.source,
        })
    if fmt == "json":
        return json.dumps({"gpus": rows}, indent=2) + "\n"
    if fmt == "yaml":
        return to_yaml({"gpus": rows})
    lines = [f"{'name':<11} {'memory':>10} {'bandwidth':>11} {'16-bit':>9} {'fp8':>9} {'fp4':>9}  interconnect"]
    for a, r in zip(accs, rows):
        pf = a.peak_flops  # the row's "peak_flops", typed
        tf = lambda k, pf=pf: fixed(pf[k], "T", 0) if pf.get(k) else "—"
        link = f"{r['interconnect']} {fixed(r['interconnect_bytes_per_s'], 'GB', 0)}/s" if r["interconnect"] else "—"
        lines.append(f"{r['name']:<11} {human_bytes(r['memory_bytes']):>10} {fixed(r['bandwidth_bytes_per_s'], 'GB', 0):>9}/s "
                     f"{tf('bf16' if pf.get('bf16') else 'fp16'):>9} {tf('fp8'):>9} {tf('fp4'):>9}  {link}")
    lines.append("")
    lines.append("Dense peak FLOP/s (vendor sparsity figures halved); sources: lmscope plan --list-gpus --format json")
    return "\n".join(lines) + "\n"
