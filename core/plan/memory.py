"""The one memory function of the planner: bytes per GPU for a model × request × card at (seq_len, batch).

The fit verdict, the solved limits (``max_seq_len``, ``max_batch``), the
serving view and the split advice all call :func:`plan_memory`, so they can
never disagree. It is monotone non-decreasing in ``seq_len`` and ``batch``
(every term is), which is what lets the solver bisect.

Inference, per GPU (tensor parallel ``tp``, pipeline ``pp``, expert ``ep``):

* weights: layer matrices / tp, routed experts / ep (or / tp without EP),
  both × the worst stage's share of layers (⌈L/pp⌉ / L); embeddings and LM
  head vocabulary-parallel (/ tp), with pp > 1 only the larger of the first
  stage's (embeddings, norms, routers, vision) and the last's (LM head);
* KV cache: per layer ``2 · ⌈kv_heads / tp⌉ · head_dim`` — KV heads split by
  TP, one head per GPU (replicated) once tp > kv_heads, vLLM's rule; an MLA
  latent is not split (every TP rank caches the whole latent, as vLLM's MLA
  backends do); sliding layers capped at their window; × the stage share;
* recurrent state (Mamba, linear attention): split by TP like the heads it
  belongs to, × the stage share;
* activations: the peak of one prefill chunk of min(batch · seq_len, C)
  tokens, C = the ``max_num_batched_tokens`` ``vllm serve`` picks for the
  card (:func:`max_num_batched_tokens`: 8192 on cards of 70 GiB or more that
  are not A100s, 2048 on the others, 2048 per rank on CPUs — the same figure
  its start-up profiling run measures), not split by TP (the residual stream
  is replicated);
* overhead, stated: CUDA context and other non-torch memory 0.5 GiB, NCCL
  buffers 0.5 GiB when more than one GPU, CUDA graphs 0.5 GiB; Apple/CPU
  runtimes 0.5 GiB.

Training (data parallel over ``count`` GPUs with ZeRO):

* full fine-tune: DeepSpeed's model-state bookkeeping
  (:func:`~lmscope.core.estimate.training.deepspeed_model_states`) plus one
  micro-batch's stored activations (Korthikanti, recompute and flash as
  asked; dropout masks only for models with dropout);
* LoRA: frozen 16-bit base (ZeRO-3 shards it); the adapters as PEFT trains
  them under autocast: fp32 weights 4 + fp32 gradients 4 + optimizer states
  (Adam 8, 8-bit Adam 2, SGD 4, Adafactor ≈ 0) bytes per trainable parameter
  — 16 B for AdamW, the same as :mod:`lmscope.core.estimate.lora` — sharded
  by ZeRO like model states; activations (the frozen base's too: gradients
  flow through it) plus each adapter's ``x·A``;
* QLoRA: the same with the base's matrices in NF4 (Dettmers et al. 2023);
* overhead: CUDA context 0.5 GiB (+ NCCL 0.5 GiB when more than one GPU).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from lmscope.core.architecture import Mixer
from lmscope.core.estimate.kv import (
    ENCODER_ONLY,
    bytes_for,
    layer_cached_tokens,
    layer_kv_elements_per_token,
    state_bytes,
)
from lmscope.core.estimate.memory import inference_activation_bytes
from lmscope.core.estimate.shapes import encoder_length, layer_groups, layer_kv_heads
from lmscope.core.estimate.training import (
    deepspeed_model_states,
    largest_module_parameters,
    training_activation_bytes,
)
from lmscope.core.hardware import GIB, Accelerator
from lmscope.core.plan.facts import ModelFacts
from lmscope.core.plan.request import PlanRequest

PREFILL_CHUNK = 8192  # vLLM's largest default max_num_batched_tokens for `vllm serve` (see max_num_batched_tokens)
SMALL_CARD_CHUNK = 2048  # vLLM's `vllm serve` default below 70 GiB and on A100s
LARGE_CARD_BYTES = 70 * GIB
NON_TORCH = GIB // 2
NCCL = GIB // 2
CUDA_GRAPHS = GIB // 2
RUNTIME_OTHER = GIB // 2  # Apple Metal / CPU runtimes


@dataclass(frozen=True)
class PlanMemory:
    """Per-GPU bytes of one plan at one (seq_len, batch). ``per_gpu_bytes`` is the sum."""

    weights_bytes: int
    kv_cache_bytes: int
    activation_bytes: int
    state_bytes: int
    gradients_bytes: int
    optimizer_bytes: int
    overhead_bytes: int
    adapter_bytes: int = 0

    @property
    def per_gpu_bytes(self) -> int:
        return (
            self.weights_bytes + self.kv_cache_bytes + self.activation_bytes + self.state_bytes
            + self.gradients_bytes + self.optimizer_bytes + self.overhead_bytes + self.adapter_bytes
        )

    def to_dict(self) -> dict[str, int]:
        return {
            "weights_bytes": self.weights_bytes,
            "kv_cache_bytes": self.kv_cache_bytes,
            "activation_bytes": self.activation_bytes,
            "state_bytes": self.state_bytes,
            "gradients_bytes": self.gradients_bytes,
            "optimizer_bytes": self.optimizer_bytes,
            "adapter_bytes": self.adapter_bytes,
            "overhead_bytes": self.overhead_bytes,
            "per_gpu_bytes": self.per_gpu_bytes,
        }


def overhead_bytes(req: PlanRequest, hw: Accelerator) -> tuple[int, int, int]:
    """(non-torch, NCCL, CUDA graphs) bytes per GPU — the stated framework overhead."""
    if hw.unified or hw.cpu:
        return RUNTIME_OTHER, 0, 0
    nccl = NCCL if req.count > 1 else 0
    graphs = CUDA_GRAPHS if not req.training else 0
    return NON_TORCH, nccl, graphs


def stage_share(facts: ModelFacts, pp: int) -> float:
    """Share of the layers on the fullest pipeline stage: ⌈L/pp⌉ / L."""
    layers = max(1, len(facts.arch.layers))
    return math.ceil(layers / pp) / layers if pp > 1 else 1.0


def weights_per_gpu(facts: ModelFacts, req: PlanRequest) -> int:
    """Inference weights on the fullest GPU (module docstring)."""
    tp, pp, ep = req.tensor_parallel, req.pp, req.ep
    share = stage_share(facts, pp)
    expert_div = ep if ep > 1 else tp
    inside = facts.layer_bytes / tp + facts.expert_bytes / expert_div
    if pp > 1:
        first = facts.edge_bytes - facts.head_bytes
        edge = max(first, facts.head_bytes or facts.embed_bytes)
    else:
        edge = facts.edge_bytes
    return math.ceil(inside * share + edge / tp)


def kv_per_gpu(facts: ModelFacts, req: PlanRequest, seq_len: int, batch: int, kv_dtype: str | None = None) -> int:
    """KV cache bytes on the fullest GPU for ``batch`` sequences of ``seq_len`` tokens."""
    arch = facts.arch
    if arch.objective in ENCODER_ONLY:
        return 0
    tp = req.tensor_parallel
    elements = 0
    for layer, n in layer_groups(arch):
        per_token = layer_kv_elements_per_token(arch, layer)
        if not per_token:
            continue
        if layer.mixer is not Mixer.MLA:
            kvh = layer_kv_heads(arch, layer)
            per_token = per_token * math.ceil(kvh / tp) // kvh if kvh else per_token
        elements += per_token * layer_cached_tokens(layer, seq_len) * n
    if arch.encoder_layers:  # seq2seq cross-attention over the encoder output (full heads, split by TP)
        heads = math.ceil(arch.num_heads / tp)
        cross = sum(2 * heads * arch.head_dim * n for layer, n in layer_groups(arch) if layer.mixer.is_attention)
        elements += cross * encoder_length(arch, seq_len)
    share = stage_share(facts, req.pp)
    return math.ceil(bytes_for(elements * batch, kv_dtype or facts.kv_dtype) * share)


def state_per_gpu(facts: ModelFacts, req: PlanRequest, batch: int) -> int:
    """Recurrent state (Mamba, linear attention, short conv) on the fullest GPU."""
    total = state_bytes(facts.arch, batch, facts.compute_dtype)
    return math.ceil(total * stage_share(facts, req.pp) / req.tensor_parallel) if total else 0


def max_num_batched_tokens(hw: Accelerator, req: PlanRequest) -> int:
    """The prefill chunk ``vllm serve`` schedules by default on this card (chunked prefill is always on in V1).

    vLLM ``EngineArgs._set_default_args`` (vllm/engine/arg_utils.py, vllm-project/vllm
    at 99d7eb5d): for the OPENAI_API_SERVER usage context (``vllm serve``),
    ``device_memory >= 70 * GiB_bytes and "a100" not in device_name`` → 8192
    ("For GPUs like H100 and MI300x"), otherwise 2048 (the NOTE there: a larger
    value lowers A100 throughput, vLLM PR #17885); on a CPU, 2048 × the world
    size (pp × tp). The offline ``LLM`` class uses 16384 / 8192 instead; the
    planner's commands are ``vllm serve``.
    """
    if hw.cpu:
        return SMALL_CARD_CHUNK * max(1, req.tensor_parallel * req.pp)
    name = f"{hw.name} {hw.label}".lower()
    return PREFILL_CHUNK if hw.memory_bytes >= LARGE_CARD_BYTES and "a100" not in name else SMALL_CARD_CHUNK


def prefill_activation_bytes(facts: ModelFacts, req: PlanRequest, seq_len: int, batch: int,
                             chunk_tokens: int = PREFILL_CHUNK) -> int:
    """Peak activations of one prefill chunk (min(batch · seq_len, ``chunk_tokens``) tokens)."""
    chunk = min(seq_len * batch, chunk_tokens)
    return inference_activation_bytes(facts.arch, seq_len=chunk, batch=1, dtype=facts.compute_dtype, flash=req.flash)


def lora_matrices(facts: ModelFacts, targets: str):
    """The matrices LoRA adapts (see :func:`lmscope.core.estimate.lora.lora_matrices`)."""
    from lmscope.core.estimate.lora import lora_matrices as matrices

    return matrices(facts.arch, targets)


def plan_memory(facts: ModelFacts, req: PlanRequest, hw: Accelerator, seq_len: int, batch: int) -> PlanMemory:
    """Per-GPU bytes at (``seq_len``, ``batch``) — the planner's only memory model (module docstring)."""
    non_torch, nccl, graphs = overhead_bytes(req, hw)
    overhead = non_torch + nccl + graphs
    if req.mode == "inference":
        return PlanMemory(
            weights_bytes=weights_per_gpu(facts, req),
            kv_cache_bytes=kv_per_gpu(facts, req, seq_len, batch),
            activation_bytes=prefill_activation_bytes(facts, req, seq_len, batch, max_num_batched_tokens(hw, req)),
            state_bytes=state_per_gpu(facts, req, batch),
            gradients_bytes=0,
            optimizer_bytes=0,
            overhead_bytes=overhead,
        )
    arch = facts.arch
    act = training_activation_bytes(arch, seq_len=seq_len, micro_batch=batch, recompute=req.recompute, flash=req.flash)
    total = facts.params.total
    n = req.count
    if req.mode == "training":
        w, g, o = deepspeed_model_states(
            total, largest_module_parameters(arch), zero_stage=req.zero, num_gpus=n, optimizer=req.optimizer
        )
        return PlanMemory(w, 0, act, 0, g, o, overhead)
    # LoRA / QLoRA
    from lmscope.core.estimate.memory import nf4_bytes

    mats = lora_matrices(facts, req.lora_targets)
    trainable = sum(req.lora_rank * (m.d_in + m.d_out) * m.count for m in mats)
    if req.mode == "qlora":
        from lmscope.core.estimate.shapes import linear_matrices

        quant = linear_matrices(arch)
        q_params = sum(m.parameters for m in quant)
        base = sum(nf4_bytes(m.d_in * m.d_out) * m.count for m in quant) + 2 * max(0, total - q_params)
    else:
        base = 2 * total
    if req.zero == 3:
        base = math.ceil(base / n)
    per_token = 0  # x·A of each adapter a token passes through (routed experts only for their top-k tokens)
    moe = arch.moe
    for m in mats:
        if m.group == "experts" and moe is not None and moe.num_experts:
            per_token += m.count * moe.experts_per_token // moe.num_experts
        else:
            per_token += m.count
    act += 2 * req.lora_rank * per_token * seq_len * batch
    from lmscope.core.estimate.training import _STATE_BEYOND_MASTER

    def shard(b: int, stage: int) -> int:
        return math.ceil(b / n) if req.zero >= stage else b

    w16 = shard(4 * trainable, 3)  # adapters in fp32 (PEFT under autocast keeps trainable weights fp32)
    g = shard(4 * trainable, 2)
    o = shard(_STATE_BEYOND_MASTER[req.optimizer] * trainable, 1)
    return PlanMemory(base, 0, act, 0, g, o, overhead, adapter_bytes=w16)
