"""Typed results that flow from the estimators to the CLI, exporters and TUI.

These are plain frozen dataclasses with integers for bytes, parameters and
FLOPs (never floats: exports must be exact and comparable). The UI renders
them and holds no arithmetic of its own.

Fields may be added with defaults; none are renamed (CONTRACT.md names the
JSON keys built from them).
"""

from __future__ import annotations

from dataclasses import dataclass, field

# Bytes per element of each dtype name lmscope accepts (int4 is half a byte;
# quantization scale/zero overhead is added by the memory estimator, not here).
DTYPE_BYTES: dict[str, float] = {
    "fp32": 4.0,
    "fp16": 2.0,
    "bf16": 2.0,
    "fp8": 1.0,
    "int8": 1.0,
    "int4": 0.5,
}
DTYPES: tuple[str, ...] = tuple(DTYPE_BYTES)


@dataclass(frozen=True)
class Settings:
    """What the user is asking about: their sequence length, batch and dtypes.

    ``dtype="auto"`` means the checkpoint's own storage dtype; ``kv_dtype=None``
    means "same as dtype".
    """

    seq_len: int = 4096
    batch: int = 1
    dtype: str = "auto"
    kv_dtype: str | None = None
    mode: str = "inference"  # inference | training | lora | qlora
    flash_attention: bool = True
    recompute: str = "none"  # none | selective | full  (training activations)
    zero_stage: int = 0  # 0..3
    num_gpus: int = 1
    optimizer: str = "adamw"  # adamw | sgd | adafactor-like choices may follow
    lora_rank: int = 16
    lora_targets: str = "all"  # all (every linear of the layers) | qv (query and value projections)


@dataclass(frozen=True)
class ParameterBreakdown:
    """Parameter counts of one model.

    ``total``: unique parameters of the class named by architectures[0] (all
    experts; tied embeddings once). ``active_per_token``: what one token
    touches. ``matmul_per_token``: weights used in a matrix product by one
    token (routed experts visited, shared experts, router, LM head; not
    embeddings lookups, norms or biases) — the N of FLOPs = 2·N·T.
    ``by_component`` keys: embeddings, attention, mlp, experts, shared_experts,
    router, norms, lm_head, vision, mamba, linear_attention, conv, encoder,
    projector, other (only non-zero ones are present).
    ``method``: "exact" (meta-device instantiation), "analytic" (formulas
    verified against the class for this model type), "approximate" (formulas
    for a layout the analytic engine has not verified: an unknown or
    remote-code type) or "stored" (the checkpoint's stored tensors).
    """

    total: int
    active_per_token: int
    embedding: int
    matmul_per_token: int
    by_component: dict[str, int] = field(default_factory=dict)
    method: str = "analytic"
    note: str | None = None
    # False when the config does not say how many experts a token visits (a null top-k):
    # ``active_per_token`` then equals ``total`` and is shown as unknown.
    active_known: bool = True

    def _repr_markdown_(self) -> str:
        """Jupyter: a two-column table, human figure and every digit."""
        from lmscope.core.units import exact_count, human_count

        rows = [("total", self.total), ("active / token", self.active_per_token), ("embedding", self.embedding),
                ("matmul / token", self.matmul_per_token)]
        rows += [(f"&nbsp;&nbsp;{k.replace('_', ' ')}", v) for k, v in sorted(self.by_component.items(), key=lambda kv: -kv[1])]
        lines = [f"**Parameters** ({self.method})", "", "| | | |", "|---|---:|---:|"]
        lines += [f"| {name} | {human_count(n)} | {exact_count(n)} |" for name, n in rows]
        return "\n".join(lines) + "\n"


@dataclass(frozen=True)
class FlopsEstimate:
    """FLOPs per CONTRACT.md: 2 per multiply-add, matrix products only."""

    prefill_total: int
    prefill_linear: int
    prefill_attention: int  # full seq×seq square (FlopCounterMode convention)
    prefill_attention_causal: int  # the useful (causal-halved) part
    decode_per_token: int  # one token with seq_len cached, batch 1
    training_step: int  # forward + backward (+ recomputation) over batch×seq_len
    by_component: dict[str, int] = field(default_factory=dict)  # prefill FLOPs per component
    decode_by_component: dict[str, int] = field(default_factory=dict)  # decode_per_token per component (sums to it)
    prefill_intensity: float = 0.0  # FLOPs per byte moved
    decode_intensity: float = 0.0


@dataclass(frozen=True)
class MemoryEstimate:
    """Bytes per CONTRACT.md. All integers."""

    weights_bytes: dict[str, int]  # per dtype name in DTYPES, plus "checkpoint" when known
    weights_bytes_selected: int  # at settings.dtype
    kv_cache_bytes_per_token: int  # summed over layers, at kv_dtype, batch 1, uncapped
    kv_cache_bytes: int  # batch × seq_len, sliding layers capped at their window
    state_bytes: int  # fixed per-sequence state (Mamba, linear attention, conv) × batch
    activation_bytes: int  # inference peak (flash or not per settings)
    activation_bytes_no_flash: int
    inference_total_bytes: int
    training_total_bytes: int
    training_breakdown: dict[str, int] = field(default_factory=dict)  # weights, gradients, optimizer, activations (per GPU)
    kv_per_layer_kind: dict[str, int] = field(default_factory=dict)  # kv bytes by mixer kind at the settings


@dataclass(frozen=True)
class Estimate:
    """One model under one :class:`Settings`: everything the memory/FLOPs views show."""

    settings: Settings
    parameters: ParameterBreakdown
    memory: MemoryEstimate
    flops: FlopsEstimate
    lora_trainable_parameters: int = 0
    lora_memory_bytes: int = 0
    qlora_memory_bytes: int = 0
    notes: tuple[str, ...] = ()
    # The dtypes the estimate resolved ("auto" and kv_dtype=None made concrete; DTYPES names).
    weight_dtype: str = ""  # how the weights are counted (auto → the checkpoint's, e.g. int4 for GPTQ)
    compute_dtype: str = ""  # activations and recurrent state
    kv_dtype: str = ""  # the KV cache

    def _repr_markdown_(self) -> str:
        """Jupyter: memory and FLOPs at these settings, as the app's Memory screen shows them."""
        from lmscope.core.units import exact_count, human_bytes, human_flops

        s, m, f = self.settings, self.memory, self.flops
        rows = [
            (f"weights ({self.weight_dtype or s.dtype})", human_bytes(m.weights_bytes_selected), m.weights_bytes_selected),
            (f"KV cache ({self.kv_dtype or s.kv_dtype or 'auto'})", human_bytes(m.kv_cache_bytes), m.kv_cache_bytes),
            ("state", human_bytes(m.state_bytes), m.state_bytes),
            ("activations", human_bytes(m.activation_bytes), m.activation_bytes),
            ("**inference total**", human_bytes(m.inference_total_bytes), m.inference_total_bytes),
            ("training total", human_bytes(m.training_total_bytes), m.training_total_bytes),
            ("prefill FLOPs", human_flops(f.prefill_total), f.prefill_total),
            ("decode FLOPs / token", human_flops(f.decode_per_token), f.decode_per_token),
            ("training step FLOPs", human_flops(f.training_step), f.training_step),
        ]
        lines = [f"**Estimate** at {s.seq_len:,} tokens × batch {s.batch}, {s.mode}", "", "| | | |", "|---|---:|---:|"]
        lines += [f"| {name} | {human} | {exact_count(n)} |" for name, human, n in rows]
        return "\n".join(lines) + "\n"
