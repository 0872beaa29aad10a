"""Pilot tests of the Textual app: every screen, the main flow, errors, small terminals.

The app runs offline on the built-in catalog with the exact engine off
(``LMSCOPE_NO_EXACT=1``) so these tests are fast and deterministic; the
numbers on screen are checked against ``lmscope.core.estimate`` called
independently with the same settings (the UI must add no arithmetic of its
own), and exports are parsed back.
"""

from __future__ import annotations

import io
import json
from dataclasses import replace

import pytest
from conftest import make_app, wait_for, wait_workers  # noqa: F401 - shared with the other TUI modules

from lmscope.core.results import Settings

SECOND_MODEL = "Qwen/Qwen3-8B"


pytestmark = pytest.mark.usefixtures("offline_env")


def screen_text(app) -> str:
    """Every Static/DataTable's visible text on the current screen, joined (for 'is it shown' checks)."""
    from rich.console import Console
    from textual.widgets import DataTable, Static

    console = Console(width=200, record=True, file=io.StringIO(), color_system=None)
    parts = []
    for static in app.screen.query(Static):
        console.print(static.content)
    parts.append(console.export_text())
    for table in app.screen.query(DataTable):
        for row in range(table.row_count):
            parts.append(" ".join(str(c) for c in table.get_row_at(row)))
        parts.append(" ".join(str(c.label) for c in table.columns.values()))
    return "\n".join(parts)


def default_model_id() -> str:
    from lmscope.core.sources.catalog import DEFAULT_MODEL

    return DEFAULT_MODEL


def oracle_estimate(model_id: str, settings: Settings):
    """The core's numbers for ``model_id`` under ``settings``, computed without the app."""
    from lmscope.core.estimate import estimate
    from lmscope.core.params import count_parameters
    from lmscope.core.parse import architecture_from_config
    from lmscope.core.sources.resolve import resolve

    arch = architecture_from_config(resolve(model_id, offline=True).files)
    return estimate(arch, settings, params=count_parameters(arch))


# --------------------------------------------------------------------------------------------
async def test_opens_default_model_offline_on_summary():
    app = make_app()
    async with app.run_test(size=(120, 40)) as pilot:
        await wait_for(pilot, lambda: app.main_model is not None)
        assert app.main_model.model_id == default_model_id()
        assert app.current_mode == "summary"
        text = screen_text(app)
        assert default_model_id() in text
        assert "Layers" in text and "legend" in text
        assert app.main_model.marker == "analytic"
        assert app.first_paint_seconds is not None


