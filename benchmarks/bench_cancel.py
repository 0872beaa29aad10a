"""Benchmark: how fast Ctrl-C (CLI) and ctrl+q (app) end a weights run busy in long LAPACK calls.

Issue 15's goals: the app quits within 0.5 s and the CLI answers Ctrl-C within
1 s, leaving no output file. A test can only simulate a blocked call (it cannot
make LAPACK slow on purpose); this measures the real thing, as whole processes,
on a seeded checkpoint whose matrices keep the engine inside long calls: a
2048-wide ill-conditioned square matrix (the refinement and direct-SVD routes)
and a 4096×11008 trained-like one (the Gram route), in bf16.

* CLI: ``lmscope weights DIR --format json -o OUT`` gets SIGINT after each delay;
  printed: the time from the signal to the exit, the exit status (130 expected),
  and whether any file was left in OUT's folder.
* App: ``lmscope DIR`` in a pseudo-terminal (80×24); F6, then ctrl+r starts a run;
  after each delay ctrl+q; printed: the time from the key to the exit.

Usage: ``python benchmarks/bench_cancel.py [--delays 1,3,6]``
"""

from __future__ import annotations

import argparse
import os
import pty
import select
import shutil
import signal
import struct
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

GOAL_CLI = 1.0
GOAL_APP = 0.5


def make_checkpoint(folder: Path) -> None:
    """Two bf16 matrices that keep the engine in long LAPACK calls (see the module docstring)."""
    import torch
    from safetensors.torch import save_file

    rng = np.random.default_rng(0)
    k = 2048
    u = np.linalg.qr(rng.standard_normal((k, k)))[0]
    v = np.linalg.qr(rng.standard_normal((k, k)))[0]
    square = (u * np.logspace(0, -6, k)) @ v.T  # κ = 1e6: many values refined or a direct SVD
    r = 64
    wide = (rng.standard_normal((4096, r)) * (3.0 / np.arange(1, r + 1))) @ rng.standard_normal((r, 11008)) / 100
    wide += 0.02 * rng.standard_normal((4096, 11008))
    tensors = {"model.layers.0.self_attn.q_proj.weight": torch.from_numpy(square.astype(np.float32)).to(torch.bfloat16),
               "model.layers.0.mlp.up_proj.weight": torch.from_numpy(wide.astype(np.float32)).to(torch.bfloat16)}
    save_file(tensors, str(folder / "model.safetensors"))


def _lmscope() -> str:
    script = Path(sys.executable).with_name("lmscope")
    return str(script) if script.exists() else (shutil.which("lmscope") or "lmscope")


def cli_case(folder: Path, delay: float) -> str:
    out_dir = Path(tempfile.mkdtemp(prefix="lmscope-cancel-"))
    out = out_dir / "report.json"
    proc = subprocess.Popen([_lmscope(), "weights", str(folder), "--device", "cpu", "--format", "json", "-o", str(out)],
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    time.sleep(delay)
    t = time.perf_counter()
    proc.send_signal(signal.SIGINT)
    _, err = proc.communicate(timeout=300)
    dt = time.perf_counter() - t
    left = sorted(p.name for p in out_dir.iterdir())
    shutil.rmtree(out_dir, ignore_errors=True)
    last = err.decode(errors="replace").strip().splitlines()[-1:] or [""]
    return (f"  CLI, SIGINT after {delay:g} s: exit {proc.returncode} in {dt:.3f} s "
            f"({'goal met' if dt < GOAL_CLI else 'GOAL MISSED'}: < {GOAL_CLI:g} s); files left: {left or 'none'}; "
            f"said: {last[0][:90]!r}")


def app_case(folder: Path, delay: float, startup: float) -> str:
    pid, fd = pty.fork()
    if pid == 0:  # the child: the app, in an 80×24 terminal, offline
        os.environ.update({"TERM": "xterm-256color", "COLUMNS": "80", "LINES": "24", "HF_HUB_OFFLINE": "1"})
        os.execv(_lmscope(), [_lmscope(), str(folder)])
    import fcntl
    import termios

    fcntl.ioctl(fd, termios.TIOCSWINSZ, struct.pack("HHHH", 24, 80, 0, 0))

    def drain(seconds: float) -> None:
        end = time.perf_counter() + seconds
        while time.perf_counter() < end:
            ready, _, _ = select.select([fd], [], [], 0.05)
            if ready:
                try:
                    os.read(fd, 65536)
                except OSError:
                    return

    drain(startup)
    os.write(fd, b"\x1b[17~")  # F6: the Weights tab
    drain(1.0)
    os.write(fd, b"\x12")  # ctrl+r: a fresh run
    drain(delay)
    t = time.perf_counter()
    os.write(fd, b"\x11")  # ctrl+q
    status = None
    while time.perf_counter() - t < 120:
        drain(0.01)
        done, status = os.waitpid(pid, os.WNOHANG)
        if done:
            break
    dt = time.perf_counter() - t
    if status is None or not os.WIFEXITED(status):
        os.kill(pid, signal.SIGKILL)
        os.waitpid(pid, 0)
        return f"  app, ctrl+q {delay:g} s into a run: did not exit within 120 s (killed)"
    return (f"  app, ctrl+q {delay:g} s into a run: exited ({os.WEXITSTATUS(status)}) in {dt:.3f} s "
            f"({'goal met' if dt < GOAL_APP else 'GOAL MISSED'}: < {GOAL_APP:g} s)")


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--delays", default="1,3,6", help="seconds into the run before the signal or key")
    ap.add_argument("--startup", type=float, default=4.0, help="seconds the app gets to start before F6")
    args = ap.parse_args()
    delays = [float(d) for d in args.delays.split(",") if d]
    print(f"cpus {os.cpu_count()}, load average {os.getloadavg()}")
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        make_checkpoint(folder)
        print(f"checkpoint: {sum(f.stat().st_size for f in folder.iterdir()) / 2**20:.0f} MiB, "
              "2048² κ = 1e6 and 4096×11008 trained-like, bf16")
        for d in delays:
            print(cli_case(folder, d))
        for d in delays:
            print(app_case(folder, d, args.startup))
    print(f"load average {os.getloadavg()}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
