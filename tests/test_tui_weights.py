"""Pilot tests of the Weights tab on a tiny real safetensors checkpoint.

The checkpoint is written in ``tmp_path`` with ``safetensors.numpy`` (a tiny
BERT config plus random matrices and vectors); the app opens it, F6, r, and
the tests wait for the worker. The oracle for the plotted spectrum is
``numpy.linalg.svd(W, compute_uv=False)`` of the very array that was saved.
"""

from __future__ import annotations

import json

import numpy as np
import pytest
from conftest import make_app, wait_workers
from conftest import wait_for as _wait_for

from lmscope.tui.screens.weights import COLUMNS, middle_ellipsis, short_name

pytestmark = pytest.mark.usefixtures("offline_env")


BERT_CONFIG = {
    "architectures": ["BertModel"], "model_type": "bert", "hidden_size": 32, "intermediate_size": 64,
    "num_attention_heads": 4, "num_hidden_layers": 1, "vocab_size": 120, "max_position_embeddings": 64,
    "type_vocab_size": 2, "layer_norm_eps": 1e-12, "hidden_act": "gelu", "torch_dtype": "float32",
}


@pytest.fixture()
def tiny_bert(tmp_path):
    """A one-layer BERT checkpoint: the names sort so that vectors come before the first matrix."""
    from safetensors.numpy import save_file

    rng = np.random.default_rng(7)
    # Heavy-ish tails and distinct scales so every matrix has its own spectrum.
    tensors = {
        "embeddings.LayerNorm.bias": rng.standard_normal(32).astype(np.float32) * 0.1,
        "embeddings.LayerNorm.weight": 1 + 0.05 * rng.standard_normal(32).astype(np.float32),
        "embeddings.position_embeddings.weight": rng.standard_normal((64, 32)).astype(np.float32) * 0.02,
        "embeddings.word_embeddings.weight": rng.standard_t(3, (120, 32)).astype(np.float32) * 0.05,
        "encoder.layer.0.attention.self.query.bias": np.zeros(32, dtype=np.float32),
        "encoder.layer.0.attention.self.query.weight": (rng.standard_normal((32, 8)) @ rng.standard_normal((8, 32))).astype(np.float32),
        "encoder.layer.0.intermediate.dense.weight": rng.standard_normal((64, 32)).astype(np.float32),
        "encoder.layer.0.output.dense.weight": rng.standard_t(4, (32, 64)).astype(np.float32),
    }
    folder = tmp_path / "tiny-bert"
    folder.mkdir()
    (folder / "config.json").write_text(json.dumps(BERT_CONFIG))
    save_file(tensors, str(folder / "model.safetensors"))
    return folder, tensors


async def wait_for(pilot, predicate, timeout: float = 60.0) -> None:
    """The shared wait, with the longer timeout an SVD run on a loaded machine needs."""
    await _wait_for(pilot, predicate, timeout)


def oracle_sv(matrix: np.ndarray) -> np.ndarray:
    return np.linalg.svd(matrix.astype(np.float64), compute_uv=False)


def assert_same_spectrum(shown, matrix: np.ndarray) -> None:
    expected = oracle_sv(matrix)
    got = np.asarray(shown, dtype=np.float64)
    assert got.shape == expected.shape
    np.testing.assert_allclose(got, expected, rtol=1e-6, atol=1e-9 * expected[0])


@pytest.fixture()
def stuck_engine(monkeypatch):
    """The weights engine with chosen tensors stuck in an uninterruptible call (a LAPACK SVD, simulated).

    ``stick(*nth)`` blocks the nth tensors analysed (counting across runs, from 1) until ``release``
    is set, and returns ``(started, release)``: the names of the tensors started, in order, and the
    event. Teardown releases whatever is still stuck.
    """
    import threading

    from lmscope.core.weights import engine

    started: list[str] = []
    release = threading.Event()
    stuck_at: set[int] = set()
    real = engine.analyze_tensor

    def slow_tensor(t, device, opts):
        started.append(t.name)
        if len(started) in stuck_at:
            release.wait(30)
        return real(t, device, opts)

    monkeypatch.setattr(engine, "analyze_tensor", slow_tensor)
    monkeypatch.setattr(engine, "TENSOR_THREADS", 1)  # one tensor at a time: the counts in the tests are exact

    def stick(*nth: int) -> tuple[list[str], threading.Event]:
        stuck_at.update(nth)
        return started, release

    yield stick
    release.set()


