"""Serving as vLLM accounts for it at start-up, and the inverse questions.

vLLM sizes its KV pool per GPU as (its start-up log lines):
``total memory × gpu_memory_utilization`` − model weights − non-torch memory
− the activation peak of its profiling run (one batch of
``max_num_batched_tokens``) − CUDA graphs; the rest is the KV cache, and it
prints "Maximum concurrency for N tokens per request: X" = pool / what one
request of N tokens needs. ``gpu_memory_utilization`` is a fraction of the
*total* memory (not of what is free). Under tensor parallelism each GPU
holds its share of every request's KV (its KV heads; an MLA latent whole),
so the pool and the per-request size are both per GPU.

The terms are the planner's own (:mod:`lmscope.core.plan.memory`), so this
view and the fit verdict agree: the verdict is this accounting at
utilization 1.0 with the request's batch as the concurrency — except that
the verdict counts the activations of the request's own prefill (at most one
chunk), where vLLM always profiles a full chunk.

Inverse: the utilization a target concurrency × context needs, and the
smallest tensor-parallel size (a divisor of the attention heads) that
reaches it at the chosen utilization.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

from lmscope.core.hardware import Accelerator
from lmscope.core.plan.facts import ModelFacts
from lmscope.core.plan.memory import (
    PREFILL_CHUNK,
    kv_per_gpu,
    max_num_batched_tokens,
    overhead_bytes,
    prefill_activation_bytes,
    state_per_gpu,
    weights_per_gpu,
)
from lmscope.core.plan.request import PlanRequest


@dataclass(frozen=True)
class Serving:
    gpu_memory_utilization: float
    budget_bytes: int
    weights_bytes: int
    non_torch_bytes: int
    activation_peak_bytes: int
    cuda_graph_bytes: int
    kv_pool_bytes: int
    kv_bytes_per_request: int
    tokens_per_request: int
    max_concurrency: float | None
    utilization_needed: float  # for `batch` requests of `seq_len` tokens
    tp_needed: int | None  # smallest TP reaching `batch` × `seq_len` at the utilization, None if none ≤ 64
    max_num_batched_tokens: int = PREFILL_CHUNK

    def to_dict(self) -> dict[str, object]:
        return {
            "gpu_memory_utilization": self.gpu_memory_utilization,
            "budget_bytes": self.budget_bytes,
            "weights_bytes": self.weights_bytes,
            "non_torch_bytes": self.non_torch_bytes,
            "activation_peak_bytes": self.activation_peak_bytes,
            "cuda_graph_bytes": self.cuda_graph_bytes,
            "kv_pool_bytes": self.kv_pool_bytes,
            "kv_bytes_per_request": self.kv_bytes_per_request,
            "tokens_per_request": self.tokens_per_request,
            "max_concurrency": self.max_concurrency,
            "utilization_needed": self.utilization_needed,
            "tp_needed": self.tp_needed,
            "max_num_batched_tokens": self.max_num_batched_tokens,
        }


def _fixed(facts: ModelFacts, req: PlanRequest, hw: Accelerator) -> tuple[int, int, int, int]:
    non_torch, nccl, graphs = overhead_bytes(req, hw)
    chunk = max_num_batched_tokens(hw, req)
    act = prefill_activation_bytes(facts, req, chunk, 1, chunk)  # the profiling run: a full chunk
    return weights_per_gpu(facts, req), non_torch + nccl, act, graphs


def per_request(facts: ModelFacts, req: PlanRequest, tokens: int) -> int:
    return kv_per_gpu(facts, req, tokens, 1) + state_per_gpu(facts, req, 1)


def serving(facts: ModelFacts, req: PlanRequest, hw: Accelerator) -> Serving:
    """vLLM's start-up accounting for this plan, plus the inverse answers."""
    u = req.gpu_memory_utilization
    memory = hw.usable_bytes
    weights, non_torch, act, graphs = _fixed(facts, req, hw)
    budget = int(memory * u)
    pool = budget - weights - non_torch - act - graphs
    one = per_request(facts, req, req.seq_len)
    conc = max(0.0, pool / one) if one else None  # None: requests hold no KV/state (unbounded by memory)
    need = weights + non_torch + act + graphs + req.batch * one
    return Serving(
        gpu_memory_utilization=u,
        budget_bytes=budget,
        weights_bytes=weights,
        non_torch_bytes=non_torch,
        activation_peak_bytes=act,
        cuda_graph_bytes=graphs,
        kv_pool_bytes=pool,
        kv_bytes_per_request=one,
        tokens_per_request=req.seq_len,
        max_concurrency=conc,
        utilization_needed=need / memory if memory else float("inf"),
        tp_needed=tp_needed(facts, req, hw),
        max_num_batched_tokens=max_num_batched_tokens(hw, req),
    )


def valid_tp_sizes(facts: ModelFacts, limit: int = 64) -> list[int]:
    """Tensor-parallel sizes an engine accepts: divisors of the attention heads (powers of two first)."""
    heads = max(1, facts.arch.num_heads)
    return [t for t in range(1, limit + 1) if heads % t == 0]


def tp_needed(facts: ModelFacts, req: PlanRequest, hw: Accelerator) -> int | None:
    """Smallest TP whose per-GPU KV pool holds ``batch`` requests of ``seq_len`` tokens at the utilization."""
    for tp in valid_tp_sizes(facts):
        r = replace(req, tp=tp, pp=1, count=max(req.count, tp))
        weights, non_torch, act, graphs = _fixed(facts, r, hw)
        pool = int(hw.usable_bytes * req.gpu_memory_utilization) - weights - non_torch - act - graphs
        if pool >= req.batch * per_request(facts, r, req.seq_len):
            return tp
    return None
