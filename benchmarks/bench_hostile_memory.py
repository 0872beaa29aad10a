"""Benchmark: peak memory of lmscope on JSON "memory bombs" that stay within the byte limits.

A JSON file whose Python objects are ~20x its size (``[{},{},...]``, a dict
of a million tiny entries) used to pass every byte cap and then peak at
gigabytes inside ``json.loads``. Each case below writes such a file (and, for
comparison, a genuine-shaped one of similar size) into a temporary model
folder, runs the real CLI on it in a child process, and reports the child's
peak RSS (``VmHWM`` from ``/proc/self/status``, read at exit), its wall time, exit code and first
error line. The target: every run under ~1 GiB, hostile ones refused with one
line (or, for an optional side file such as tokenizer.json, skipped with a
note) rather than parsed.

Usage::

    python benchmarks/bench_hostile_memory.py            # this checkout
    python benchmarks/bench_hostile_memory.py --pythonpath DIR   # another tree (DIR/lmscope = its cli/ with core/, tui/ inside)
    python benchmarks/bench_hostile_memory.py --only tokenizer --scale 0.25

Needs ~1 GiB of free disk in the temp folder (the files are deleted afterwards).
"""

from __future__ import annotations

import argparse
import json
import os
import struct
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

MB = 1024 * 1024
# the tiny Llama the tests use too (one file: tests/fixtures/tiny_llama_config.json)
TINY_CONFIG = json.loads((Path(__file__).resolve().parents[1] / "tests" / "fixtures" / "tiny_llama_config.json").read_text())