async def test_main_flow_sliders_compare_export(tmp_path):
    """Open default → seq len with keys → numbers match core.estimate → compare → export → parse."""
    from lmscope.core.units import exact_count

    app = make_app()
    async with app.run_test(size=(120, 40), notifications=True) as pilot:
        await wait_for(pilot, lambda: app.main_model is not None)
        await pilot.press("f4")
        await wait_for(pilot, lambda: app.current_mode == "memory")
        screen = app.screen
        assert screen.focused.id == "seq_len"
        before = screen.current_estimate
        assert before.settings.seq_len == 4096
        await pilot.press("right", "right")  # 4k → 8k → 16k
        assert app.settings.seq_len == 16384
        after = screen.current_estimate
        expected = oracle_estimate(default_model_id(), Settings(seq_len=16384))
        assert after.memory == expected.memory
        assert after.flops == expected.flops
        assert after.memory.kv_cache_bytes == 4 * before.memory.kv_cache_bytes != 0
        shown = screen_text(app)
        assert exact_count(expected.memory.kv_cache_bytes) in shown
        assert exact_count(expected.memory.inference_total_bytes) in shown
        assert exact_count(expected.flops.prefill_total) in shown
        # batch slider: down to the next row of the grid, then End = the largest batch
        await pilot.press("tab", "home", "right")  # focus batch, 1 → 2
        assert app.settings.batch == 2
        assert screen.current_estimate.memory == oracle_estimate(default_model_id(), Settings(seq_len=16384, batch=2)).memory
        await pilot.press("shift+tab", "end")
        assert app.settings.seq_len > app.main_model.context_length  # past the context: marked
        assert "past the" in screen_text(app)
        await pilot.press("home")
        assert app.settings.seq_len == 128

        # Compare with a second catalog model, under the same settings
        app.add_compare(SECOND_MODEL)
        await wait_for(pilot, lambda: len(app.compare_models) == 2)
        assert app.current_mode == "compare"
        compare = app.screen
        assert [e.memory for e in compare.current_estimates] == [
            oracle_estimate(default_model_id(), app.settings).memory,
            oracle_estimate(SECOND_MODEL, app.settings).memory,
        ]
        text = screen_text(app)
        assert SECOND_MODEL in text and "×" in text

        # Export the comparison as JSON
        target = tmp_path / "out" / "cmp.json"
        target.parent.mkdir()
        await pilot.press("ctrl+s")
        await wait_for(pilot, lambda: type(app.screen).__name__ == "ExportScreen")
        app.screen.query_one("#export-path").value = str(target)
        await pilot.press("enter")
        await wait_for(pilot, target.exists)
        data = json.loads(target.read_text())
        assert data["model_ids"] == [default_model_id(), SECOND_MODEL]
        assert data["settings"]["seq_len"] == 128 and data["settings"]["batch"] == 2
        # no temporary file left behind
        assert sorted(p.name for p in target.parent.iterdir()) == ["cmp.json"]

        # Remove the second model again from the keyboard
        await pilot.press("x")
        await wait_for(pilot, lambda: len(app.compare_models) == 1)


async def test_export_memory_view_markdown_and_json(tmp_path):
    app = make_app()
    async with app.run_test(size=(120, 40), notifications=True) as pilot:
        await wait_for(pilot, lambda: app.main_model is not None)
        await pilot.press("f4")
        await pilot.press("right")  # 8k
        await pilot.press("ctrl+s")
        await wait_for(pilot, lambda: type(app.screen).__name__ == "ExportScreen")
        path_input = app.screen.query_one("#export-path")
        assert path_input.value.endswith(".json")
        app.screen.action_format("markdown")
        assert path_input.value.endswith(".md")
        path_input.value = str(tmp_path / "mem.md")
        await pilot.press("ctrl+s")
        await wait_for(pilot, (tmp_path / "mem.md").exists)
        assert default_model_id() in (tmp_path / "mem.md").read_text()
        await wait_for(pilot, lambda: app.current_mode == "memory" and type(app.screen).__name__ == "MemoryScreen")
        # JSON of the same view carries the current settings and the core's numbers
        text = app.screen.export_text("json")
        data = json.loads(text)
        expected = oracle_estimate(default_model_id(), Settings(seq_len=8192))
        assert data["settings"]["seq_len"] == 8192
        assert data["memory"]["kv_cache_bytes"] == expected.memory.kv_cache_bytes
        assert data["flops"]["prefill"]["total"] == expected.flops.prefill_total


async def test_export_to_unwritable_path_notifies_and_stays_open(tmp_path):
    app = make_app()
    async with app.run_test(size=(100, 30), notifications=True) as pilot:
        await wait_for(pilot, lambda: app.main_model is not None)
        await pilot.press("ctrl+s")
        await wait_for(pilot, lambda: type(app.screen).__name__ == "ExportScreen")
        app.screen.query_one("#export-path").value = str(tmp_path / "missing-dir" / "x.json")
        await pilot.press("enter")
        await pilot.pause(0.1)
        assert type(app.screen).__name__ == "ExportScreen"
        await wait_for(pilot, lambda: any(n.severity == "error" for n in app._notifications))
        await pilot.press("escape")
        await wait_for(pilot, lambda: type(app.screen).__name__ == "SummaryScreen")


