"""Pilot tests of the Plan screen (F7): every number it shows is core.plan's, checked two ways.

Oracles: ``core.plan.make_plan`` called here, independently, with a
``PlanRequest`` written out by hand for the same settings (the screen must add
no arithmetic), and hand-derived figures for Llama-3.1-8B (8,030,261,248
parameters, published on its model card; 32 layers × 8 KV heads × 128 dims).
Local GPU detection is replaced by a stub: it must run only when the screen
first opens, in a worker, and its GPUs become the default.
"""

from __future__ import annotations

from dataclasses import replace

import pytest
from conftest import make_app, wait_for, wait_workers

from lmscope.core.hardware import LocalGPU
from tests.test_tui import screen_text

pytestmark = pytest.mark.usefixtures("offline_env")

GIB = 1 << 30
LLAMA = "meta-llama/Llama-3.1-8B"


@pytest.fixture()
def detected(monkeypatch):
    """Replace NVML/nvidia-smi with a list the test sets; records each call."""
    state = {"gpus": [], "calls": 0}

    def fake(timeout: float = 3.0):
        state["calls"] += 1
        return list(state["gpus"])

    monkeypatch.setattr("lmscope.core.hardware.detect_local", fake)
    return state


def oracle(model_id: str, hw_name: str, **request):
    """make_plan for ``model_id`` on ``hw_name`` with the request written out here."""
    from lmscope.core.hardware import get_accelerator
    from lmscope.core.plan import PlanRequest, make_plan
    from lmscope.core.report import build_report
    from lmscope.core.results import Settings
    from lmscope.core.sources.resolve import resolve

    report = build_report(resolve(model_id, offline=True), Settings(), exact=False)
    return make_plan(report.architecture, report.estimate.parameters, PlanRequest(**request), get_accelerator(hw_name), model_id=model_id)


async def open_plan(pilot, models: int = 1):
    app = pilot.app
    await wait_for(pilot, lambda: len(app.slots) >= models and not app.pending)
    await pilot.press("f7")
    await wait_workers(pilot)  # local GPU detection, then the plan
    assert app.screen.current_plan is not None or app.screen.plan_error
    return app.screen


async def settle(pilot):
    await pilot.pause(0.05)
    await wait_workers(pilot)


async def test_detection_is_lazy_and_the_plan_matches_core(detected):
    app = make_app()
    async with app.run_test(size=(120, 40)) as pilot:
        await wait_for(pilot, lambda: app.main_model is not None and not app.pending)
        assert detected["calls"] == 0 and app.local_gpus is None  # nothing at start-up
        screen = await open_plan(pilot)
        assert detected["calls"] == 1 and app.local_gpus == ()
        assert app.deployment.gpu == "h100"  # no local GPU: the fallback card, said on screen
        assert "no local GPU detected" in screen_text(app)
        s = app.settings
        expected = oracle(LLAMA, "h100", seq_len=s.seq_len, batch=s.batch, dtype=s.dtype, kv_dtype=s.kv_dtype)
        assert screen.current_plan.to_dict() == expected.to_dict()


async def test_hand_derived_llama_figures_on_screen(detected):
    app = make_app()
    async with app.run_test(size=(120, 40)) as pilot:
        screen = await open_plan(pilot)
        assert app.settings.seq_len == 4096 and app.settings.batch == 1
        text = screen_text(app)
        weights = 2 * 8_030_261_248  # bf16, published parameter count
        kv = 32 * 2 * 8 * 128 * 2 * 4096  # layers × (K, V) × KV heads × head dim × 2 B × tokens
        assert f"{weights:,}" in text and f"{kv:,}" in text
        mem = screen.current_plan.memory
        assert (mem.weights_bytes, mem.kv_cache_bytes) == (weights, kv)
        assert "✔ FITS on 1 × NVIDIA H100" in text
        # two GPUs: TP 2 (auto) halves the weights' layer matrices and the KV heads on each card
        app.set_settings(replace(app.settings, num_gpus=2))
        await settle(pilot)
        plan = screen.current_plan
        assert plan.request.tensor_parallel == 2
        assert plan.memory.kv_cache_bytes == kv // 2
        assert f"{kv // 2:,}" in screen_text(app)


