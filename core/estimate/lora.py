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
from lmscope.core.estimate.shapes import Matrix, linear_matrices, linear_parameters
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
_QV = frozenset({"q_proj", "v_proj", "qkv_proj", "q_a_proj", "q_b_proj", "kv_b_proj", "cross.q_proj", "cross.v_proj"})


# Fused modules: (the fusion name on Architecture.fused_projections, the parts it holds, the fused module's name)
_FUSIONS = (("qkv", ("q_proj", "k_proj", "v_proj"), "qkv_proj"), ("gate_up", ("gate_proj", "up_proj"), "gate_up_proj"))


def adapter_modules(arch: Architecture) -> tuple[Matrix, ...]:
    """The layers' linear modules as the class holds them: :func:`linear_matrices` with the parts of each fused
    projection (``Architecture.fused_projections``) merged into one module of their summed output width.

    Why: an adapter belongs to a module, so r·(d_in + d_out) is paid once for a fused qkv_proj (h → q+k+v),
    not three times (PEFT's all-linear on GPT-2's c_attn or Phi-3's qkv_proj). Routed experts stay apart.
    OPT's embedding projections (a narrower word embedding) are linear modules too.
    """
    mats = list(linear_matrices(arch))
    for fusion, parts, fused_name in _FUSIONS:
        if fusion not in arch.fused_projections:
            continue
        for prefix in ("", "encoder."):
            found = [m for m in mats if m.name in {prefix + p for p in parts} and m.group != "experts"]
            if len(found) != len(parts) or len({(m.d_in, m.count, m.group) for m in found}) != 1:
                continue  # a layout without every part (or with parts of different inputs) is not fused here
            first = found[0]
            merged = Matrix(prefix + fused_name, first.d_in, sum(m.d_out for m in found), first.count, first.group)
            mats = [merged if m is first else m for m in mats if m is first or m not in found]
    proj = arch.dim("word_embed_proj_dim", arch.hidden_size)
    if proj != arch.hidden_size:  # OPT-350m: narrower embeddings projected in and out (linears PEFT adapts too)
        mats += [Matrix("project_in", proj, arch.hidden_size, 1, "embeddings"),
                 Matrix("project_out", arch.hidden_size, proj, 1, "embeddings")]
    return tuple(mats)


def lora_matrices(arch: Architecture, targets: str = "all") -> tuple:
    """The modules LoRA adapts: every linear of the layers ("all", PEFT's all-linear) or "qv" (Hu et al. 2021).

    Fused projections count as one module (:func:`adapter_modules`); with "qv" a fused qkv module is adapted
    whole (its query and value cannot be adapted apart).
    """
    if targets not in LORA_TARGETS:
        raise ConfigError(f"unknown LoRA targets {targets!r}; choose all or qv")
    mats = adapter_modules(arch)
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