async def test_search_offline_uses_catalog_and_opens_with_enter():
    app = make_app()
    async with app.run_test(size=(120, 40)) as pilot:
        await wait_for(pilot, lambda: app.main_model is not None)
        await pilot.press("f2")
        await wait_for(pilot, lambda: app.current_mode == "search")
        screen = app.screen
        await pilot.press(*"qwen3")
        await wait_for(pilot, lambda: screen.shown_query == "qwen3")
        ids = [r.model_id for r in screen.results]
        assert ids and all("qwen3" in i.lower() for i in ids)
        assert all(r.source == "catalog" for r in screen.results)
        assert "offline" in screen.where
        assert screen.results[0].parameters  # counted by the analytic engine
        # digits typed into the search box stay in the box (no screen switch)
        await pilot.press("3")
        assert app.current_mode == "search"
        await pilot.press("backspace")
        await pilot.pause(0.4)
        await wait_for(pilot, lambda: screen.shown_query == "qwen3")
        await pilot.press("down", "enter")
        await wait_for(pilot, lambda: app.main_model.model_id == ids[0] and app.current_mode == "summary")


async def test_bad_model_shows_error_notification_without_crashing():
    app = make_app("no-such-org/no-such-model-xyz")
    async with app.run_test(size=(100, 30), notifications=True) as pilot:
        await wait_for(pilot, lambda: bool(app.failures))
        assert app.main_model is None
        errors = [n for n in app._notifications if n.severity == "error"]
        assert errors and "no-such-model-xyz" in errors[0].title + errors[0].message
        assert "\n" not in errors[0].message and "Traceback" not in errors[0].message
        assert "Could not open" in screen_text(app)
        for key in ("f4", "f5", "f6", "f2", "f3"):
            await pilot.press(key)  # every screen copes with no model
        assert app.is_running


async def test_two_models_on_command_line_open_compare():
    app = make_app(default_model_id(), SECOND_MODEL)
    async with app.run_test(size=(120, 40)) as pilot:
        await wait_for(pilot, lambda: len(app.compare_models) == 2)
        assert app.current_mode == "compare"
        assert [m.model_id for m in app.compare_models] == [default_model_id(), SECOND_MODEL]


@pytest.mark.parametrize("size", [(80, 24), (120, 40)])
async def test_every_screen_at_size(size):
    app = make_app()
    async with app.run_test(size=size) as pilot:
        await wait_for(pilot, lambda: app.main_model is not None)
        for key, name in (("f2", "Search"), ("f3", "Summary"), ("f4", "Memory"), ("f5", "Compare"), ("f6", "Weights")):
            await pilot.press(key)
            await pilot.pause(0.05)
            assert type(app.screen).__name__ == f"{name}Screen"
            assert app.screen.region.width == size[0]
        # digits switch screens when no text box has focus
        await pilot.press("3")
        assert app.current_mode == "memory"
        await pilot.press("2")
        assert app.current_mode == "summary"


async def test_sixteen_colour_terminal(monkeypatch):
    import textual.constants

    monkeypatch.setattr(textual.constants, "COLOR_SYSTEM", "standard")
    app = make_app()
    async with app.run_test(size=(80, 24)) as pilot:
        await wait_for(pilot, lambda: app.main_model is not None)
        assert app.console.color_system == "standard"
        assert app.theme == "ansi-dark"
        for key in ("f4", "f5", "f6", "f2", "f3"):
            await pilot.press(key)
            await pilot.pause(0.05)
        assert app.is_running


async def test_help_screen_lists_bindings():
    app = make_app()
    async with app.run_test(size=(100, 40)) as pilot:
        await wait_for(pilot, lambda: app.main_model is not None)
        await pilot.press("f4")
        await pilot.press("f1")
        await wait_for(pilot, lambda: type(app.screen).__name__ == "HelpScreen")
        rows = app.screen.rows
        described = {desc for _keys, desc, _where in rows}
        assert {"Export", "Help", "Quit", "Less", "More", "Mode", "Scroll down"} <= described
        keys = {keys for keys, _desc, _where in rows}
        assert any("F4" in k and "3" in k for k in keys)
        await pilot.press("escape")
        await wait_for(pilot, lambda: type(app.screen).__name__ == "MemoryScreen")


