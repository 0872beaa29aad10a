"""Write screenshots/<screen>.svg at 120×40 from the real app (run_test + save_screenshot).

Offline on the built-in catalog; the exact engine runs (so the marker reads
"exact ✓") unless ``--no-exact`` is given. Run from anywhere:

    python screenshots/make_screenshots.py [--no-exact] [--out DIR]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import tempfile
from pathlib import Path

SIZE = (120, 40)
HERE = Path(__file__).resolve().parent

# name -> (models to open, keys to press once they are open)
SHOTS: dict[str, tuple[tuple[str, ...], tuple[str, ...]]] = {
    "search": ((), ("f2", *"qwen3")),
    "summary": ((), ()),
    "summary-hybrid": (("Qwen/Qwen3-Next-80B-A3B-Thinking",), ()),
    "memory": ((), ("f4", "right", "right", "right")),
    "memory-training": ((), ("f4", "t")),
    "compare": (("meta-llama/Llama-3.1-8B", "Qwen/Qwen3-8B", "google/gemma-3-4b-it"), ()),
    "weights": ((), ("f6",)),
    "export": ((), ("f4", "ctrl+s")),
    "help": ((), ("f4", "f1")),
}


async def shoot(name: str, models: tuple[str, ...], keys: tuple[str, ...], out: Path, exact: bool) -> Path:
    from textual.widgets import Input

    from lmscope.tui.app import LmscopeApp

    app = LmscopeApp(list(models), exact=exact)
    async with app.run_test(size=SIZE) as pilot:
        wanted = max(1, len(models))
        while len(app.slots) < wanted or app.pending:
            await pilot.pause(0.05)
        if exact:
            while any(m.exact_state == "pending" for m in app.slots.values()):
                await pilot.pause(0.1)
        for key in keys:
            await pilot.press(key)
            await pilot.pause(0.1)
        base = next(s for s in reversed(app.screen_stack) if hasattr(s, "settled"))
        while not base.settled():
            await pilot.pause(0.05)
        for screen in app.screen_stack:
            for inp in screen.query(Input):
                inp.cursor_blink = False
        await pilot.pause(0.3)
        path = app.save_screenshot(filename=f"{name}.svg", path=str(out))
    return Path(path)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--no-exact", action="store_true", help="do not run the exact engine (faster)")
    parser.add_argument("--out", default=str(HERE), help="folder to write to (default: screenshots/)")
    args = parser.parse_args()
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("HF_HOME", tempfile.mkdtemp(prefix="lmscope-shots-"))
    os.environ.pop("LMSCOPE_NO_EXACT", None)
    import textual.constants

    textual.constants.COLOR_SYSTEM = "truecolor"  # the same colours whatever terminal runs this
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    for name, (models, keys) in SHOTS.items():
        path = asyncio.run(shoot(name, models, keys, out, exact=not args.no_exact))
        print(f"wrote {path}")


if __name__ == "__main__":
    main()
