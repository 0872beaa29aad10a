"""LoRA and QLoRA: trainable parameters and fine-tuning memory.

LoRA (Hu et al. 2021) freezes the base and trains, for each adapted matrix
``W (d_in × d_out)``, two factors ``A (d_in × r)`` and ``B (r × d_out)``:
``r · (d_in + d_out)`` parameters.

Default targets: every linear projection of the text stack's layers — all
attention (or Mamba / linear-attention / conv mixer) projections and all MLP
projections, including each routed and shared expert's (PEFT's
``target_modules="all-linear"``, which leaves out the LM head; we also leave
out MoE routers, embeddings and vision towers). The matrices are exactly
:func:`lmscope.core.estimate.shapes.linear_matrices`.

Memory, single GPU, no ZeRO:

* LoRA: the frozen base in 16-bit (2 bytes/param, no gradients or optimizer
  states), the adapters with mixed-precision Adam (16 bytes per trainable
  parameter: weight + gradient + fp32 master, m, v), and activations. The
  base's activations are still stored: gradients must flow through every
  frozen layer to reach the adapters below it, so they are the full-training
  activations (:func:`training_activation_bytes`, same recomputation and flash
  settings) plus each adapter's rank-r intermediate ``x·A`` (2·r bytes per
  token per adapted matrix).
* QLoRA (Dettmers et al. 2023): the same, but the adapted base matrices are
  stored in NF4 with double quantization (:func:`~lmscope.core.estimate.memory.nf4_bytes`:
  4 bits + 8-bit absmax per 64 + fp32 per 256 blocks); the rest of the base
  (embeddings, LM head, norms) stays 16-bit. Paged optimizers and the
  dequantization buffer (one matrix at a time) are not counted.
"""

from __future__ import annotations

from dataclasses import dataclass

from lmscope.core.architecture import Architecture
from lmscope.core.errors import ConfigError
from lmscope.core.estimate.memory import nf4_bytes
from lmscope.core.estimate.shapes import linear_matrices, linear_parameters
from lmscope.core.estimate.training import training_activation_bytes

ADAPTER_BYTES_PER_PARAM = 16  # 2 weight + 2 grad + 12 fp32 master/m/v


@dataclass(frozen=True)
class LoraEstimate:
    """Trainable parameters and peak memory (bytes) for LoRA and QLoRA at one setting."""

    rank: int
    trainable_parameters: int
    adapted_matrices: int
    lora_bytes: int
    qlora_bytes: int
    base_bytes_16bit: int
    base_bytes_nf4: int
    adapter_bytes: int
    activation_bytes: int


LORA_TARGETS = ("all", "qv")
# The query and value projections (the LoRA paper's W_q, W_v); MLA's q (or its low-rank pair) and kv_b_proj,
# which produces the values; seq2seq cross-attention's q and v.
_QV = frozenset({"q_proj", "v_proj", "q_a_proj", "q_b_proj", "kv_b_proj", "cross.q_proj", "cross.v_proj"})


def lora_matrices(arch: Architecture, targets: str = "all") -> tuple:
    """The matrices LoRA adapts: every linear of the layers ("all", PEFT's all-linear) or "qv" (Hu et al. 2021)."""
    if targets not in LORA_TARGETS:
        raise ConfigError(f"unknown LoRA targets {targets!r}; choose all or qv")
    mats = linear_matrices(arch)
    if targets == "all":
        return mats
    return tuple(m for m in mats if m.name.removeprefix("encoder.") in _QV)


def lora_trainable_parameters(arch: Architecture, rank: int, targets: str = "all") -> int:
    """``Σ r · (d_in + d_out)`` over the target matrices."""
    if rank < 1:
        raise ConfigError(f"LoRA rank must be at least 1, not {rank}")
    return sum(rank * (m.d_in + m.d_out) * m.count for m in lora_matrices(arch, targets))


def lora_estimate(
    arch: Architecture,
    total_parameters: int,
    *,
    rank: int,
    seq_len: int,
    micro_batch: int = 1,
    recompute: str = "none",
    flash: bool = True,
    targets: str = "all",
) -> LoraEstimate:
    """LoRA/QLoRA memory at ``rank`` for one micro-batch of ``seq_len`` tokens (module docstring).

    ``targets`` picks the adapted matrices; QLoRA quantizes every linear of the
    layers to NF4 whatever the targets (bitsandbytes replaces all of them).
    """
    quant = linear_matrices(arch)
    mats = lora_matrices(arch, targets)
    trainable = lora_trainable_parameters(arch, rank, targets)
    adapted = sum(m.count for m in mats)
    target_weights = linear_parameters(arch)
    if target_weights > total_parameters:  # never quantize more than the model holds
        target_weights = 0
        quant = mats = ()
    base16 = 2 * total_parameters
    base_nf4 = sum(nf4_bytes(m.d_in * m.d_out) * m.count for m in quant) + 2 * (total_parameters - target_weights)
    adapters = ADAPTER_BYTES_PER_PARAM * trainable
    act = training_activation_bytes(arch, seq_len=seq_len, micro_batch=micro_batch, recompute=recompute, flash=flash)
    # x·A of each adapter a token passes through (a routed expert's only for its top-k tokens)
    per_token = 0
    for m in mats:
        if m.group == "experts" and arch.moe is not None and arch.moe.num_experts:
            per_token += m.count * arch.moe.experts_per_token // arch.moe.num_experts
        else:
            per_token += m.count
    act += 2 * rank * per_token * seq_len * micro_batch
    return LoraEstimate(
        rank=rank,
        trainable_parameters=trainable,
        adapted_matrices=adapted,
        lora_bytes=base16 + adapters + act,
        qlora_bytes=base_nf4 + adapters + act,
        base_bytes_16bit=base16,
        base_bytes_nf4=base_nf4,
        adapter_bytes=adapters,
        activation_bytes=act,
    )