def join_abandoned_engines() -> None:
    """Wait for the engines' daemon threads (each finishes the tensor it is in, then stops)."""
    import threading

    for thread in threading.enumerate():
        if thread.name == "lmscope-weights":
            thread.join(10)


async def open_weights(pilot, app):
    """The Weights screen once the model is open."""
    await wait_for(pilot, lambda: app.main_model is not None)
    await pilot.press("f6")
    await pilot.pause(0.1)
    return app.screen


async def run_analysis(pilot, app):
    screen = await open_weights(pilot, app)
    await pilot.press("r")
    await wait_for(pilot, lambda: not screen.running and screen.results)
    await wait_workers(pilot)  # the run's worker finished and its last messages are handled
    return screen


async def test_first_matrix_is_selected_focused_and_plotted(tiny_bert):
    from textual.widgets import DataTable

    from lmscope.tui.widgets.spectrum import SpectrumPanel

    folder, tensors = tiny_bert
    app = make_app(str(folder))
    async with app.run_test(size=(120, 40)) as pilot:
        screen = await run_analysis(pilot, app)
        table = screen.query_one("#weights-table", DataTable)
        assert len(screen.results) == len(tensors)
        assert table.row_count == len(tensors)
        assert app.focused is table

        first_matrix = next(i for i, t in enumerate(screen.results) if len(t.shape) == 2)
        assert first_matrix > 0  # vectors come first: the cursor had to move past them
        # the selection lands after the table's last refill has been laid out: wait for it (a
        # fixed pause failed under load), bounded by wait_for's timeout
        await wait_for(pilot, lambda: table.cursor_row == first_matrix)
        assert screen.selected == first_matrix
        name = screen.results[first_matrix].name
        panel = screen.query_one(SpectrumPanel)
        assert panel.name_shown == short_name(name)
        assert_same_spectrum(panel.values, tensors[name])
        # the plot draws the series of core.charts.tensor_spectrum (the PNG/SVG renderer's too)
        from lmscope.core.charts import tensor_spectrum
        from lmscope.tui.widgets.spectrum import SpectrumPlot

        chart = panel.query_one(SpectrumPlot).chart
        assert chart == tensor_spectrum(short_name(name), screen.results[first_matrix].spectra[0])
        np.testing.assert_allclose(chart.series[0].ys, np.log10(oracle_sv(tensors[name])), rtol=1e-6, atol=1e-9)
        detail = str(screen.query_one("#weights-detail").content)
        assert name in detail  # the full name, not the shortened one
        assert "numerical rank" in detail and "cond" in detail and "‖W‖₂" in detail

        # Moving the cursor redraws the plot with the next tensor's spectrum.
        await pilot.press("down")
        await pilot.pause(0.1)
        nxt = screen.results[first_matrix + 1]
        assert table.cursor_row == first_matrix + 1 == screen.selected
        if len(nxt.shape) == 2:
            assert_same_spectrum(panel.values, tensors[nxt.name])
        # Every matrix, visited with the keys, is plotted with its own singular values.
        await pilot.press("ctrl+home")
        for i, t in enumerate(screen.results):
            await pilot.pause(0.02)
            assert screen.selected == i
            if len(t.shape) == 2:
                assert_same_spectrum(panel.values, tensors[t.name])
                assert panel.query_one("#spectrum-plot").display
            else:
                assert panel.values == ()
                assert "not a matrix" in panel.message
                assert not panel.query_one("#spectrum-plot").display
            await pilot.press("down")


async def test_vector_selected_says_not_a_matrix_in_words(tiny_bert):
    from lmscope.tui.widgets.spectrum import SpectrumPanel

    folder, _ = tiny_bert
    app = make_app(str(folder))
    async with app.run_test(size=(120, 40)) as pilot:
        screen = await run_analysis(pilot, app)
        await pilot.press("ctrl+home")
        await pilot.pause(0.1)
        t = screen.results[0]
        assert len(t.shape) == 1
        panel = screen.query_one(SpectrumPanel)
        assert panel.values == ()
        assert "not a matrix" in panel.message and short_name(t.name) in panel.message
        assert "not a matrix" in str(screen.query_one("#weights-detail").content)


