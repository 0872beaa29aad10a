"""Where spectra are computed: CPU (numpy/LAPACK) or CUDA (torch), with a per-tensor fallback.

The CUDA path runs the same algorithm as :mod:`.spectra` — float64 Gram
accumulated from row chunks, symmetric eigensolver, refinement of the small
singular values through the projected matrix, direct SVD when too many need
it — entirely in float64 on the device (H100-class GPUs run float64 at a
useful rate; consumer GPUs are slower but still exact). float32 is never used
for the arithmetic, so CPU and CUDA results agree to the same 1e-10 contract.

A tensor whose Gram or projection does not fit on the GPU raises CUDA OOM:
the cache is emptied and that tensor is computed on the CPU, with the reason
recorded in its notes; the next tensor tries the GPU again. torch is imported
only when CUDA is asked for or probed.
"""

from __future__ import annotations

import os
import sys

import numpy as np

from lmscope.core.errors import LmscopeError
from lmscope.core.weights import spectra as cpu
from lmscope.core.weights.spectra import ChunkSource, SingularValues

DEVICES = ("auto", "cpu", "cuda")


class DeviceError(LmscopeError):
    """The requested device cannot be used (e.g. --device cuda without a GPU)."""


def _driver_absent() -> bool:
    """True when a Linux machine visibly has no NVIDIA driver (saves importing torch, ~2 s)."""
    if not sys.platform.startswith("linux"):
        return False
    if os.environ.get("CUDA_VISIBLE_DEVICES", None) == "":
        return True
    return not (os.path.exists("/proc/driver/nvidia") or os.path.exists("/dev/nvidia0") or os.path.exists("/dev/dxg"))


def cuda_available() -> bool:
    """True when torch imports and sees a CUDA device (False without torch or without a driver)."""
    if _driver_absent():
        return False
    try:
        import torch
    except ImportError:
        return False
    try:
        return bool(torch.cuda.is_available())
    except Exception:  # noqa: BLE001 - a broken driver means "no CUDA"
        return False


def select_device(requested: str) -> str:
    """"cpu" or "cuda" for ``--device auto|cpu|cuda``.

    auto → cuda when available, else cpu; cuda without a device → DeviceError.
    """
    if requested not in DEVICES:
        raise DeviceError(f"unknown device {requested!r} (choose auto, cpu or cuda)")
    if requested == "cpu":
        return "cpu"
    has_cuda = cuda_available()
    if requested == "cuda" and not has_cuda:
        raise DeviceError("--device cuda: no CUDA device is available (torch with CUDA not found); use --device cpu")
    return "cuda" if has_cuda else "cpu"


def is_out_of_memory(err: BaseException) -> bool:
    """True for torch's CUDA OOM (class name or message), whatever the torch version."""
    return type(err).__name__ == "OutOfMemoryError" or "out of memory" in str(err).lower()


def singular_values_on(device: str, chunks: ChunkSource, shape: tuple[int, int], tol: float) -> tuple[SingularValues, str | None]:
    """Singular values on ``device``; on CUDA failure, CPU plus the reason in words."""
    if device != "cuda":
        return cpu.singular_values(chunks, shape, tol), None
    try:
        return cuda_singular_values(chunks, shape, tol), None
    except Exception as err:  # noqa: BLE001 - any device failure falls back per tensor
        _empty_cuda_cache()
        what = "CUDA out of memory" if is_out_of_memory(err) else f"CUDA failed ({type(err).__name__})"
        return cpu.singular_values(chunks, shape, tol), f"{what} for a {shape[0]}x{shape[1]} matrix: computed on CPU"


def _empty_cuda_cache() -> None:
    try:
        import torch

        torch.cuda.empty_cache()
    except Exception:  # noqa: BLE001
        pass


def cuda_singular_values(chunks: ChunkSource, shape: tuple[int, int], tol: float, where: str = "cuda") -> SingularValues:
    """The :func:`.spectra.singular_values` algorithm in float64 with torch on CUDA.

    ``where`` is the torch device; tests pass "cpu" to run this very code
    without a GPU.
    """
    import torch

    dev = torch.device(where)
    m, k = shape
    if m == 0 or k == 0:
        return SingularValues(np.zeros(0), "cuda-gram")
    g = torch.zeros((k, k), dtype=torch.float64, device=dev)
    for c in chunks():
        t = torch.from_numpy(np.ascontiguousarray(c)).to(dev)
        g.addmm_(t.T, t)
        del t
    lam = torch.linalg.eigvalsh(g).clamp_min_(0.0)
    lam_np = lam.cpu().numpy()
    p = cpu.refine_count(lam_np, k, tol)
    if p == 0:
        return SingularValues(np.sqrt(lam_np[::-1]).copy(), "cuda-gram")
    if p > cpu.REFINE_FRACTION * k:
        del g
        full = torch.cat([torch.from_numpy(np.ascontiguousarray(c)).to(dev) for c in chunks()], dim=0)
        return SingularValues(torch.linalg.svdvals(full).cpu().numpy(), "cuda-svd")
    _, vecs = torch.linalg.eigh(g)
    basis = vecs[:, :p].contiguous()
    del g, vecs
    b = torch.cat([torch.from_numpy(np.ascontiguousarray(c)).to(dev) @ basis for c in chunks()], dim=0)
    small = torch.linalg.svdvals(b).cpu().numpy()
    values = np.sqrt(lam_np[::-1]).copy()
    values[k - p :] = small
    return SingularValues(np.sort(values)[::-1].copy(), "cuda-gram+refine", refined=p)


def describe(device: str) -> str:
    """A short device label for reports ("cpu", or "cuda (<GPU name>)")."""
    if device != "cuda":
        return "cpu"
    try:
        import torch

        return f"cuda ({torch.cuda.get_device_name(0)})"
    except Exception:  # noqa: BLE001
        return "cuda"