def palette_top(app) -> str:
    """The text of the palette's highlighted command, or "" while it is still searching."""
    from textual.command import CommandList

    if type(app.screen).__name__ != "CommandPalette":
        return ""
    commands = app.screen.query_one(CommandList)
    if not commands.option_count:
        return ""
    prompt = commands.get_option_at_index(commands.highlighted or 0).prompt
    return getattr(prompt, "plain", str(prompt))


async def test_command_palette_runs_actions():
    app = make_app()
    async with app.run_test(size=(100, 30)) as pilot:
        await wait_for(pilot, lambda: app.main_model is not None)
        await pilot.press("ctrl+p")
        await wait_for(pilot, lambda: type(app.screen).__name__ == "CommandPalette")
        await pilot.press(*"go to compare")
        await wait_for(pilot, lambda: "Go to Compare" in palette_top(app))
        await pilot.press("enter")
        await wait_for(pilot, lambda: app.current_mode == "compare")
        # "Compare with <catalog model>" straight from the palette
        await pilot.press("ctrl+p")
        await wait_for(pilot, lambda: type(app.screen).__name__ == "CommandPalette")
        await pilot.press(*"compare with qwen3-1.7b")
        await wait_for(pilot, lambda: "Compare with Qwen/Qwen3-1.7B" in palette_top(app))
        await pilot.press("enter")
        await wait_for(pilot, lambda: len(app.compare_models) == 2)
        assert app.compare_models[1].model_id == "Qwen/Qwen3-1.7B"


async def test_palette_provider_lists_every_action():
    from lmscope.tui.commands import static_commands

    app = make_app()
    async with app.run_test(size=(100, 30)) as pilot:
        await wait_for(pilot, lambda: app.main_model is not None)
        names = [name for name, _cb, _help in static_commands(app)]
        for wanted in ("Open model…", "Compare with…", "Export view as JSON", "Export view as Markdown", "Help: keys"):
            assert wanted in names
        from lmscope.tui.bindings import SCREENS

        assert sum(n.startswith("Go to ") for n in names) == len(SCREENS) == 6


async def test_compare_add_with_picker_and_keys():
    app = make_app()
    async with app.run_test(size=(120, 40)) as pilot:
        await wait_for(pilot, lambda: app.main_model is not None)
        await pilot.press("f5")
        await pilot.press("a")
        await wait_for(pilot, lambda: type(app.screen).__name__ == "ModelPicker")
        await pilot.press(*"qwen3-0.6b")
        await pilot.press("enter")
        await wait_for(pilot, lambda: len(app.compare_models) == 2)
        assert app.compare_models[1].model_id == "Qwen/Qwen3-0.6B"
        # the same settings drive both columns; a slider on Compare changes them
        await pilot.press("f5")
        app.screen.query_one("#seq_len").focus()
        await pilot.press("right")
        assert app.settings.seq_len == 8192
        assert all(e.settings.seq_len == 8192 for e in app.screen.current_estimates)


async def test_weights_without_local_files_says_how_to_get_them():
    app = make_app()
    async with app.run_test(size=(120, 40)) as pilot:
        await wait_for(pilot, lambda: app.main_model is not None)
        await pilot.press("f6")
        await pilot.pause(0.1)
        text = screen_text(app)
        assert "No local weights" in text
        assert f"lmscope weights {default_model_id()} --download" in text