@pytest.mark.parametrize("size", [(100, 30), (120, 40)])
async def test_spectral_columns_visible_at_size(tiny_bert, size):
    """stable rank / rank90 / α / std fit inside the table's visible width (no horizontal scrolling)."""
    from textual.widgets import DataTable

    folder, tensors = tiny_bert
    app = make_app(str(folder))
    async with app.run_test(size=size) as pilot:
        screen = await run_analysis(pilot, app)
        table = screen.query_one("#weights-table", DataTable)
        assert table.row_count == len(tensors)
        visible = table.scrollable_content_region.width
        right_edge = 0
        for key in COLUMNS:
            right_edge += table.columns[key].get_render_width(table)
            if key == "std":
                break
        assert right_edge <= visible, (right_edge, visible)
        assert table.scroll_x == 0
        # The plot panel is on screen too.
        assert screen.query_one("#weights-side").region.width >= 30


async def test_progress_and_cancel_still_work(tiny_bert):
    folder, tensors = tiny_bert
    app = make_app(str(folder))
    async with app.run_test(size=(100, 30), notifications=True) as pilot:
        screen = await run_analysis(pilot, app)
        text = str(screen.query_one("#weights-progress-text").content)
        assert f"{len(tensors)}/{len(tensors)} tensors" in text
        assert screen.query_one("#weights-progress").percentage == 1.0
        # Mid-run events show tensor i/N, bytes and the ETA (fed directly: a real run is too fast to catch).
        from lmscope.core.weights.records import WeightsEvent as EngineEvent
        from lmscope.tui.messages import WeightsProgress

        screen.on_weights_progress(WeightsProgress(screen._run_id, EngineEvent(2, 5, 2048, 8192, 1.0, 3.0)))
        await pilot.pause()
        text = str(screen.query_one("#weights-progress-text").content)
        assert "2/5 tensors" in text and "ETA\u00a03\u00a0s" in text
        assert screen.query_one("#weights-progress").percentage == pytest.approx(0.4)
        screen.running = True  # as if the run were still going: Esc cancels the run's worker
        worker = screen._worker
        assert worker is not None and not worker.cancelled_event.is_set()
        await pilot.press("escape")
        assert worker.is_cancelled and worker.cancelled_event.is_set()


async def test_a_stale_highlight_does_not_move_the_selection(tiny_bert):
    """A RowHighlighted that reaches the screen after the cursor has moved on (rows stream in faster than
    the table's messages bubble up, under load) is ignored: it once selected the vectors' first row, and
    the next rebuild put the cursor back there (the first-matrix test then timed out)."""
    from textual.widgets import DataTable

    folder, _tensors = tiny_bert
    app = make_app(str(folder))
    async with app.run_test(size=(120, 40)) as pilot:
        screen = await run_analysis(pilot, app)
        table = screen.query_one("#weights-table", DataTable)
        first_matrix = next(i for i, t in enumerate(screen.results) if len(t.shape) == 2)
        await wait_for(pilot, lambda: table.cursor_row == first_matrix)
        stale = DataTable.RowHighlighted(table, 0, table.coordinate_to_cell_key((0, 0)).row_key)
        screen.on_data_table_row_highlighted(stale)  # the highlight of row 0, from when it was added
        assert screen.selected == first_matrix
        screen._rebuild()
        assert table.cursor_row == first_matrix and screen.selected == first_matrix


def test_short_names():
    assert short_name("model.layers.12.self_attn.q_proj.weight") == "L12.attn.q_proj"
    assert short_name("encoder.layer.0.attention.self.query.bias") == "enc.L0.attn.query.bias"
    assert short_name("embeddings.word_embeddings.weight") == "emb.word_emb"
    assert short_name("lm_head.weight") == "lm_head"
    long = short_name("model.layers.0.some_really_long_module_name.another_long_part.weight")
    assert len(long) == 24 and "…" in long and long.startswith("L0.")
    assert middle_ellipsis("abcdefghij", 5) == "ab…ij"
    assert middle_ellipsis("abc", 5) == "abc"