async def test_local_gpus_become_the_default(detected):
    detected["gpus"] = [LocalGPU("NVIDIA GeForce RTX 4090", 24 * GIB, "rtx4090")] * 2
    app = make_app()
    async with app.run_test(size=(120, 40)) as pilot:
        screen = await open_plan(pilot)
        assert app.deployment.gpu == "rtx4090" and app.settings.num_gpus == 2
        gpu = screen.query_one("#gpu")
        assert gpu.choices[0].label == "rtx4090 (local)" and gpu.value == "rtx4090"
        assert screen.current_plan.hardware.name == "rtx4090" and screen.current_plan.request.count == 2
        s = app.settings
        expected = oracle(LLAMA, "rtx4090", seq_len=s.seq_len, batch=s.batch, count=2)
        assert screen.current_plan.to_dict() == expected.to_dict()


async def test_unknown_local_gpu_is_planned_by_its_memory(detected):
    detected["gpus"] = [LocalGPU("NVIDIA A40", 48 * GIB, None)]
    app = make_app()
    async with app.run_test(size=(120, 40)) as pilot:
        screen = await open_plan(pilot)
        assert app.deployment.gpu == "local:0"
        plan = screen.current_plan
        assert plan.hardware.memory_bytes == 48 * GIB and plan.roofline is None  # bandwidth unknown: no speed
        assert "NVIDIA A40" in screen_text(app)


async def test_gpu_slider_and_keys(detected):
    app = make_app()
    async with app.run_test(size=(120, 40)) as pilot:
        screen = await open_plan(pilot)
        assert screen.focused.id == "gpu"
        await pilot.press("end")  # the last profile: a CPU with system RAM
        await settle(pilot)
        assert app.deployment.gpu == screen.query_one("#gpu").choices[-1].value
        await pilot.press("home", "right")
        await settle(pilot)
        assert app.deployment.gpu == "h100-pcie" and screen.current_plan.hardware.name == "h100-pcie"
        await pilot.press("y")
        command = screen.current_plan.commands["vllm"]
        assert command.startswith("vllm serve meta-llama/Llama-3.1-8B") and app.clipboard == command
        await pilot.press("u")  # sizes in GB: the same plan, redrawn
        await pilot.pause(0.05)
        try:
            assert " GB" in screen_text(app) and "GiB" not in screen_text(app).split("assumptions")[0]
        finally:
            await pilot.press("u")


async def test_training_mode_shows_the_training_pickers(detected):
    app = make_app()
    async with app.run_test(size=(120, 40)) as pilot:
        screen = await open_plan(pilot)
        assert screen.query_one("#tp").display and not screen.query_one("#zero_stage").display
        app.set_settings(replace(app.settings, mode="qlora", lora_rank=64, recompute="full"))
        await settle(pilot)
        for shown in ("zero_stage", "optimizer", "recompute", "lora_rank", "lora_targets"):
            assert screen.query_one(f"#{shown}").display, shown
        assert not screen.query_one("#tp").display and not screen.query_one("#pp").display
        s = app.settings
        expected = oracle(LLAMA, "h100", seq_len=s.seq_len, batch=s.batch, mode="qlora", lora_rank=64, recompute="full")
        assert screen.current_plan.to_dict() == expected.to_dict()
        text = screen_text(app)
        assert "LoRA adapters" in text and "optimizer states" in text


async def test_does_not_fit_shows_the_split(detected):
    app = make_app("deepseek-ai/DeepSeek-V3")
    async with app.run_test(size=(120, 40)) as pilot:
        await open_plan(pilot)
        app.set_deployment(replace(app.deployment, gpu="rtx4090"))
        await settle(pilot)
        plan = app.screen.current_plan
        assert not plan.fits and plan.split is not None
        text = screen_text(app)
        assert "✘ DOES NOT FIT" in text and "GPU/CPU split" in text and "layers on CPU" in text
        assert f"{plan.memory.per_gpu_bytes:,}" in text