async def test_weights_stream_from_a_local_checkpoint(tmp_path):
    """A tiny real safetensors checkpoint: rows stream in, progress reaches N/N, spectrum plotted."""
    import numpy as np
    from safetensors.numpy import save_file

    folder = tmp_path / "tiny"
    folder.mkdir()
    config = {
        "architectures": ["LlamaForCausalLM"], "model_type": "llama", "hidden_size": 32, "intermediate_size": 64,
        "num_attention_heads": 4, "num_key_value_heads": 2, "num_hidden_layers": 1, "vocab_size": 100,
        "max_position_embeddings": 256, "torch_dtype": "float32", "tie_word_embeddings": True,
    }
    (folder / "config.json").write_text(json.dumps(config))
    rng = np.random.default_rng(0)
    tensors = {
        "model.embed_tokens.weight": rng.standard_normal((100, 32)).astype(np.float32),
        "model.layers.0.self_attn.q_proj.weight": rng.standard_normal((32, 32)).astype(np.float32),
        "model.layers.0.mlp.up_proj.weight": rng.standard_normal((64, 32)).astype(np.float32),
        "model.norm.weight": np.ones(32, dtype=np.float32),
    }
    save_file(tensors, str(folder / "model.safetensors"))

    app = make_app(str(folder))
    async with app.run_test(size=(120, 40), notifications=True) as pilot:
        await wait_for(pilot, lambda: app.main_model is not None)
        await pilot.press("f6")
        screen = app.screen
        assert "weight file" in screen_text(app)
        await pilot.press("r")
        await wait_for(pilot, lambda: not screen.running and screen.results, timeout=60)
        assert len(screen.results) == len(tensors)
        assert screen.query_one("#weights-table").row_count == len(tensors)
        assert f"{len(tensors)}/{len(tensors)} tensors" in screen_text(app)
        by_name = {t.name: t for t in screen.results}
        q = by_name["model.layers.0.self_attn.q_proj.weight"]
        assert q.spectra and abs(q.spectra[0].spectral_norm - float(np.linalg.svd(tensors[q.name].astype(np.float64), compute_uv=False)[0])) < 1e-6
        assert screen.device is not None
        data = json.loads(screen.export_text("json"))
        assert len(data["tensors"]) == len(tensors)


async def test_weights_cancel_key_sets_the_engine_flag(tmp_path):
    """Esc cancels the run's worker; its cancelled_event is the flag the engine polls."""
    from textual.worker import get_current_worker

    def blocked() -> None:  # a run that only ends when told to
        get_current_worker().cancelled_event.wait(30)

    app = make_app()
    async with app.run_test(size=(120, 40)) as pilot:
        await wait_for(pilot, lambda: app.main_model is not None)
        await pilot.press("f6")
        screen = app.screen
        screen.running = True
        screen._worker = worker = screen.run_worker(blocked, thread=True)
        await pilot.press("escape")
        assert worker.is_cancelled and worker.cancelled_event.is_set()


async def test_settings_kv_dtype_and_training_mode_follow_core():
    app = make_app()
    async with app.run_test(size=(120, 40)) as pilot:
        await wait_for(pilot, lambda: app.main_model is not None)
        await pilot.press("f4")
        screen = app.screen
        screen.query_one("#kv_dtype").focus()
        await pilot.press("end")  # the last KV dtype
        from lmscope.core.results import DTYPES

        assert app.settings.kv_dtype == DTYPES[-1]
        await pilot.press("t")
        assert app.settings.mode == "training"
        expected = oracle_estimate(default_model_id(), Settings(kv_dtype=DTYPES[-1], mode="training"))
        assert screen.current_estimate.memory == expected.memory
        assert "training total" in screen_text(app)


async def test_exact_answer_updates_marker_and_tables():
    """When the exact engine disagrees, the marker says so, a warning is shown, the tables follow it."""
    from lmscope.tui.messages import ExactCountReady

    app = make_app()
    async with app.run_test(size=(120, 40), notifications=True) as pilot:
        await wait_for(pilot, lambda: app.main_model is not None)
        await pilot.press("f4")
        model = app.main_model
        app.slots[0] = replace(model, exact_state="pending")
        assert app.main_model.marker == "analytic · exact…"
        differing = replace(model.analytic, total=model.analytic.total + 1, method="exact")
        app.post_message(ExactCountReady(model.model_id, differing))
        await wait_for(pilot, lambda: app.main_model.exact_state == "exact")
        assert app.main_model.marker == "exact (corrected)"
        await wait_for(pilot, lambda: any(n.severity == "warning" and "exact" in n.title for n in app._notifications))
        assert app.screen.current_estimate.parameters.total == model.analytic.total + 1
        # an exact engine that cannot run leaves "analytic" and says why on the summary
        app.slots[0] = replace(model, exact_state="pending")
        app.post_message(ExactCountReady(model.model_id, None, "transformers does not know this class"))
        await wait_for(pilot, lambda: app.main_model.exact_state == "unavailable")
        assert app.main_model.marker == "analytic"
        await pilot.press("f3")
        assert "transformers does not know this class" in screen_text(app)