async def test_escape_and_quit_do_not_wait_for_a_busy_engine(tiny_bert, stuck_engine):
    """Esc during a tensor stuck in an uninterruptible call (a LAPACK SVD, simulated by a blocked
    tensor) ends the run in the UI at once; quitting during a second such run does not wait for
    the call either; once the calls return, neither engine starts another tensor."""
    folder, tensors = tiny_bert
    started, release = stuck_engine(3, 6)  # the third tensor of the first run, and of the second
    app = make_app(str(folder))
    try:
        async with app.run_test(size=(100, 30), notifications=True) as pilot:
            screen = await open_weights(pilot, app)
            await pilot.press("ctrl+r")  # a fresh run
            await wait_for(pilot, lambda: len(started) == 3 and len(screen.results) == 2, timeout=30)
            await pilot.press("escape")
            await wait_for(pilot, lambda: not screen.running, timeout=5)
            assert not release.is_set()  # the run ended in the UI while the engine was still busy
            await pilot.press("ctrl+r")  # start again from scratch, the old engine still busy
            await wait_for(pilot, lambda: len(started) == 6, timeout=30)
            assert screen.running
            app.exit()  # what ctrl+q does
        assert not release.is_set()  # the app closed: nothing waited for the blocked calls
        # ...and the engine was told to stop as the app closed, before the blocked call returns
        # (not a poll later: under load that let the engine start a 7th tensor): the engine's flag is the
        # run's worker's own cancelled_event, which Textual sets when it cancels the screen's workers
        assert screen._worker is not None and screen._worker.cancelled_event.is_set()
    finally:
        release.set()
    join_abandoned_engines()
    assert len(started) == 6  # neither engine went on to another tensor


async def test_markdown_export_has_every_column(tiny_bert):
    from lmscope.core.weights.report import CSV_COLUMNS

    folder, tensors = tiny_bert
    app = make_app(str(folder))
    async with app.run_test(size=(100, 30)) as pilot:
        screen = await run_analysis(pilot, app)
        md = screen.export_text("markdown")
        assert "| " + " | ".join(CSV_COLUMNS) + " |" in md
        assert all(name in md for name in tensors)
        assert "## By module kind" in md


async def _table_names(screen) -> list[str]:
    from textual.widgets import DataTable

    table = screen.query_one("#weights-table", DataTable)
    return [str(table.get_row_at(r)[0]) for r in range(table.row_count)]