async def test_refused_plan_is_one_line_not_a_crash(detected):
    app = make_app()
    async with app.run_test(size=(120, 40)) as pilot:
        screen = await open_plan(pilot)
        app.set_settings(replace(app.settings, num_gpus=3))  # auto TP 3 does not divide 32 heads
        await settle(pilot)
        assert screen.plan_error is not None and "does not divide" in screen.plan_error
        assert "Cannot plan" in screen_text(app)
        # the TP picker offers only sizes that divide the heads and fit the count
        assert [c.value for c in screen.query_one("#tp").choices] == [None, 1, 2]


async def test_export_is_the_cli_plan(detected):
    import json

    app = make_app()
    async with app.run_test(size=(120, 40)) as pilot:
        screen = await open_plan(pilot)
        data = json.loads(screen.export_text("json"))
        assert data == json.loads(json.dumps(screen.current_plan.to_dict()))
        assert screen.export_text("markdown").startswith("# Plan: meta-llama/Llama-3.1-8B")


async def test_compare_shows_fit_and_decode_speed_for_the_chosen_hardware(detected):
    from lmscope.core.plan import plan_summary

    app = make_app(LLAMA, "deepseek-ai/DeepSeek-V3")
    async with app.run_test(size=(120, 40)) as pilot:
        await wait_for(pilot, lambda: len(app.compare_models) == 2 and not app.pending)
        await wait_workers(pilot)
        screen = app.screen
        s = app.settings
        for model_id, got in ((LLAMA, screen._plans[LLAMA]), ("deepseek-ai/DeepSeek-V3", screen._plans["deepseek-ai/DeepSeek-V3"])):
            assert got == plan_summary(oracle(model_id, "h100", seq_len=s.seq_len, batch=s.batch))
        text = screen_text(app)
        assert "fits on the GPUs" in text and "no fit" in text and "1 × h100" in text
        assert f"{screen._plans[LLAMA]['decode_tokens_per_s']:,.1f}" in text
        # the hardware picked on the Plan screen is the Compare screen's too
        app.set_deployment(replace(app.deployment, gpu="h200"))
        await pilot.pause(0.05)
        await wait_workers(pilot)
        assert screen._plans[LLAMA] == plan_summary(oracle(LLAMA, "h200", seq_len=s.seq_len, batch=s.batch))


async def test_compare_export_carries_the_gpu_rows(detected):
    import json

    app = make_app(LLAMA, "Qwen/Qwen3-8B")
    async with app.run_test(size=(120, 40)) as pilot:
        await wait_for(pilot, lambda: len(app.compare_models) == 2 and not app.pending)
        await wait_workers(pilot)
        data = json.loads(app.screen.export_text("json"))
        assert data["hardware"]["name"] == "h100" and data["hardware"]["count"] == 1
        assert [p["model_id"] for p in data["plans"]] == [LLAMA, "Qwen/Qwen3-8B"]
        for p in data["plans"]:
            assert p == json.loads(json.dumps(app.screen._plans[p["model_id"]]))
        assert "| on 1 × h100 |" in app.screen.export_text("markdown")


async def test_a_detected_variant_is_planned_with_its_own_memory(detected):
    """An H100 NVL matches the h100 profile by name but holds 94 GB: the plan uses what the driver reports."""
    detected["gpus"] = [LocalGPU("NVIDIA H100 NVL", 95_830 << 20, "h100")]
    app = make_app()
    async with app.run_test(size=(120, 40)) as pilot:
        screen = await open_plan(pilot)
        assert app.deployment.gpu == "h100"
        assert screen.current_plan.hardware.memory_bytes == 95_830 << 20
        assert "NVIDIA H100 NVL" in screen_text(app)