def _tiny_onnx(path) -> None:
    """An ONNX file with no config beside it: its Report has no estimate."""
    import numpy as np
    import onnx
    from onnx import TensorProto, helper, numpy_helper

    weight = numpy_helper.from_array(np.ones((4, 4), dtype=np.float32), "W")
    x = helper.make_tensor_value_info("x", TensorProto.FLOAT, ["batch", 4])
    y = helper.make_tensor_value_info("y", TensorProto.FLOAT, ["batch", 4])
    graph = helper.make_graph([helper.make_node("MatMul", ["x", "W"], ["y"])], "g", [x], [y], [weight])
    onnx.save(helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)]), str(path))


def _tiny_llama_folder(folder):
    import numpy as np
    from safetensors.numpy import save_file

    folder.mkdir()
    config = {
        "architectures": ["LlamaForCausalLM"], "model_type": "llama", "hidden_size": 32, "intermediate_size": 64,
        "num_attention_heads": 4, "num_key_value_heads": 2, "num_hidden_layers": 1, "vocab_size": 100,
        "max_position_embeddings": 256, "torch_dtype": "float32", "tie_word_embeddings": True,
    }
    (folder / "config.json").write_text(json.dumps(config))
    save_file({"model.layers.0.mlp.up_proj.weight": np.ones((64, 32), dtype=np.float32)}, str(folder / "model.safetensors"))
    return folder


async def test_weights_of_a_config_path_finds_the_checkpoint_beside_it(tmp_path):
    """`lmscope path/config.json`: the weights engine reads that folder, so the screen must offer it."""
    folder = _tiny_llama_folder(tmp_path / "tiny")
    app = make_app(str(folder / "config.json"))
    async with app.run_test(size=(80, 24)) as pilot:
        await wait_for(pilot, lambda: app.main_model is not None)
        assert app.main_model.report.source.kind == "config"
        await pilot.press("f6")
        await pilot.pause(0.1)
        text = screen_text(app)
        assert "No local weights" not in text and "1 weight file(s)" in text
        await pilot.press("r")
        await wait_for(pilot, lambda: not app.screen.running and app.screen.results, timeout=60)
        assert [t.name for t in app.screen.results] == ["model.layers.0.mlp.up_proj.weight"]


async def test_weights_hint_for_local_sources_is_not_a_hub_download(tmp_path):
    """An ONNX file or a folder without weights is not a Hub id: no `--download` advice naming it."""
    onnx_path = tmp_path / "model.onnx"
    _tiny_onnx(onnx_path)
    folder = _tiny_llama_folder(tmp_path / "bare")
    (folder / "model.safetensors").unlink()
    for spec, expected in ((str(onnx_path), "not ONNX"), (str(folder), "holds no .safetensors")):
        app = make_app(spec)
        async with app.run_test(size=(80, 24)) as pilot:
            await wait_for(pilot, lambda: app.main_model is not None)  # noqa: B023 - awaited in this iteration
            for key in ("f3", "f4", "f5", "f6"):  # no screen crashes without an estimate
                await pilot.press(key)
                await pilot.pause(0.05)
            text = screen_text(app)
            assert "No local weights" in text and expected in text, text
            assert "--download" not in text and "opened from the local" not in text
            await pilot.press("r")
            await pilot.pause(0.1)
            assert app.is_running and not app.screen.running


