"""How fast the TUI feels: first paint, and a slider change to repaint.

Targets (docs/DESIGN + the TUI issue): first paint < 0.5 s on a 2-core machine,
slider change → repaint < 50 ms. Each figure is printed beside a baseline
measured in the same run, so a slow machine shows up as a slow baseline:

* first paint: ``lmscope`` (import + app start until the first frame is on
  screen) vs a bare Textual app with one Static, each in a fresh interpreter;
* repaint: one slider step on Memory & FLOPs = ``set_settings`` (calls the
  core ``estimate()``) + rendering every widget it dirtied (tables, sliders),
  then the deferred chart redraw, vs ``estimate()`` alone.

Run: ``python benchmarks/bench_tui.py`` (offline, exact engine off).
"""

from __future__ import annotations

import asyncio
import json
import os
import statistics
import subprocess
import sys
import tempfile
import textwrap
import time

FIRST_PAINT = textwrap.dedent(
    """
    import time
    t0 = time.perf_counter()
    import asyncio, json, sys
    if sys.argv[1] == "bare":
        from textual.app import App
        from textual.widgets import Static

        class Bare(App):
            def compose(self):
                yield Static("hello")

            def on_mount(self):
                self.call_after_refresh(self.painted)

            def painted(self):
                self.first_paint = time.perf_counter()

        app = Bare()
    else:
        from lmscope.tui.app import LmscopeApp

        app = LmscopeApp()
    t_import = time.perf_counter()

    async def main():
        async with app.run_test(size=(120, 40)) as pilot:
            if sys.argv[1] == "bare":
                while not hasattr(app, "first_paint"):
                    await pilot.pause(0.005)
                paint = app.first_paint
            else:
                while app.first_paint_seconds is None:
                    await pilot.pause(0.005)
                paint = app.started_at + app.first_paint_seconds
                while app.main_model is None:
                    await pilot.pause(0.005)
            loaded = time.perf_counter()
        print(json.dumps({"import": t_import - t0, "first_paint": paint - t0, "model_on_screen": loaded - t0}))

    asyncio.run(main())
    """
)


def first_paint(kind: str, runs: int = 5) -> dict[str, float]:
    env = dict(os.environ, HF_HUB_OFFLINE="1", LMSCOPE_NO_EXACT="1", HF_HOME=tempfile.mkdtemp())
    samples: dict[str, list[float]] = {}
    for _ in range(runs):
        out = subprocess.run([sys.executable, "-c", FIRST_PAINT, kind], env=env, capture_output=True, text=True, check=True)
        for key, value in json.loads(out.stdout.strip().splitlines()[-1]).items():
            samples.setdefault(key, []).append(value)
    return {key: statistics.median(values) for key, values in samples.items()}


async def repaint(steps: int = 40) -> dict[str, float]:
    os.environ.update(HF_HUB_OFFLINE="1", LMSCOPE_NO_EXACT="1", HF_HOME=tempfile.mkdtemp())
    from dataclasses import replace

    from lmscope.core.estimate import estimate
    from lmscope.tui.app import LmscopeApp
    from lmscope.tui.widgets.settings_bar import seq_len_choices

    app = LmscopeApp()
    async with app.run_test(size=(120, 40)) as pilot:
        while app.main_model is None:
            await pilot.pause(0.01)
        await pilot.press("f4")
        await pilot.pause(0.3)
        screen = app.screen
        model = app.main_model
        values = [c.value for c in seq_len_choices(model.context_length)][:8]
        numbers, charts, core = [], [], []
        for i in range(steps):
            settings = replace(app.settings, seq_len=values[i % len(values)], batch=1 + (i % 3))
            t0 = time.perf_counter()
            app.set_settings(settings)  # estimate() + table/slider updates
            screen._compositor.render_update(full=True)  # render everything that changed
            t1 = time.perf_counter()
            screen._chart_timer.stop()
            screen._replot(model, screen.current_estimate)  # the deferred chart redraw
            screen._compositor.render_update(full=True)
            t2 = time.perf_counter()
            estimate(model.architecture, settings, params=model.params)
            t3 = time.perf_counter()
            numbers.append(t1 - t0)
            charts.append(t2 - t1)
            core.append(t3 - t2)
    return {
        "numbers_repaint_ms": 1000 * statistics.median(numbers),
        "numbers_repaint_p90_ms": 1000 * sorted(numbers)[int(0.9 * len(numbers))],
        "chart_repaint_ms": 1000 * statistics.median(charts),
        "estimate_ms": 1000 * statistics.median(core),
    }


def main() -> None:
    bare = first_paint("bare")
    ours = first_paint("lmscope")
    print(f"first paint   bare Textual app {bare['first_paint']:.3f} s | lmscope {ours['first_paint']:.3f} s "
          f"(import {ours['import']:.3f} s) | ratio {ours['first_paint'] / bare['first_paint']:.2f}× | target < 0.5 s")
    print(f"app start → first frame (without imports) {ours['first_paint'] - ours['import']:.3f} s | "
          f"bare {bare['first_paint'] - bare['import']:.3f} s")
    print(f"model on screen (default catalog model, analytic) {ours['model_on_screen']:.3f} s")
    r = asyncio.run(repaint())
    print(f"slider step   numbers repaint {r['numbers_repaint_ms']:.1f} ms (p90 {r['numbers_repaint_p90_ms']:.1f} ms) | "
          f"chart redraw (deferred one frame) {r['chart_repaint_ms']:.1f} ms | core estimate() {r['estimate_ms']:.3f} ms | "
          f"ratio {r['numbers_repaint_ms'] / max(r['estimate_ms'], 1e-6):.0f}× estimate | target < 50 ms")


if __name__ == "__main__":
    main()
