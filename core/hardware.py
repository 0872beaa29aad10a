"""Accelerator profiles: what a card holds, moves and computes.

The figures live in ``core/data/gpus.json``, each entry with the vendor
datasheet it comes from (``source``). FLOP/s are dense: vendors print
sparsity-doubled tensor figures and those are halved there. Lookup is
case-insensitive and accepts a few spellings (``H100-SXM``, ``a100``).

A custom card comes from ``--gpu-memory`` / ``--gpu-bandwidth`` /
``--gpu-flops`` (alone, or overriding a named profile's figures, e.g. an
M3 Max with 64 GB). Apple unified memory: the GPU may wire only part of
RAM — macOS's default ``iogpu.wired_limit_mb`` lets Metal use about two
thirds of RAM up to 36 GB and three quarters above (``sudo sysctl
iogpu.wired_limit_mb=N`` raises it); :attr:`Accelerator.usable_bytes` says
which applies. Multi-GPU memory is per card and never pooled.

Local detection (:func:`detect_local`) uses NVML through ``nvidia-ml-py``
or ``nvidia-smi``, imported/spawned only when called, never at start-up.
"""

from __future__ import annotations

import functools
import json
from dataclasses import dataclass, field, replace
from importlib import resources

from lmscope.core.errors import UsageError

GIB = 1 << 30
APPLE_SMALL_RAM = 36 * GIB  # at or below: 2/3 of RAM is GPU-wirable by default; above: 3/4

_ALIASES = {
    "h100-sxm": "h100", "h100-sxm5": "h100", "h100sxm": "h100", "h100pcie": "h100-pcie",
    "h200-sxm": "h200", "a100": "a100-80gb", "a100-80g": "a100-80gb", "a100-40g": "a100-40gb",
    "a100-sxm": "a100-80gb", "rtx-3090": "rtx3090", "rtx-4090": "rtx4090", "rtx-5090": "rtx5090",
    "3090": "rtx3090", "4090": "rtx4090", "5090": "rtx5090", "mi300": "mi300x", "custom": "custom",
}


@dataclass(frozen=True)
class Accelerator:
    """One accelerator (one card; ``count`` lives in the plan).

    ``peak_flops`` maps dtype names (fp32, tf32, bf16, fp16, fp8, int8, int4,
    fp4) to dense FLOP/s; a dtype absent means no fast path for it.
    ``interconnect_bytes_per_s`` is the vendor's figure (0 when none).
    """

    name: str
    label: str
    memory_bytes: int
    bandwidth_bytes_per_s: float
    peak_flops: dict[str, float] = field(default_factory=dict)
    interconnect: str = ""
    interconnect_bytes_per_s: float = 0.0
    unified: bool = False
    cpu: bool = False
    source: str = ""

    @property
    def wirable_fraction(self) -> float:
        """Share of memory the GPU may use: 1 for discrete cards, 2/3 or 3/4 for Apple unified memory."""
        if not self.unified:
            return 1.0
        return 2 / 3 if self.memory_bytes <= APPLE_SMALL_RAM else 3 / 4

    @property
    def usable_bytes(self) -> int:
        """Memory the model may occupy on this device (before the planner's overhead)."""
        return int(self.memory_bytes * self.wirable_fraction)

    def flops_for(self, dtype: str) -> tuple[float, str]:
        """(peak FLOP/s, dtype it was read at) for math in ``dtype``.

        Weight-only int4/int8 and a missing dtype fall back to the 16-bit
        rate (dequantize-then-multiply kernels compute in 16-bit), then fp32.
        """
        order = {"int4": ("bf16", "fp16"), "int8": ("int8", "bf16", "fp16")}.get(dtype, (dtype,))
        for d in (*order, "bf16", "fp16", "fp32"):
            if self.peak_flops.get(d):
                return self.peak_flops[d], d
        return 0.0, dtype

    def to_dict(self) -> dict[str, object]:
        return {
            "name": self.name,
            "label": self.label,
            "memory_bytes": self.memory_bytes,
            "usable_bytes": self.usable_bytes,
            "bandwidth_bytes_per_s": self.bandwidth_bytes_per_s,
            "peak_flops": dict(self.peak_flops),
            "interconnect": self.interconnect or None,
            "interconnect_bytes_per_s": self.interconnect_bytes_per_s or None,
            "unified_memory": self.unified,
            "source": self.source,
        }