async def test_compare_model_without_architecture_is_not_added_and_takes_no_slot(tmp_path):
    """An ONNX file without config cannot be a column: it is refused with a notice, and 4 real models still fit."""
    onnx_path = tmp_path / "model.onnx"
    _tiny_onnx(onnx_path)
    app = make_app(default_model_id(), str(onnx_path))
    async with app.run_test(size=(80, 24), notifications=True) as pilot:
        await wait_for(pilot, lambda: app.main_model is not None and not app.pending)
        await wait_for(pilot, lambda: any("cannot be compared" in n.message for n in app._notifications))
        assert len(app.slots) == 1 and len(app.compare_models) == 1
        assert any("cannot be compared" in n.message for n in app._notifications)
        for spec in ("Qwen/Qwen3-0.6B", "openai-community/gpt2", "google-bert/bert-base-uncased"):
            app.add_compare(spec)
            await wait_for(pilot, lambda: not app.pending)
        assert len(app.compare_models) == 4
        for _ in range(3):
            await pilot.press("f5", "x")
            await pilot.pause(0.05)
        assert len(app.compare_models) == 1 and app.is_running


async def test_onnx_main_model_leaves_four_compare_columns(tmp_path):
    onnx_path = tmp_path / "model.onnx"
    _tiny_onnx(onnx_path)
    app = make_app(str(onnx_path))
    async with app.run_test(size=(80, 24)) as pilot:
        await wait_for(pilot, lambda: app.main_model is not None)
        for spec in ("Qwen/Qwen3-0.6B", "openai-community/gpt2", "google-bert/bert-base-uncased", SECOND_MODEL):
            app.add_compare(spec)
            await wait_for(pilot, lambda: not app.pending)
        assert len(app.compare_models) == 4


async def test_navbar_keeps_the_marker_at_80_columns():
    """The engine marker is never dropped: the id shortens to its name (and then an ellipsis) first."""
    from lmscope.tui.widgets.navbar import NavBar

    app = make_app("Qwen/Qwen3-0.6B")
    async with app.run_test(size=(80, 24)) as pilot:
        await wait_for(pilot, lambda: app.main_model is not None)
        await pilot.pause(0.05)
        line = str(app.screen.query_one(NavBar).render()).rstrip()
        assert line.endswith("Qwen3-0.6B [analytic]") and "…" not in line, line
        assert len(line) <= 80


async def test_token_typed_as_a_model_is_masked_on_screen():
    token = "hf_" + "K" * 34
    app = make_app(f"{token}/model")
    async with app.run_test(size=(80, 24), notifications=True) as pilot:
        await wait_for(pilot, lambda: bool(app.failures))
        await pilot.pause(0.05)
        shown = screen_text(app) + " ".join(f"{n.title} {n.message}" for n in app._notifications)
        assert token not in shown and "hf_***" in shown


async def test_weights_run_is_not_labelled_with_a_model_opened_during_it(tmp_path, monkeypatch):
    """Analyse A, open B while it runs: the status names A while running, and A's results never appear as B's."""
    import threading

    from lmscope.tui import loader

    first = _tiny_llama_folder(tmp_path / "first-model")
    second = _tiny_llama_folder(tmp_path / "second-model")
    gate = threading.Event()
    real = loader.weights_events

    def gated(model, cancel, **kw):
        gate.wait(30)
        yield from real(model, cancel, **kw)

    monkeypatch.setattr(loader, "weights_events", gated)
    app = make_app(str(first))
    async with app.run_test(size=(80, 24)) as pilot:
        await wait_for(pilot, lambda: app.main_model is not None)
        await pilot.press("f6", "r")
        screen = app.screen
        assert screen.running
        app.open_model(str(second), slot=0)
        await wait_for(pilot, lambda: app.main_model.model_id == "second-model")
        await pilot.press("f6")
        assert "Analysing first-model" in screen_text(app)
        gate.set()
        await wait_for(pilot, lambda: not screen.running, timeout=60)
        await pilot.pause(0.05)
        text = screen_text(app)
        assert "for second-model" in text and "Done:" not in text, text
        assert not screen.results