def _repeat(prefix: bytes, unit: bytes, suffix: bytes, size: int) -> bytes:
    count = max(1, (size - len(prefix) - len(suffix)) // len(unit))
    body = unit * count
    return prefix + body[:-1] + suffix if unit.endswith(b",") else prefix + body + suffix


def tokenizer_bomb(size: int) -> dict[str, bytes]:
    """tokenizer.json: added_tokens = [{}, {}, ...] (~24x in Python objects)."""
    return {"tokenizer.json": _repeat(b'{"model": {"type": "BPE", "vocab": {}}, "added_tokens": [', b"{},", b"]}", size)}


def tokenizer_genuine(size: int) -> dict[str, bytes]:
    """tokenizer.json shaped like a real BPE one (vocab + merges as pairs), some emoji, of about ``size`` bytes."""
    n = max(1000, size // 60)
    vocab = {f"tok{i}\U0001F600" if i % 1000 == 0 else f"\u0120tok{i}": i for i in range(n)}
    merges = [[f"\u0120t{i}", f"ok{i}"] for i in range(n)]
    added = [{"id": n + i, "content": f"<|special_{i}|>", "special": True} for i in range(256)]
    data = {"version": "1.0", "added_tokens": added, "model": {"type": "BPE", "vocab": vocab, "merges": merges}}
    return {"tokenizer.json": json.dumps(data, ensure_ascii=False).encode()}


def index_bomb(size: int) -> dict[str, bytes]:
    """model.safetensors.index.json: a weight_map of millions of tiny entries naming one shard."""
    head = b'{"metadata": {}, "weight_map": {'
    body = b",".join(b'"%d":"m.safetensors"' % i for i in range(max(1, (size - 40) // 27)))
    return {"model.safetensors.index.json": head + body + b"}}"}


def index_nested_bomb(size: int) -> dict[str, bytes]:
    """model.safetensors.index.json: a valid weight_map beside a huge list of empty lists."""
    return {"model.safetensors.index.json": _repeat(b'{"weight_map": {}, "x": [', b"[],", b"]}", size)}


def header_bomb(size: int) -> dict[str, bytes]:
    """model.safetensors whose 8-byte length announces a header of [{}, {}, ...] (within the 100 MB limit)."""
    header = _repeat(b'{"__metadata__": {}, "x": [', b"{},", b"]}", size)
    return {"model.safetensors": struct.pack("<Q", len(header)) + header}


def gguf_metadata_bomb(size: int) -> dict[str, bytes]:
    """model.gguf whose header holds ~size/21 tiny metadata entries (each a Python str + int in a dict)."""
    count = max(1, size // 21)
    head = b"GGUF" + struct.pack("<IQQ", 3, 0, count)
    kvs = b"".join(struct.pack("<Q", 8) + b"k%07d" % i + struct.pack("<IB", 0, 0) for i in range(count))
    return {"model.gguf": head + kvs}


def config_bomb(size: int) -> dict[str, bytes]:
    """tokenizer_config.json of nested empty lists, within its 16 MB cap."""
    return {"tokenizer_config.json": _repeat(b'{"x": [', b"[],", b"]}", size)}


CASES: dict[str, tuple[Callable[[int], dict[str, bytes]], int, str]] = {
    # name: (writer, size in bytes at scale 1, command)
    "tokenizer-bomb-100MB": (tokenizer_bomb, 100 * MB, "report"),
    "tokenizer-genuine-30MB": (tokenizer_genuine, 30 * MB, "report"),
    "index-bomb-64MB(report)": (index_bomb, 63 * MB, "report"),
    "index-bomb-64MB(weights)": (index_bomb, 63 * MB, "weights"),
    "index-nested-60MB(weights)": (index_nested_bomb, 60 * MB, "weights"),
    "header-bomb-95MB": (header_bomb, 95 * MB, "report"),
    "tokenizer-config-bomb-15MB": (config_bomb, 15 * MB, "report"),
    "gguf-metadata-bomb-100MB": (gguf_metadata_bomb, 100 * MB, "report"),
}


def write_case(name: str, folder: Path, size: int) -> None:
    """Write the files of case ``name`` into ``folder`` (run in a child, so the measuring parent stays small).

    A child forked from a parent holding a 100 MB file would count the parent's
    pages in its own peak RSS (Linux keeps the pre-exec high-water mark).
    """
    writer, _, command = CASES[name]
    (folder / "config.json").write_text(json.dumps(TINY_CONFIG))
    files = writer(size)
    for fname, data in files.items():
        (folder / fname).write_bytes(data)
    if command == "weights" and "model.safetensors" not in files:
        (folder / "m.safetensors").write_bytes(struct.pack("<Q", 2) + b"{}")


# The child reports VmHWM — the peak RSS of its own program since exec — at exit. (ru_maxrss
# would also count the parent's pages a fork copied before the exec.)
PEAK_WRAPPER = r"""
import atexit, os, runpy, sys

def _peak():
    with open("/proc/self/status") as status, open(os.environ["LMSCOPE_PEAK_FILE"], "w") as out:
        out.write(next(line.split()[1] for line in status if line.startswith("VmHWM:")))

atexit.register(_peak)
sys.argv = ["lmscope", *sys.argv[1:]]
runpy.run_module("lmscope", run_name="__main__", alter_sys=True)
"""


def run_case(folder: Path, command: str, pythonpath: str | None) -> dict:
    peak_file = folder.parent / "peak"
    env = dict(os.environ, HF_HUB_OFFLINE="1", LMSCOPE_NO_EXACT="1", HF_HOME=str(folder.parent / "hf"), LMSCOPE_PEAK_FILE=str(peak_file))
    if pythonpath:
        env["PYTHONPATH"] = pythonpath
    target = folder / "model.gguf" if (folder / "model.gguf").exists() else folder
    args = [sys.executable, "-c", PEAK_WRAPPER, command, str(target)] + (["--format", "json"] if command == "report" else ["--no-spectra", "--quiet"])
    start = time.perf_counter()
    proc = subprocess.run(args, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, env=env)
    err = proc.stderr.decode("utf-8", "replace")
    first = next((line for line in err.splitlines() if line.strip()), "")
    peak = int(peak_file.read_text()) / 1024 if peak_file.exists() else float("nan")
    peak_file.unlink(missing_ok=True)
    return {"rc": proc.returncode, "peak_mib": peak, "seconds": time.perf_counter() - start, "stderr": first[:110]}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pythonpath", default=None, help="run another lmscope tree (for before/after figures)")
    parser.add_argument("--scale", type=float, default=1.0, help="multiply every file size (default 1)")
    parser.add_argument("--only", default="", help="run only cases whose name contains this")
    parser.add_argument("--write", nargs=3, metavar=("CASE", "DIR", "SIZE"), help=argparse.SUPPRESS)
    opts = parser.parse_args()
    if opts.write:
        write_case(opts.write[0], Path(opts.write[1]), int(opts.write[2]))
        return
    print(f"{'case':28} {'rc':>3} {'peak RSS':>10} {'time':>7}  first stderr line")
    with tempfile.TemporaryDirectory(prefix="lmscope-bombs-") as tmp:
        for name, (_, size, command) in CASES.items():
            if opts.only not in name:
                continue
            folder = Path(tmp) / "model"
            folder.mkdir()
            subprocess.run([sys.executable, __file__, "--write", name, str(folder), str(int(size * opts.scale))], check=True)
            r = run_case(folder, command, opts.pythonpath)
            print(f"{name:28} {r['rc']:>3} {r['peak_mib']:>7,.0f} MiB {r['seconds']:>6.1f}s  {r['stderr']}", flush=True)
            for p in folder.iterdir():
                p.unlink()
            folder.rmdir()


if __name__ == "__main__":
    main()