async def test_sort_filter_and_kind_summary_with_the_keys(tiny_bert):
    """s / S sort by the metrics (order from core.weights.table, checked against the records), k and /
    filter, t shows the per-kind summary and Enter on a kind filters the tensors by it."""
    from textual.widgets import DataTable

    from lmscope.core.weights.report import kind_table_rows

    folder, tensors = tiny_bert
    app = make_app(str(folder))
    async with app.run_test(size=(120, 40)) as pilot:
        screen = await run_analysis(pilot, app)
        table = screen.query_one("#weights-table", DataTable)
        results = screen.results
        # s cycles: as analysed -> layer -> kind -> name -> stable rank (largest first)
        for _ in range(4):
            await pilot.press("s")
        await pilot.pause(0.1)
        assert screen.sort == "stable_rank" and screen.descending
        stable = {t.name: t.spectra[0].stable_rank for t in results if t.spectra}
        expected = sorted(stable, key=lambda n: -stable[n]) + [t.name for t in results if not t.spectra]
        assert [results[i].name for i in screen.view] == expected
        assert [str(c.label) for c in table.columns.values()][:2] == ["tensor", "stable rank"]
        await pilot.press("S")
        await pilot.pause(0.1)
        assert [results[i].name for i in screen.view][: len(stable)] == sorted(stable, key=lambda n: stable[n])
        assert "sort stable rank" in str(screen.query_one("#weights-view").content)
        # a metric that is not a column of its own gets one, right after the name
        while screen.sort != "condition_number":
            await pilot.press("s")
        await pilot.pause(0.1)
        assert [str(c.label) for c in table.columns.values()][1] == "condition number"
        # k: one kind at a time
        await pilot.press("k")
        await pilot.pause(0.1)
        first_kind = screen.kind
        assert first_kind is not None
        assert {results[i].kind for i in screen.view} == {first_kind} and table.row_count == len(screen.view)
        # / with an expression (and a bad one, refused in one line)
        await pilot.press("slash")
        await pilot.pause(0.1)
        box = screen.query_one("#weights-filter")
        assert box.display and app.focused is box
        box.value = "layer:0 std>0.5"
        await pilot.press("enter")
        await pilot.pause(0.1)
        want = {t.name for t in results if t.layer == 0 and t.std > 0.5}
        assert {results[i].name for i in screen.view} == want and want
        assert not box.display and app.focused is table and screen.kind is None
        await pilot.press("slash")
        box.value = "alpha>>2"
        await pilot.press("enter")
        await pilot.pause(0.1)
        assert screen.filter_text == "layer:0 std>0.5"  # unchanged
        await pilot.press("escape")  # closes the box, does not cancel anything
        await pilot.pause(0.1)
        assert not box.display
        # t: the per-kind summary, the CLI's numbers
        await pilot.press("t")
        await pilot.pause(0.1)
        cli_rows = {row[0]: row for row in kind_table_rows(screen.summary)}
        shown = {str(table.get_row_at(r)[0]): [str(c) for c in table.get_row_at(r)] for r in range(table.row_count)}
        assert set(shown) == set(cli_rows)
        labels = [str(c.label) for c in table.columns.values()]
        from lmscope.core.weights.report import KIND_HEADERS

        for kind, cells in shown.items():
            for label, cell in zip(labels, cells):
                assert cell == cli_rows[kind][KIND_HEADERS.index(label)]
        row = list(shown).index("mlp_up") if "mlp_up" in shown else 0
        table.move_cursor(row=row)
        await pilot.press("enter")
        await pilot.pause(0.1)
        chosen = list(shown)[row]
        assert not screen.by_kind and screen.kind == chosen
        assert screen.view and {results[i].kind for i in screen.view} == {chosen}


async def test_cancel_is_listed_in_help_only_while_running(tiny_bert):
    from lmscope.tui.screens.help import help_rows

    folder, _ = tiny_bert
    app = make_app(str(folder))
    async with app.run_test(size=(100, 30)) as pilot:
        screen = await run_analysis(pilot, app)

        def described() -> set[str]:
            return {d for _k, d, _w in help_rows(app.active_bindings)}

        assert "Cancel" not in described() and "Sort by the next column" in described()
        screen.running = True
        screen.refresh_bindings()
        await pilot.pause()
        assert "Cancel" in described()


async def test_progress_line_is_whole_at_80_columns(tiny_bert):
    from lmscope.core.weights.records import WeightsEvent as EngineEvent
    from lmscope.tui.messages import WeightsProgress
    from lmscope.tui.screens.weights import progress_text

    folder, _ = tiny_bert
    app = make_app(str(folder))
    async with app.run_test(size=(80, 24)) as pilot:
        screen = await run_analysis(pilot, app)
        # a long run of a big checkpoint: 5-digit counts, mixed units, a long ETA
        big = EngineEvent(12345, 47123, 1023 * 2**20, 1300 * 2**30, 4000.0, 98765.0)
        screen.on_weights_progress(WeightsProgress(screen._run_id, big))
        await pilot.pause(0.1)
        widget = screen.query_one("#weights-progress-text")
        text = progress_text(big)
        assert "12345/47123 tensors" in text and "ETA\u00a098,765\u00a0s" in text
        lines = widget.render_lines(widget.region.reset_offset)  # what is drawn, line by line
        drawn = "".join("".join(seg.text for seg in line) for line in lines)
        assert "".join(drawn.split()) == "".join(text.split())  # every character on screen


