"""Ready-to-paste serving commands that match a plan, with the inputs they rest on.

vLLM (``vllm serve``), SGLang (``python -m sglang.launch_server``) and
llama.cpp (``llama-server``, for a GGUF of the model) flags named as each
project documents them. The basis lists what the estimate assumed so a user
can hold it against the engine's own start-up log (vLLM prints the weights,
activation peak, KV cache size and maximum concurrency).
"""

from __future__ import annotations

import shlex

from lmscope.core.hardware import Accelerator
from lmscope.core.plan.facts import ModelFacts
from lmscope.core.plan.request import PlanRequest

_SGLANG_KV = {"fp8": "fp8_e4m3"}


def serve_commands(
    model_id: str,
    facts: ModelFacts,
    req: PlanRequest,
    hw: Accelerator,
    *,
    utilization: float,
    gpu_layers: int | None = None,
    is_gguf: bool = False,
) -> dict[str, object]:
    """{"vllm", "sglang", "llama_cpp", "basis"}: the commands (None where they do not apply)."""
    tp, pp, ep = req.tensor_parallel, req.pp, req.ep
    quoted = shlex.quote(model_id)
    util = f"{utilization:.2f}"
    vllm = sglang = None
    if not (hw.unified or hw.cpu) and not is_gguf:
        parts = ["vllm serve", quoted, f"--tensor-parallel-size {tp}"]
        if pp > 1:
            parts.append(f"--pipeline-parallel-size {pp}")
        if ep > 1:
            parts.append("--enable-expert-parallel")
        parts += [f"--max-model-len {req.seq_len}", f"--gpu-memory-utilization {util}", f"--max-num-seqs {req.batch}"]
        if req.kv_dtype == "fp8":
            parts.append("--kv-cache-dtype fp8")
        if req.dtype == "fp8" and facts.arch.quantization is None:
            parts.append("--quantization fp8")
        vllm = " ".join(parts)
        sg = ["python -m sglang.launch_server", f"--model-path {quoted}", f"--tp {tp}"]
        if pp > 1:
            sg.append(f"--pp-size {pp}")
        if ep > 1:
            sg.append(f"--ep-size {ep}")
        sg += [f"--context-length {req.seq_len}", f"--mem-fraction-static {util}", f"--max-running-requests {req.batch}"]
        if req.kv_dtype in _SGLANG_KV:
            sg.append(f"--kv-cache-dtype {_SGLANG_KV[req.kv_dtype]}")
        if req.dtype == "fp8" and facts.arch.quantization is None:
            sg.append("--quantization fp8")
        sglang = " ".join(sg)
    ngl = len(facts.arch.layers) + 1 if gpu_layers is None else gpu_layers
    lc = ["llama-server", "-m", "MODEL.gguf", f"-c {req.seq_len * req.batch}", f"-np {req.batch}", f"-ngl {ngl}"]
    if req.count > 1 and ngl:
        lc.append("--tensor-split " + ",".join(["1"] * req.count))
    if req.kv_dtype in ("fp8", "int8"):
        lc.append("-ctk q8_0 -ctv q8_0 -fa on")
    llama = " ".join(lc)
    basis = [
        f"model {model_id}: weights at {facts.weight_dtype}, KV cache at {facts.kv_dtype}, math in {facts.compute_dtype}",
        f"{req.count} x {hw.label}; tensor parallel {tp}, pipeline parallel {pp}, expert parallel {ep}",
        f"context {req.seq_len:,} tokens per request, {req.batch} concurrent request(s)",
        f"gpu_memory_utilization {util} (vLLM: fraction of total memory; SGLang's --mem-fraction-static likewise)",
        "llama.cpp: -c is the total context shared by -np slots; -ngl counts layers from the last (+1 = output layer)",
    ]
    return {"vllm": vllm, "sglang": sglang, "llama_cpp": llama, "basis": basis}
