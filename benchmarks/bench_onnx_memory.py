"""Peak memory of reading a large ONNX file: onnx.load (the old way) vs lmscope's structure-only read.

Writes an ONNX graph whose initializers are inline (``raw_data``, up to protobuf's 2 GB file limit), then
runs, each in a fresh child that reports its own VmHWM (peak RSS since exec):

* ``onnx.load(path, load_external_data=False)`` — the same-run baseline;
* ``load_onnx_structure(path)`` — lmscope's reader (weights skipped by their length prefix);
* ``lmscope report path --format json`` — the whole report (ONNX facts, graph analysis).

Prints peak RSS in MiB and the ratio to the file size. No asserts: the figures go in the README.
Usage: ``python benchmarks/bench_onnx_memory.py [--mib 400]``.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
from pathlib import Path

WRITE = r"""
import sys
import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

mib, path = int(sys.argv[1]), sys.argv[2]
layers = 8
rows = (mib * 1024 * 1024) // (layers * 4096 * 4)
inits, nodes, prev = [], [], "x"
for i in range(layers):
    inits.append(numpy_helper.from_array(np.zeros((4096, rows), dtype=np.float32), f"layers.{i}.w"))
    nodes.append(helper.make_node("MatMul", [prev, f"layers.{i}.w"], [f"h{i}"], name=f"/layers.{i}/MatMul"))
    prev = f"h{i}"
graph = helper.make_graph(nodes, "big", [helper.make_tensor_value_info("x", TensorProto.FLOAT, ["b", 4096])],
                          [helper.make_tensor_value_info(prev, TensorProto.FLOAT, ["b", rows])], initializer=inits)
onnx.save_model(helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)]), path)
"""

PEAK = r"""
import atexit, os, sys

def _peak():
    with open("/proc/self/status") as status:
        print("PEAK", next(line.split()[1] for line in status if line.startswith("VmHWM:")), file=sys.stderr)

atexit.register(_peak)
"""

CASES = {
    "onnx.load (baseline)": "import onnx, sys; onnx.load(sys.argv[1], load_external_data=False)",
    "load_onnx_structure": "import sys; from pathlib import Path; "
                           "from lmscope.core.sources.onnx_wire import load_onnx_structure; load_onnx_structure(Path(sys.argv[1]))",
    "lmscope report --format json": "import runpy, sys; sys.argv = ['lmscope', 'report', sys.argv[1], '--format', 'json']; "
                                    "runpy.run_module('lmscope', run_name='__main__', alter_sys=True)",
}


def peak_mib(code: str, path: Path) -> float:
    env = dict(os.environ, HF_HUB_OFFLINE="1", LMSCOPE_NO_EXACT="1")
    proc = subprocess.run([sys.executable, "-c", PEAK + code, str(path)], capture_output=True, text=True, env=env)
    line = next((x for x in proc.stderr.splitlines() if x.startswith("PEAK ")), None)
    if proc.returncode != 0 or line is None:
        return float("nan")
    return int(line.split()[1]) / 1024


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--mib", type=int, default=400, help="weights in the file, MiB (default 400)")
    opts = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="lmscope-onnx-") as tmp:
        path = Path(tmp) / "big.onnx"
        subprocess.run([sys.executable, "-c", WRITE, str(opts.mib), str(path)], check=True)
        size = path.stat().st_size / 2**20
        print(f"file: {size:,.0f} MiB of inline weights")
        base = None
        for name, code in CASES.items():
            peak = peak_mib(code, path)
            base = base or peak
            print(f"{name:32} peak RSS {peak:8,.0f} MiB  ({peak / size:4.2f} × file, {peak / base:4.2f} × baseline)")


if __name__ == "__main__":
    main()
