"""Start-up path of the TUI: light imports, first paint before any model work, exact engine after.

Run in a fresh interpreter (other tests import torch): the app must paint
and open the default model with neither torch nor transformers nor
huggingface_hub imported; only the exact-engine worker, started after the
model is on screen, imports torch — and its answer turns the marker from
"analytic" to "exact ✓" (the class count equals the analytic count for
Llama-3.1-8B: 8,030,261,248, FORMULAS.md).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap

import pytest

SCRIPT = textwrap.dedent(
    """
    import asyncio, json, sys
    from lmscope.tui.app import LmscopeApp
    from lmscope.tui.messages import ExactCountReady, ModelLoaded

    HEAVY = ("torch", "transformers", "huggingface_hub", "textual_plotext", "plotext")
    seen = {}

    def hook(message):
        if isinstance(message, ModelLoaded) and "loaded" not in seen:
            seen["loaded"] = [m for m in HEAVY if m in sys.modules]

    async def main():
        exact = sys.argv[1] == "exact"
        app = LmscopeApp(sys.argv[2:], exact=exact)
        seen["after_import"] = [m for m in HEAVY if m in sys.modules]
        async with app.run_test(size=(120, 40), message_hook=hook) as pilot:
            while app.first_paint_seconds is None:
                await pilot.pause(0.01)
            seen["first_paint_seconds"] = app.first_paint_seconds
            while app.main_model is None:
                await pilot.pause(0.02)
            seen["marker_on_load"] = app.main_model.marker
            if exact:
                for _ in range(3000):
                    if app.main_model.exact_state != "pending":
                        break
                    await pilot.pause(0.05)
                seen["exact_state"] = app.main_model.exact_state
                seen["marker"] = app.main_model.marker
                seen["exact_total"] = app.main_model.exact.total if app.main_model.exact else None
            seen["at_end"] = [m for m in HEAVY if m in sys.modules]
        print(json.dumps(seen))

    asyncio.run(main())
    """
)


def run_app(mode: str, tmp_path, *models: str) -> dict:
    env = dict(os.environ)
    env.update(HF_HUB_OFFLINE="1", HF_HOME=str(tmp_path / "hf"), XDG_CACHE_HOME=str(tmp_path / "cache"))
    env.pop("LMSCOPE_NO_EXACT", None)
    proc = subprocess.run([sys.executable, "-c", SCRIPT, mode, *models], env=env, capture_output=True, text=True, timeout=300, cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr[-3000:]
    return json.loads(proc.stdout.strip().splitlines()[-1])


def test_start_up_imports_nothing_heavy(tmp_path):
    seen = run_app("analytic", tmp_path)  # no model named: the catalog's default
    assert seen["after_import"] == []
    assert seen["loaded"] == []  # resolved, parsed and estimated with no heavy import
    assert seen["marker_on_load"] == "analytic"
    assert "torch" not in seen["at_end"] and "transformers" not in seen["at_end"]
    assert seen["first_paint_seconds"] is not None  # it painted (how fast: benchmarks/bench_tui.py)


@pytest.mark.slow
def test_exact_engine_runs_after_first_paint_and_confirms(tmp_path):
    import torch  # noqa: F401
    import transformers  # noqa: F401
    seen = run_app("exact", tmp_path, "meta-llama/Llama-3.1-8B")
    assert "torch" not in seen["loaded"]  # nothing heavy before the model is on screen
    assert seen["marker_on_load"] == "analytic · exact…"
    assert seen["exact_state"] == "exact"
    assert seen["exact_total"] == 8_030_261_248
    assert seen["marker"] == "exact ✓"
    assert "torch" in seen["at_end"]


QUIT_SCRIPT = textwrap.dedent(
    """
    import asyncio, sys, threading
    from lmscope.tui import loader
    from lmscope.tui.app import LmscopeApp

    call = sys.argv[1]
    started = threading.Event()

    def stuck(*args, **kwargs):  # a call that never returns (a Hub request on a dead network)
        started.set()
        threading.Event().wait()

    setattr(loader, call, stuck)

    async def main():
        app = LmscopeApp([], exact=call == "exact_parameters_for")
        async with app.run_test(size=(80, 24)) as pilot:
            while not started.is_set():
                await pilot.pause(0.02)
            app.exit()  # what ctrl+q does, while the worker's call is still blocked

    asyncio.run(main())  # joins asyncio's executor threads, where Textual runs thread workers
    print("closed")
    """
)


@pytest.mark.parametrize("call", ["open_model", "exact_parameters_for"])
def test_quitting_does_not_wait_for_a_blocked_worker_call(tmp_path, call):
    """A model load stuck on the Hub, or the exact engine stuck building a model, does not hold the exit:
    the worker walks away from the call when Textual cancels it (tui/abandon.py)."""
    env = dict(os.environ)
    env.update(HF_HUB_OFFLINE="1", HF_HOME=str(tmp_path / "hf"), XDG_CACHE_HOME=str(tmp_path / "cache"))
    env.pop("LMSCOPE_NO_EXACT", None)
    try:
        proc = subprocess.run([sys.executable, "-c", QUIT_SCRIPT, call], env=env, capture_output=True, text=True,
                              timeout=120, cwd=tmp_path)
    except subprocess.TimeoutExpired:
        pytest.fail(f"the app never finished closing: it waited for the blocked {call}")
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert proc.stdout.strip().splitlines()[-1] == "closed"