def exact_integers_of(est) -> list[int]:
    """Every integer the Memory screen shows in its "exact" column, read from the core's Estimate."""
    mem, flops, params = est.memory, est.flops, est.parameters
    values = [
        mem.weights_bytes_selected, mem.kv_cache_bytes, mem.kv_cache_bytes_per_token, *mem.kv_per_layer_kind.values(),
        mem.activation_bytes, mem.inference_total_bytes, mem.training_total_bytes,
        flops.prefill_total, flops.prefill_linear, flops.prefill_attention, flops.prefill_attention_causal,
        flops.decode_per_token, flops.training_step,
        params.total, params.active_per_token, params.embedding, params.matmul_per_token, *params.by_component.values(),
    ]  # fmt: skip
    if mem.state_bytes:
        values.append(mem.state_bytes)
    if est.settings.mode == "training":
        values.extend(mem.training_breakdown.values())
    return values


def rendered_lines(widget) -> list[str]:
    """The widget's content as laid out on screen (its real width), every line, scrolled into view or not."""
    from textual.geometry import Region

    width, height = widget.size
    return [strip.text for strip in widget.render_lines(Region(0, 0, width, height))]


@pytest.mark.parametrize("size", [(80, 24), (120, 40)])
@pytest.mark.parametrize(
    "model, keys",
    [
        (None, ("right", "right")),  # 16k tokens: the training step is 25 characters
        (None, ("t", "end", "tab", "end")),  # training, longest sequence, largest batch: the widest numbers
        ("Qwen/Qwen3-Next-80B-A3B-Thinking", ("t", "end", "tab", "end")),  # hybrid: state and per-kind KV rows
    ],
)
async def test_memory_screen_shows_every_exact_integer_in_full(size, model, keys):
    """No exact integer is cut off (no ``…``, every digit on one line) at either terminal size."""
    from textual.widgets import Static

    from lmscope.core.units import exact_count

    app = make_app(*([model] if model else []))
    async with app.run_test(size=size) as pilot:
        await wait_for(pilot, lambda: app.main_model is not None)
        await pilot.press("f4")
        await wait_for(pilot, lambda: app.current_mode == "memory")
        await pilot.press(*keys)
        await pilot.pause(0.1)
        screen = app.screen
        expected = oracle_estimate(app.main_model.model_id, app.settings)
        assert screen.current_estimate.memory == expected.memory
        lines = [line for sid in ("#memory-memory", "#memory-flops", "#memory-params") for line in rendered_lines(screen.query_one(sid, Static))]
        missing = [exact_count(n) for n in exact_integers_of(expected) if not any(exact_count(n) in line for line in lines)]
        assert not missing, f"cut off or absent at {size}: {missing}\n" + "\n".join(lines)
        assert not [line for line in lines if "…" in line]


async def test_export_report_folder_with_the_views_pictures(tmp_path):
    """ctrl+s on Memory → "Report folder" → report.md + the memory/parameters/FLOPs charts; Summary → the diagram."""
    import re

    app = make_app()
    async with app.run_test(size=(120, 40), notifications=True) as pilot:
        await wait_for(pilot, lambda: app.main_model is not None)
        for key, folder, expected in (("f4", "mem", {"memory.png", "parameters.png", "flops.png"}), ("f3", "sum", {"architecture_detailed.png"})):
            await pilot.press(key)
            await pilot.press("ctrl+s")
            await wait_for(pilot, lambda: type(app.screen).__name__ == "ExportScreen")
            assert app.screen.query("#fmt-folder"), "the dialog offers a report folder"
            app.screen.action_format("folder")
            path_input = app.screen.query_one("#export-path")
            assert not path_input.value.endswith((".json", ".md"))
            path_input.value = str(tmp_path / folder)
            await pilot.press("ctrl+s")
            await wait_for(pilot, lambda: type(app.screen).__name__ != "ExportScreen", timeout=120)
            report = (tmp_path / folder / "report.md").read_text()
            links = set(re.findall(r"\]\(([^)]+)\)", report))
            assert expected <= links, links
            assert all((tmp_path / folder / link).is_file() for link in links)
            assert default_model_id() in report