@functools.lru_cache(maxsize=1)
def _profiles() -> dict[str, Accelerator]:
    text = resources.files("lmscope.core").joinpath("data/gpus.json").read_text(encoding="utf-8")
    data = json.loads(text)["gpus"]
    out: dict[str, Accelerator] = {}
    for name, d in data.items():
        link = d.get("interconnect") or {}
        out[name] = Accelerator(
            name=name,
            label=d["label"],
            memory_bytes=int(d["memory_gib"] * GIB),
            bandwidth_bytes_per_s=float(d["bandwidth_gbps"]) * 1e9,
            peak_flops={k: float(v) * 1e12 for k, v in d["peak_tflops"].items()},
            interconnect=link.get("kind", ""),
            interconnect_bytes_per_s=float(link.get("gbps", 0)) * 1e9,
            unified=bool(d.get("unified")),
            cpu=bool(d.get("cpu")),
            source=d["source"],
        )
    return out


def list_accelerators() -> list[Accelerator]:
    """Every built-in profile, in file order."""
    return list(_profiles().values())


def get_accelerator(
    name: str | None,
    *,
    memory_bytes: int | None = None,
    bandwidth: float | None = None,
    flops: float | None = None,
) -> Accelerator:
    """The profile called ``name`` (case-insensitive), with any custom figures overriding it.

    ``name=None`` (or "custom") with ``memory_bytes`` describes a custom card;
    its bandwidth and FLOP/s default to an RTX 4090's-class figures only if
    given — otherwise the roofline says they are unknown (0).
    """
    key = (name or "custom").strip().lower().replace("_", "-").replace(" ", "-")
    key = _ALIASES.get(key, key)
    if key == "custom":
        if memory_bytes is None:
            raise UsageError("a custom card needs --gpu-memory SIZE (or pick --gpu NAME; see --list-gpus)")
        peak = {"bf16": flops, "fp16": flops, "fp32": flops} if flops else {}
        return Accelerator(
            name="custom",
            label="custom card",
            memory_bytes=memory_bytes,
            bandwidth_bytes_per_s=bandwidth or 0.0,
            peak_flops=peak,
            source="given on the command line",
        )
    profiles = _profiles()
    if key not in profiles:
        raise UsageError(f"unknown GPU {name!r}; choose one of {', '.join(profiles)} (or --gpu-memory SIZE)")
    acc = profiles[key]
    changes: dict[str, object] = {}
    if memory_bytes is not None:
        changes["memory_bytes"] = memory_bytes
    if bandwidth is not None:
        changes["bandwidth_bytes_per_s"] = bandwidth
    if flops is not None:
        changes["peak_flops"] = {k: flops for k in (acc.peak_flops or {"bf16": 0})}
    if changes:
        changes["label"] = acc.label + " (with the figures given)"
        changes["source"] = acc.source + "; overridden on the command line"
        acc = replace(acc, **changes)  # type: ignore[arg-type]
    return acc


# --------------------------------------------------------------------------- local detection

_NVML_NAMES = (("h100", "pcie", "h100-pcie"), ("h100", "", "h100"), ("h200", "", "h200"), ("b200", "", "b200"),
               ("a100", "40gb", "a100-40gb"), ("a100", "", "a100-80gb"), ("l40s", "", "l40s"), ("l4", "", "l4"),
               ("a10", "", "a10"), ("t4", "", "t4"), ("3090", "", "rtx3090"), ("4090", "", "rtx4090"),
               ("5090", "", "rtx5090"), ("mi300x", "", "mi300x"))


