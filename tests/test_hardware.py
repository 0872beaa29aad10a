"""Accelerator profiles and the number parsers, against vendor datasheets and hand arithmetic."""

from __future__ import annotations

import pytest

from lmscope.core.errors import UsageError
from lmscope.core.hardware import (
    GIB,
    detect_local,
    get_accelerator,
    list_accelerators,
    match_profile,
    parse_nvidia_smi,
)
from lmscope.core.units import parse_bandwidth, parse_count, parse_flops, parse_size

CONTRACT_GPUS = ("h100", "h100-pcie", "h200", "b200", "a100-40gb", "a100-80gb", "l40s", "l4", "a10", "t4",
                 "rtx3090", "rtx4090", "rtx5090", "mi300x")


@pytest.mark.parametrize("name", CONTRACT_GPUS)
def test_every_contract_name_resolves_case_insensitively(name):
    acc = get_accelerator(name.upper())
    assert acc.name == name
    assert acc.memory_bytes > 0 and acc.bandwidth_bytes_per_s > 0 and acc.peak_flops
    assert acc.source  # every profile names its datasheet


def test_h100_sxm_dense_figures_and_machine_balance():
    # NVIDIA H100 datasheet (SXM): BF16 1,979 TFLOPS *with sparsity* -> 989.4 dense; HBM3 3.35 TB/s.
    # FORMULAS.md: machine balance ~295 FLOP/byte.
    h100 = get_accelerator("h100")
    assert h100.peak_flops["bf16"] == pytest.approx(1979e12 / 2, rel=1e-3)
    assert h100.peak_flops["fp8"] == pytest.approx(3958e12 / 2, rel=1e-3)
    assert h100.bandwidth_bytes_per_s == 3.35e12
    assert h100.memory_bytes == 80 * GIB
    assert h100.peak_flops["bf16"] / h100.bandwidth_bytes_per_s == pytest.approx(295, abs=1)


def test_no_profile_carries_sparsity_doubled_figures():
    # Dense tensor FLOP/s: 16-bit is at most twice TF32 and FP8 at most twice 16-bit on every card
    # (L40S datasheet: BF16 362.05 dense, FP8 733 dense - 2.02x).
    for acc in list_accelerators():
        pf = acc.peak_flops
        if "tf32" in pf and "bf16" in pf:
            assert pf["bf16"] <= 2.05 * pf["tf32"], acc.name
        if "fp8" in pf and "bf16" in pf:
            assert pf["fp8"] <= 2.05 * pf["bf16"], acc.name
    assert "fp8" not in get_accelerator("a100-80gb").peak_flops  # Ampere has no FP8 tensor cores
    assert "bf16" not in get_accelerator("t4").peak_flops  # Turing has no BF16


def test_apple_unified_memory_counts_what_the_gpu_may_wire():
    m4 = get_accelerator("m4-max")  # 128 GB: above 36 GB macOS lets Metal wire about 3/4
    assert m4.unified and m4.usable_bytes == 96 * GIB
    small = get_accelerator("m4-pro", memory_bytes=24 * GIB)  # 24 GB: about 2/3
    assert small.usable_bytes == 16 * GIB


def test_custom_card_and_overrides():
    card = get_accelerator(None, memory_bytes=parse_size("24GB"), bandwidth=parse_bandwidth("936GB/s"), flops=parse_flops("71T"))
    assert card.name == "custom" and card.memory_bytes == 24 * GIB
    assert card.bandwidth_bytes_per_s == 936e9 and card.peak_flops["bf16"] == 71e12
    cpu = get_accelerator("cpu", memory_bytes=parse_size("64G"))
    assert cpu.memory_bytes == 64 * GIB and cpu.cpu
    with pytest.raises(UsageError):
        get_accelerator("h1000")
    with pytest.raises(UsageError):
        get_accelerator(None)


def test_local_detection_parsing():
    text = "NVIDIA H100 80GB HBM3, 81559\nNVIDIA GeForce RTX 4090, 24564\nNVIDIA A10G, 23028\n"
    gpus = parse_nvidia_smi(text)
    assert [g.profile for g in gpus] == ["h100", "rtx4090", None]  # A10G is not an A10
    assert gpus[0].memory_bytes == 81559 << 20
    assert match_profile("NVIDIA L40S") == "l40s" and match_profile("NVIDIA L4") == "l4"
    assert match_profile("NVIDIA H100 PCIe") == "h100-pcie"
    assert isinstance(detect_local(timeout=2.0), list)  # no GPU here: an empty list, never an exception


@pytest.mark.parametrize(("text", "value"), [
    ("4096", 4096), ("32k", 32768), ("128k", 131072), ("128K", 131072), ("1M", 1048576), ("100000", 100000),
    ("1.5k", 1536), (8192, 8192),
])
def test_parse_count(text, value):
    assert parse_count(text) == value


@pytest.mark.parametrize("text", ["", "abc", "-5", "0", "1.3k", "32kb", "1e9", "2T"])
def test_parse_count_refuses(text):
    with pytest.raises(UsageError):
        parse_count(text)


def test_size_bandwidth_flops_units():
    assert parse_size("80") == 80 * GIB
    assert parse_size("512MiB") == 512 << 20
    assert parse_bandwidth("3.35TB/s") == pytest.approx(3.35e12)
    assert parse_flops("1.9P") == pytest.approx(1.9e15)
    with pytest.raises(UsageError):
        parse_size("lots")


def test_core_import_stays_light():
    import subprocess
    import sys

    code = ("import sys, lmscope.core, lmscope.core.hardware, lmscope.core.plan, lmscope.core.units; "
            "bad = [m for m in ('torch', 'transformers', 'pynvml', 'textual') if m in sys.modules]; print(bad)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.strip()
    assert out == "[]"


def test_a_detected_variant_keeps_its_own_memory():
    """Name matching maps an H100 NVL (94 GB, NVIDIA's H100 NVL datasheet) and a laptop RTX 4090 (16 GB)
    to the H100 SXM / desktop 4090 profiles; the memory the driver reports must win. NVML's total for an
    H100 SXM (81,559 MiB, a little under the datasheet's 80 GiB) keeps the profile as it is."""
    from lmscope.core.hardware import GIB, LocalGPU, get_accelerator, local_accelerator

    nvl = local_accelerator(LocalGPU("NVIDIA H100 NVL", 95_830 << 20, match_profile("NVIDIA H100 NVL")))
    assert nvl.memory_bytes == 95_830 << 20 and "detected" in nvl.label
    laptop = local_accelerator(LocalGPU("NVIDIA GeForce RTX 4090 Laptop GPU", 16 * GIB, match_profile("NVIDIA GeForce RTX 4090 Laptop GPU")))
    assert laptop.memory_bytes == 16 * GIB
    sxm = local_accelerator(LocalGPU("NVIDIA H100 80GB HBM3", 81_559 << 20, "h100"))
    assert sxm == get_accelerator("h100")
    unknown = local_accelerator(LocalGPU("NVIDIA A40", 48 * GIB, None))
    assert unknown.memory_bytes == 48 * GIB and unknown.bandwidth_bytes_per_s == 0
