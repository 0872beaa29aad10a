"""GPU/CPU split points when a model does not fit (inference), llama.cpp style.

llama.cpp's ``-ngl N`` puts the last N layers on the GPU(s) (the output
layer with them when N exceeds the layer count; token embeddings stay on the
CPU), and ``--tensor-split`` shares them between GPUs. We find the largest N
whose layers — weights plus their KV cache / state at the plan's context and
batch — fit in the GPUs' memory after the overhead, the activation peak and
the output layer, walking the layers from the last. Each layer's bytes come
from its own matrices, so MoE, MLA, Mamba and linear-attention layers weigh
what they weigh.

Also offered, because they often beat a plain layer split for MoE models:

* experts on the CPU (llama.cpp ``--n-cpu-moe`` / ``-ot exps=CPU``):
  attention, shared experts and the KV cache on the GPU, routed experts in RAM;
* what quantizing would buy: routed experts to int4, the KV cache to fp8.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

from lmscope.core.architecture import FFN
from lmscope.core.estimate.kv import (
    bytes_for,
    layer_cached_tokens,
    layer_kv_elements_per_token,
)
from lmscope.core.hardware import Accelerator
from lmscope.core.plan.facts import ModelFacts
from lmscope.core.plan.memory import plan_memory
from lmscope.core.plan.request import PlanRequest


@dataclass(frozen=True)
class Split:
    gpu_layers: int
    cpu_layers: int
    gpu_bytes: int  # on all GPUs together
    cpu_bytes: int
    gpu_layer_kinds: dict[str, int]
    cpu_layer_kinds: dict[str, int]
    experts_on_cpu: dict[str, object] | None
    what_if: list[dict[str, object]]

    def to_dict(self) -> dict[str, object]:
        return {
            "gpu_layers": self.gpu_layers,
            "cpu_layers": self.cpu_layers,
            "gpu_bytes": self.gpu_bytes,
            "cpu_bytes": self.cpu_bytes,
            "gpu_layer_kinds": self.gpu_layer_kinds,
            "cpu_layer_kinds": self.cpu_layer_kinds,
            "experts_on_cpu": self.experts_on_cpu,
            "what_if": self.what_if,
        }


def _kind(layer) -> str:
    mixer = {"full": "attention", "sliding": "attention", "chunked": "attention", "mla": "mla",
             "linear": "linear-attention", "mamba": "mamba", "mamba2": "mamba", "conv": "conv"}.get(layer.mixer.value, "other")
    return f"{mixer}+moe" if layer.ffn is FFN.MOE else mixer


def _layer_bytes(facts: ModelFacts, req: PlanRequest) -> list[tuple[str, int, int]]:
    """(kind, bytes, expert bytes) of every layer in order: weights + KV at the plan's context/batch + state."""
    arch = facts.arch
    from lmscope.core.estimate.kv import layer_state_elements
    from lmscope.core.estimate.shapes import layer_matrices
    from lmscope.core.plan.facts import matrix_bytes

    memo: dict[object, tuple[str, int, int]] = {}
    out = []
    for layer in arch.layers:
        if layer not in memo:
            mats = layer_matrices(arch, layer)
            w = sum(matrix_bytes(m, facts.weight_dtype) for m in mats) * facts.scale
            e = sum(matrix_bytes(m, facts.weight_dtype) for m in mats if m.group == "experts") * facts.scale
            kv = bytes_for(layer_kv_elements_per_token(arch, layer) * layer_cached_tokens(layer, req.seq_len) * req.batch,
                           facts.kv_dtype)
            st = bytes_for(sum(layer_state_elements(arch, layer)) * req.batch, facts.compute_dtype)
            memo[layer] = (_kind(layer), int(w) + kv + st, int(e))
        out.append(memo[layer])
    return out


def split_plan(facts: ModelFacts, req: PlanRequest, hw: Accelerator) -> Split:
    """Where to cut when the plan does not fit (module docstring). ``req`` is the inference request."""
    layers = _layer_bytes(facts, req)
    one = replace(req, tp=1, pp=1, ep=1, count=1)
    base = plan_memory(facts, one, hw, req.seq_len, req.batch)
    head = facts.head_bytes or facts.embed_bytes
    budget = req.count * (hw.usable_bytes - base.overhead_bytes - base.activation_bytes) - head
    used = 0
    n_gpu = 0
    for _, b, _ in reversed(layers):
        if used + b > budget:
            break
        used += b
        n_gpu += 1
    n_cpu = len(layers) - n_gpu
    gpu_kinds: dict[str, int] = {}
    cpu_kinds: dict[str, int] = {}
    for i, (kind, _, _) in enumerate(layers):
        target = gpu_kinds if i >= n_cpu else cpu_kinds
        target[kind] = target.get(kind, 0) + 1
    cpu_bytes = sum(b for _, b, _ in layers[:n_cpu]) + facts.edge_bytes - facts.head_bytes
    gpu_bytes = used + (head if n_gpu else 0)

    actual = plan_memory(facts, req, hw, req.seq_len, req.batch)  # per GPU with the requested parallelism
    share = actual.weights_bytes / facts.weights_bytes if facts.weights_bytes else 1.0
    experts = None
    if facts.is_moe:
        per_gpu = actual.per_gpu_bytes - int(facts.expert_bytes * share)
        experts = {
            "gpu_bytes_per_gpu": per_gpu,
            "cpu_bytes": facts.expert_bytes,
            "fits": per_gpu <= hw.usable_bytes,
            "llama_cpp": "-ngl 999 -ot exps=CPU (or --n-cpu-moe N)",
        }
    what_if = []
    if facts.is_moe and facts.weight_dtype != "int4":
        saved = int(max(0, facts.expert_bytes - facts.expert_bytes_at("int4")) * share)
        what_if.append({"change": "routed experts to int4", "saves_bytes_per_gpu": saved,
                        "fits": actual.per_gpu_bytes - saved <= hw.usable_bytes})
    if facts.kv_dtype not in ("fp8", "int8", "int4") and actual.kv_cache_bytes:
        from lmscope.core.plan.memory import kv_per_gpu

        saved = actual.kv_cache_bytes - kv_per_gpu(facts, req, req.seq_len, req.batch, kv_dtype="fp8")
        what_if.append({"change": "KV cache to fp8", "saves_bytes_per_gpu": saved,
                        "fits": actual.per_gpu_bytes - saved <= hw.usable_bytes})
    return Split(n_gpu, n_cpu, gpu_bytes, cpu_bytes, gpu_kinds, cpu_kinds, experts, what_if)