@dataclass(frozen=True)
class LocalGPU:
    """A GPU seen on this machine: its driver name, total memory and the profile it matches."""

    name: str
    memory_bytes: int
    profile: str | None


def match_profile(device_name: str) -> str | None:
    """The built-in profile a driver's device name ("NVIDIA H100 80GB HBM3") corresponds to."""
    low = device_name.lower().replace(" ", "")
    for needle, extra, profile in _NVML_NAMES:
        if needle in low and extra in low:
            if needle == "a10" and ("a100" in low or "a10g" in low):
                continue
            if needle == "l4" and "l40" in low:
                continue
            return profile
    return None


MEMORY_MISMATCH = 0.05  # a detected card whose memory is this far from its profile's is a variant


def local_accelerator(gpu: LocalGPU) -> Accelerator:
    """The profile a detected GPU matches, with the memory the driver reports when the two disagree.

    Name matching cannot tell every variant apart (an H100 NVL has 94 GB, not
    the SXM's 80; a laptop RTX 4090 has 16 GB): when the detected total is more
    than 5 % away from the profile's, the detected figure wins and the label
    says so (bandwidth and FLOP/s stay the profile's). Within 5 % (NVML reports
    a little less than the datasheet) the profile is used as it is. No profile:
    a custom card of the detected memory (bandwidth and FLOP/s unknown).
    """
    if gpu.profile is None:
        card = get_accelerator(None, memory_bytes=gpu.memory_bytes)
        return replace(card, name="local", label=f"{gpu.name} (detected; bandwidth and FLOP/s unknown)",
                       source="detected on this machine (NVML / nvidia-smi)")
    card = get_accelerator(gpu.profile)
    if abs(gpu.memory_bytes - card.memory_bytes) <= MEMORY_MISMATCH * card.memory_bytes:
        return card
    return replace(card, memory_bytes=gpu.memory_bytes,
                   label=f"{gpu.name} ({gpu.memory_bytes / GIB:,.1f} GiB detected; other figures the {card.name}'s)",
                   source=card.source + "; memory as detected on this machine")


def detect_local(timeout: float = 3.0) -> list[LocalGPU]:
    """GPUs on this machine via NVML (nvidia-ml-py) or ``nvidia-smi``; [] when neither answers.

    Imported and run only when called (never at start-up), bounded by ``timeout``.
    """
    try:
        import pynvml  # type: ignore[import-not-found]

        pynvml.nvmlInit()
        try:
            gpus = []
            for i in range(pynvml.nvmlDeviceGetCount()):
                h = pynvml.nvmlDeviceGetHandleByIndex(i)
                name = pynvml.nvmlDeviceGetName(h)
                name = name.decode() if isinstance(name, bytes) else str(name)
                mem = int(pynvml.nvmlDeviceGetMemoryInfo(h).total)
                gpus.append(LocalGPU(name, mem, match_profile(name)))
            return gpus
        finally:
            pynvml.nvmlShutdown()
    except Exception:  # noqa: BLE001 - no driver, no library: fall through to nvidia-smi
        pass
    import shutil
    import subprocess

    exe = shutil.which("nvidia-smi")
    if not exe:
        return []
    try:
        out = subprocess.run(
            [exe, "--query-gpu=name,memory.total", "--format=csv,noheader,nounits"],
            capture_output=True, text=True, timeout=timeout, check=False,
        ).stdout
    except (OSError, subprocess.SubprocessError):
        return []
    return parse_nvidia_smi(out)


def parse_nvidia_smi(text: str) -> list[LocalGPU]:
    """Parse ``nvidia-smi --query-gpu=name,memory.total --format=csv,noheader,nounits`` (MiB)."""
    gpus = []
    for line in text.splitlines():
        parts = [p.strip() for p in line.rsplit(",", 1)]
        if len(parts) != 2 or not parts[1].isdigit():
            continue
        gpus.append(LocalGPU(parts[0], int(parts[1]) << 20, match_profile(parts[0])))
    return gpus
