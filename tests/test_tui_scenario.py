"""The Memory screen's scenario pickers (mode, GPUs, ZeRO, optimizer, recompute, LoRA, flash) reach the core.

Oracles: ``core.estimate.estimate`` called here with the Settings written out
by hand (the screen adds no arithmetic), and hand-derived Llama-3.1-8B bytes
(32 layers, hidden 4096, 8 KV heads × 128, MLP 14336; bf16 = 2 B).
"""

from __future__ import annotations

from dataclasses import replace

import pytest
from conftest import make_app, wait_for

from lmscope.core.results import Settings
from lmscope.core.units import exact_count
from tests.test_tui import screen_text

pytestmark = pytest.mark.usefixtures("offline_env")


def independent(app, **changes):
    from lmscope.core.estimate import estimate

    model = app.main_model
    return estimate(model.architecture, replace(Settings(seq_len=app.settings.seq_len), **changes), params=model.params)


async def open_memory(pilot):
    app = pilot.app
    await wait_for(pilot, lambda: app.main_model is not None and not app.pending)
    await pilot.press("f4")
    await wait_for(pilot, lambda: app.screen.current_estimate is not None)
    return app.screen


def shown(screen, field: str) -> bool:
    return bool(screen.query_one(f"#{field}").display)


async def test_pickers_follow_the_mode_and_reach_the_training_figures():
    app = make_app()
    async with app.run_test(size=(120, 40)) as pilot:
        screen = await open_memory(pilot)
        assert shown(screen, "flash_attention") and not shown(screen, "zero_stage") and not shown(screen, "lora_rank")
        await pilot.press("t")  # inference -> training
        await pilot.pause(0.05)
        assert app.settings.mode == "training"
        for field in ("num_gpus", "zero_stage", "optimizer", "recompute"):
            assert shown(screen, field), field
        screen.query_one("#zero_stage").focus()
        await pilot.press("end")  # ZeRO-3
        screen.query_one("#num_gpus").focus()
        await pilot.press("right", "right", "right", "right", "right")  # 1 2 3 4 6 8
        screen.query_one("#optimizer").focus()
        await pilot.press("right")  # 8-bit Adam
        screen.query_one("#recompute").focus()
        await pilot.press("end")  # full
        await pilot.pause(0.05)
        s = app.settings
        assert (s.zero_stage, s.num_gpus, s.optimizer, s.recompute) == (3, 8, "adam8bit", "full")
        expected = independent(app, mode="training", zero_stage=3, num_gpus=8, optimizer="adam8bit", recompute="full")
        assert screen.current_estimate.memory.training_total_bytes == expected.memory.training_total_bytes
        assert exact_count(expected.memory.training_total_bytes) in screen_text(app)


async def test_lora_and_qlora_totals_with_rank_and_targets():
    app = make_app()
    async with app.run_test(size=(120, 40)) as pilot:
        screen = await open_memory(pilot)
        await pilot.press("t", "t")  # -> training -> lora
        await pilot.pause(0.05)
        assert app.settings.mode == "lora" and shown(screen, "lora_rank") and not shown(screen, "zero_stage")
        screen.query_one("#lora_rank").focus()
        await pilot.press("right", "right")  # 16 -> 32 -> 64
        screen.query_one("#lora_targets").focus()
        await pilot.press("right")  # q, v only
        await pilot.pause(0.05)
        expected = independent(app, mode="lora", lora_rank=64, lora_targets="qv")
        text = screen_text(app)
        assert exact_count(expected.lora_memory_bytes) in text and "r=64 q, v" in text
        # LoRA paper's W_q, W_v: r × (d_in + d_out) each, 32 layers: q 4096->4096, v 4096->1024
        assert screen.current_estimate.lora_trainable_parameters == 32 * 64 * ((4096 + 4096) + (4096 + 1024))
        await pilot.press("t")  # -> qlora
        await pilot.pause(0.05)
        qlora = independent(app, mode="qlora", lora_rank=64, lora_targets="qv")
        assert exact_count(qlora.qlora_memory_bytes) in screen_text(app)
        await pilot.press("t")
        assert app.settings.mode == "inference"


async def test_flash_picker_and_weights_by_component():
    app = make_app()
    async with app.run_test(size=(120, 40)) as pilot:
        screen = await open_memory(pilot)
        text = screen_text(app)
        # bf16 weights by component, hand-derived for Llama-3.1-8B
        mlp = 32 * 3 * 4096 * 14336 * 2
        attention = 32 * (2 * 4096 * 4096 + 2 * 4096 * 1024) * 2
        assert exact_count(mlp) in text and exact_count(attention) in text
        screen.query_one("#flash_attention").focus()
        await pilot.press("right")  # off
        await pilot.pause(0.05)
        assert app.settings.flash_attention is False
        eager = independent(app, flash_attention=False).memory.activation_bytes
        assert screen.current_estimate.memory.activation_bytes == eager
        assert "activations (no flash)" in screen_text(app) and exact_count(eager) in screen_text(app)


async def test_memory_or_compute_bound_verdict_on_the_memory_screen():
    from lmscope.core.phases import REFERENCE_BALANCE

    app = make_app()
    async with app.run_test(size=(120, 40)) as pilot:
        screen = await open_memory(pilot)
        f = screen.current_estimate.flops
        # one decode token reads every weight once (~1 FLOP per byte); a 4k prefill reuses each weight 4096 times
        assert f.decode_intensity < REFERENCE_BALANCE < f.prefill_intensity
        text = screen_text(app)
        assert "memory-bound" in text and "compute-bound" in text and f"{REFERENCE_BALANCE:,.0f} FLOP/B" in text


def test_memory_chart_points_follow_lora_and_qlora():
    """The chart's series in LoRA modes is the estimator's LoRA / QLoRA total at each length."""
    from lmscope.core.charts import memory_points
    from lmscope.core.estimate import estimate
    from lmscope.core.report import build_report
    from lmscope.core.sources.resolve import resolve

    report = build_report(resolve("Qwen/Qwen3-0.6B", offline=True), Settings(), exact=False)
    arch, params = report.architecture, report.estimate.parameters
    for mode, field in (("lora", "lora_memory_bytes"), ("qlora", "qlora_memory_bytes")):
        settings = Settings(mode=mode, lora_rank=32)
        points = memory_points(arch, settings, params, [1024, 8192])
        for p in points:
            assert p.total == getattr(estimate(arch, replace(settings, seq_len=p.seq_len), params), field)
            assert sum(v for _, v in p.parts) == p.total