async def test_resume_after_cancel_keeps_the_tensors_done(tiny_bert, stuck_engine):
    """Esc mid-run, then r: only the tensors not done are analysed, and the table ends complete
    and equal to a fresh run's (every tensor once)."""
    folder, tensors = tiny_bert
    started, release = stuck_engine(4)
    app = make_app(str(folder))
    async with app.run_test(size=(100, 30), notifications=True) as pilot:
        screen = await open_weights(pilot, app)
        await pilot.press("r")
        await wait_for(pilot, lambda: len(started) == 4 and len(screen.results) == 3, timeout=30)
        await pilot.press("escape")
        await wait_for(pilot, lambda: not screen.running, timeout=5)
        assert screen.interrupted and "r resumes" in str(screen.query_one("#weights-status").content)
        done = [t.name for t in screen.results]
        release.set()
        join_abandoned_engines()  # the abandoned engine finished its tensor and stopped
        before = len(started)
        await pilot.press("r")
        await wait_for(pilot, lambda: not screen.running and screen.summary is not None, timeout=30)
        again = started[before:]
        assert not set(again) & set(done)  # nothing done twice
        assert sorted(t.name for t in screen.results) == sorted(tensors)
        assert screen.summary.tensors_done == screen.summary.tensors_total == len(tensors)
        assert not screen.interrupted
        # ctrl+r starts from scratch
        before = len(started)
        await pilot.press("ctrl+r")
        await wait_for(pilot, lambda: not screen.running and screen.summary is not None, timeout=30)
        assert len(started) - before == len(tensors)


async def test_ray_is_offered_only_when_importable(tiny_bert, monkeypatch):
    from lmscope.core.weights import distributed
    from lmscope.tui import loader
    from lmscope.tui.screens.help import help_rows

    folder, _ = tiny_bert
    asked = []
    real = loader.weights_events

    def spy(model, cancel, ray=None, resume=None):
        asked.append(ray)
        return real(model, cancel, ray=None, resume=resume)  # the run itself stays local in this test

    monkeypatch.setattr(loader, "weights_events", spy)
    app = make_app(str(folder))
    async with app.run_test(size=(100, 30)) as pilot:
        screen = await run_analysis(pilot, app)
        monkeypatch.setattr(distributed, "ray_available", lambda: False)
        screen.refresh_bindings()
        screen._update_view_line()
        await pilot.pause()
        assert "pip install 'lmscope[ray]'" in str(screen.query_one("#weights-view").content)
        assert not any("Ray" in d for _k, d, _w in help_rows(app.active_bindings))
        await pilot.press("e")
        assert screen.executor is None  # not offered: the key does nothing
        monkeypatch.setattr(distributed, "ray_available", lambda: True)
        screen.refresh_bindings()
        await pilot.pause()
        assert any("Ray" in d for _k, d, _w in help_rows(app.active_bindings))
        await pilot.press("e")
        await pilot.pause()
        assert screen.executor == "" and "on Ray" in str(screen.query_one("#weights-view").content)
        await pilot.press("ctrl+r")
        await wait_for(pilot, lambda: not screen.running and screen.summary is not None, timeout=30)
        assert asked == [None, ""]


async def test_report_folder_draws_the_selected_spectrum_from_the_same_series(tiny_bert, tmp_path):
    import xml.etree.ElementTree as ET

    from lmscope.core import plots
    from lmscope.core.charts import tensor_spectrum
    from lmscope.tui.widgets.spectrum import SpectrumPlot

    folder, tensors = tiny_bert
    app = make_app(str(folder))
    async with app.run_test(size=(120, 40)) as pilot:
        screen = await run_analysis(pilot, app)
        from textual.widgets import DataTable

        matrix = next(i for i, r in enumerate(screen.results) if r.name.endswith("query.weight"))
        screen.query_one("#weights-table", DataTable).move_cursor(row=screen.view.index(matrix))
        await wait_for(pilot, lambda: screen.selected == matrix)
        t = screen.results[matrix]
        out = tmp_path / "report"
        screen.export_folder(str(out))
        assert (out / "spectrum_selected.png").stat().st_size > 1000
        svg = (out / "spectrum_selected.svg").read_text()
        ET.fromstring(svg)
        assert t.name in svg and "spectrum_selected.png" in (out / "report.md").read_text()
        # the file is the core chart of that tensor drawn by the file renderer, byte for byte
        assert plots.render(tensor_spectrum(t.name, t.spectra[0]))["svg"] == (out / "spectrum_selected.svg").read_bytes()
        shown = screen.query_one(SpectrumPlot).chart
        assert shown.series[0].ys == tensor_spectrum(t.name, t.spectra[0]).series[0].ys
