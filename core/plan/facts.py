"""Per-model constants a plan needs many times (the solver calls the memory function ~80 times).

Weights are split into three parts because parallelism splits them
differently:

* ``expert_bytes``: routed experts (split by expert parallelism, else by TP);
* ``layer_bytes``: every other matrix of the layers (split by TP, and by PP
  with the layers);
* ``edge_bytes``: what sits outside the layers — embeddings, LM head, norms,
  routers, a vision tower (vocabulary-parallel under TP; the first or last
  pipeline stage holds it).

The three are computed at the chosen dtype with the same conventions as
:func:`lmscope.core.estimate.memory.weight_bytes_at` and then scaled so
that they add up to exactly the estimate's weight bytes (the checkpoint's
real storage for ``--dtype auto``).
"""

from __future__ import annotations

from dataclasses import dataclass

from lmscope.core.architecture import FFN, Architecture, LayerSpec
from lmscope.core.estimate.kv import DTYPE_BITS, bytes_for
from lmscope.core.estimate.memory import (
    DEFAULT_GROUP_SIZE,
    _group_quant_bytes,
    checkpoint_bytes,
    compute_dtype,
    kv_dtype_for,
    resolve_dtype,
    weight_bytes_at,
)
from lmscope.core.estimate.shapes import (
    Matrix,
    layer_groups,
    layer_matrices,
    linear_matrices,
)
from lmscope.core.results import ParameterBreakdown


def matrix_bytes(m: Matrix, dtype: str) -> int:
    """Bytes of ``m`` (all its copies) at ``dtype``: float widths, fp8 + one fp32 scale, int group-quantized."""
    if dtype in ("fp32", "fp16", "bf16"):
        return bytes_for(m.parameters, dtype)
    if dtype == "fp8":
        return m.parameters + 4 * m.count
    bits = DTYPE_BITS[dtype]
    return _group_quant_bytes(m, bits, DEFAULT_GROUP_SIZE, zero_bits=bits, g_idx=False)


@dataclass(frozen=True)
class ModelFacts:
    """One model at one dtype choice: the byte parts above plus what the other modules read."""

    arch: Architecture
    params: ParameterBreakdown
    dtype_setting: str
    weight_dtype: str
    compute_dtype: str
    kv_dtype: str
    weights_bytes: int
    expert_bytes: int
    layer_bytes: int
    edge_bytes: int
    embed_bytes: int
    head_bytes: int
    scale: float  # storage / the per-matrix model (1.0 except for --dtype auto on quantized checkpoints)

    @property
    def is_moe(self) -> bool:
        return self.expert_bytes > 0 and self.arch.moe is not None

    def expert_bytes_at(self, dtype: str) -> int:
        """Routed experts' bytes if stored at ``dtype`` (the "quantize experts" what-if)."""
        return sum(matrix_bytes(m, dtype) for m in linear_matrices(self.arch) if m.group == "experts")

    def layer_weight_bytes(self) -> list[tuple[LayerSpec, int, int]]:
        """(layer spec, copies, bytes of one copy) for each distinct layer, at this dtype (scaled)."""
        out = []
        for layer, n in layer_groups(self.arch):
            raw = sum(matrix_bytes(m, self.weight_dtype) for m in layer_matrices(self.arch, layer))
            out.append((layer, n, int(raw * self.scale)))
        return out


def model_facts(arch: Architecture, params: ParameterBreakdown, dtype: str, kv_dtype: str | None) -> ModelFacts:
    """Build :class:`ModelFacts` (see module docstring)."""
    w_dtype = resolve_dtype(arch, dtype)
    c_dtype = compute_dtype(arch, dtype)
    k_dtype = kv_dtype_for(arch, dtype, kv_dtype)
    total = checkpoint_bytes(arch, params)[0] if dtype == "auto" else weight_bytes_at(arch, params, w_dtype)
    mats = linear_matrices(arch)
    mat_params = sum(m.parameters for m in mats)
    if mat_params > params.total:  # parser/params disagreement: treat everything as outside the layers
        mats, mat_params = (), 0
    expert = sum(matrix_bytes(m, w_dtype) for m in mats if m.group == "experts")
    layer = sum(matrix_bytes(m, w_dtype) for m in mats if m.group != "experts")
    edge_dtype = w_dtype if w_dtype in ("fp32", "fp16", "bf16") else "bf16"
    edge = bytes_for(params.total - mat_params, edge_dtype)
    raw = expert + layer + edge
    scale = total / raw if raw else 1.0
    emb = bytes_for(arch.vocab_size * arch.hidden_size, edge_dtype)
    head = emb if arch.lm_head and not arch.tied_embeddings else 0
    expert_s, layer_s = int(expert * scale), int(layer * scale)
    edge_s = total - expert_s - layer_s
    emb_s, head_s = min(int(emb * scale), edge_s), min(int(head * scale), edge_s)
    return ModelFacts(
        arch=arch,
        params=params,
        dtype_setting=dtype,
        weight_dtype=w_dtype,
        compute_dtype=c_dtype,
        kv_dtype=k_dtype,
        weights_bytes=total,
        expert_bytes=expert_s,
        layer_bytes=layer_s,
        edge_bytes=edge_s,
        embed_bytes=emb_s,
        head_bytes=head_s,
        scale=scale,
    )


def moe_layers(arch: Architecture) -> int:
    return sum(n for layer, n in layer_groups(arch) if layer.ffn is FFN.MOE)
