"""Write screenshots/<screen>.svg at 120×40 from the real app (run_test + save_screenshot).

Offline on the built-in catalog; the exact engine runs (so the marker reads
"exact ✓") unless ``--no-exact`` is given. ``weights-analysed`` runs the
weights engine (F6, r) on a tiny random Llama checkpoint written to a
temporary folder (seeded, so the spectra are the same every time; the
timings in the status line are not). Run from anywhere:

    python screenshots/make_screenshots.py [--no-exact] [--out DIR] [NAME ...]
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
    "weights-analysed": (("@tiny-llama",), ("f6", "r")),
    "export": ((), ("f4", "ctrl+s")),
    "help": ((), ("f4", "f1")),
    "plan": ((), ("f7",)),
    "plan-split": (("deepseek-ai/DeepSeek-V3",), ("f7", *["right"] * 11)),  # GPU picker: h100 … rtx4090
}


async def shoot(name: str, models: tuple[str, ...], keys: tuple[str, ...], out: Path, exact: bool) -> Path:
    from textual.widgets import Input

    from lmscope.tui.app import LmscopeApp
    from lmscope.tui.screens.base import LmscopeScreen

    app = LmscopeApp([tiny_checkpoint() if m == "@tiny-llama" else m for m in models], exact=exact)
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
        base = next(s for s in reversed(app.screen_stack) if isinstance(s, LmscopeScreen))
        while getattr(base, "running", False):  # the weights engine
            await pilot.pause(0.05)
        settled = getattr(base, "settled", None)  # timers a worker wait cannot see: search debounce, deferred chart
        while settled is not None and not settled():
            await pilot.pause(0.05)
        await pilot.app.workers.wait_for_complete()  # Plan: GPU detection, then the plan
        while pilot.app.workers:
            await pilot.pause(0.05)
            await pilot.app.workers.wait_for_complete()
        for screen in app.screen_stack:
            for inp in screen.query(Input):
                inp.cursor_blink = False
        await pilot.pause(0.3)
        path = app.save_screenshot(filename=f"{name}.svg", path=str(out))
    return Path(path)


def tiny_checkpoint() -> str:
    """A seeded two-layer Llama (hidden 64) as safetensors in a temp folder: low-rank + noise matrices."""
    import json

    import numpy as np
    from safetensors.numpy import save_file

    folder = Path(tempfile.mkdtemp(prefix="lmscope-shots-")) / "tiny-llama"
    folder.mkdir()
    h, f, v, layers = 64, 160, 256, 2
    config = {
        "architectures": ["LlamaForCausalLM"], "model_type": "llama", "hidden_size": h, "intermediate_size": f,
        "num_attention_heads": 4, "num_key_value_heads": 2, "num_hidden_layers": layers, "vocab_size": v,
        "max_position_embeddings": 2048, "torch_dtype": "float32", "tie_word_embeddings": False,
    }
    (folder / "config.json").write_text(json.dumps(config))
    rng = np.random.default_rng(2024)

    def matrix(rows: int, cols: int, rank: int) -> np.ndarray:
        low = rng.standard_normal((rows, rank)) @ rng.standard_normal((rank, cols)) / np.sqrt(rank)
        return (0.02 * (low + 0.3 * rng.standard_t(3, (rows, cols)))).astype(np.float32)

    tensors = {"model.embed_tokens.weight": matrix(v, h, 24), "lm_head.weight": matrix(v, h, 16), "model.norm.weight": np.ones(h, np.float32)}
    for i in range(layers):
        p = f"model.layers.{i}."
        tensors |= {
            p + "input_layernorm.weight": (1 + 0.05 * rng.standard_normal(h)).astype(np.float32),
            p + "self_attn.q_proj.weight": matrix(h, h, 8), p + "self_attn.k_proj.weight": matrix(h // 2, h, 8),
            p + "self_attn.v_proj.weight": matrix(h // 2, h, 16), p + "self_attn.o_proj.weight": matrix(h, h, 32),
            p + "post_attention_layernorm.weight": (1 + 0.05 * rng.standard_normal(h)).astype(np.float32),
            p + "mlp.gate_proj.weight": matrix(f, h, 32), p + "mlp.up_proj.weight": matrix(f, h, 48),
            p + "mlp.down_proj.weight": matrix(h, f, 40),
        }
    save_file(tensors, str(folder / "model.safetensors"))
    return str(folder)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--no-exact", action="store_true", help="do not run the exact engine (faster)")
    parser.add_argument("--out", default=str(HERE), help="folder to write to (default: screenshots/)")
    parser.add_argument("names", nargs="*", metavar="NAME", help=f"only these shots ({', '.join(SHOTS)}; default all)")
    args = parser.parse_args()
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("HF_HOME", tempfile.mkdtemp(prefix="lmscope-shots-"))
    os.environ.pop("LMSCOPE_NO_EXACT", None)
    import textual.constants

    textual.constants.COLOR_SYSTEM = "truecolor"  # the same colours whatever terminal runs this
    import lmscope.core.hardware

    lmscope.core.hardware.detect_local = lambda timeout=3.0: []  # the Plan shots do not depend on this machine's GPUs
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    for name, (models, keys) in SHOTS.items():
        if args.names and name not in args.names:
            continue
        path = asyncio.run(shoot(name, models, keys, out, exact=not args.no_exact))
        print(f"wrote {path}")


if __name__ == "__main__":
    main()
