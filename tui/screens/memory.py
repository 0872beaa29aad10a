"""Memory & FLOPs: the live calculator.

Sliders for sequence length, batch, weight dtype, KV dtype and mode
(inference, training, LoRA, QLoRA), and below them the scenario pickers that
apply to the mode (GPUs and ZeRO stage and optimizer for full training,
recomputation, LoRA rank and targets, flash attention); tables of parameters
by component, memory (weights by component, KV cache, activations, state, the
mode's total) and FLOPs (prefill, decode, training step, arithmetic intensity
with the memory- or compute-bound verdict against the reference H100 balance
point of ``core.phases``); and a chart of memory against sequence length with
common GPU sizes. Every slider
move calls the core ``estimate()`` synchronously (it is pure and < 1 ms) so
the numbers follow the keys with no perceptible delay.
"""

from __future__ import annotations

from dataclasses import replace
from typing import TYPE_CHECKING

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, VerticalScroll
from textual.timer import Timer
from textual.widget import Widget
from textual.widgets import Static

from lmscope.core.units import exact_count, human_bytes, human_count, human_flops, tokens
from lmscope.tui.screens.sliders import SlidersScreen, page_bindings
from lmscope.tui.widgets.number_table import NumberTable
from lmscope.tui.widgets.scenario_bar import ScenarioBar
from lmscope.tui.widgets.settings_bar import SettingsBar, seq_len_choices
from lmscope.tui.widgets.slider import Slider, number

if TYPE_CHECKING:  # pragma: no cover
    from lmscope.core.report import Report
    from lmscope.core.results import Estimate, ParameterBreakdown, Settings
    from lmscope.tui.state import LoadedModel

CHART_DELAY_SECONDS = 0.04
TABLES_MIN_WIDTH = 68  # the tables column beside the chart; it grows when the numbers need more
SCROLLBAR_WIDTH = 2


def number_table(title: str, *, exact_header: str) -> NumberTable:
    """Three columns: what, the human-readable value, the exact integer.

    Only the label column may wrap: when space runs short a label folds onto a
    second line, but a number is never cut (the screen also widens the tables
    column to the tables' natural width, see ``MemoryScreen.fit_tables``).
    The per-dtype caption wraps between whole values (``NumberTable``).
    """
    return NumberTable(title, exact_header)


class MemoryScreen(SlidersScreen):
    """Parameters, memory and FLOPs of the main model under the current settings."""

    MODE = "memory"
    VIEW_NAME = "memory & FLOPs"
    HELP = "Memory and FLOPs of the main model at these settings; t cycles the mode."
    SCENARIO = True
    BINDINGS = [
        Binding("t", "toggle_mode", "Mode", id="memory.mode"),
        Binding("c", "toggle_chart", "Chart", id="memory.chart"),
        Binding("s", "type_seq_len", "Type seq len", show=False, id="memory.type_seq_len"),
        *page_bindings("memory"),
    ]

    def __init__(self) -> None:
        super().__init__()
        self.current_estimate: Estimate | None = None  # the core Estimate the tables show (tests read it)
        self._tables: dict[str, NumberTable] = {}  # what the three Statics show, measured by fit_tables
        self._chart_timer: Timer | None = None  # the deferred chart redraw (a held key coalesces)
        self.chart_pending = False  # a chart redraw is scheduled (``settled``)
        self._chart_key: tuple[str, str, Settings] | None = None  # what the chart's series were computed for
        self._series: list[tuple[int, int]] = []  # (seq len, bytes) of the chart's curve
        # what the parameters table was drawn for (it does not depend on seq len / batch)
        self._params_key: tuple[str, str, ParameterBreakdown, int] | None = None

    def compose_body(self) -> ComposeResult:
        yield from self.compose_bars()
        with Horizontal(id="memory-main"):
            with VerticalScroll(id="memory-tables"):
                yield Static(id="memory-memory")
                yield Static(id="memory-flops")
                yield Static(id="memory-params")
            from lmscope.tui.widgets.memory_chart import MemoryChart

            yield MemoryChart(id="memory-chart")

    def on_resize(self) -> None:
        self.set_class(self.size.width < 110, "narrow")
        self.fit_tables()

    def fit_tables(self) -> None:
        """Beside the chart, make the tables column as wide as the widest table's numbers need.

        Exact integers grow with sequence length and batch (a training step at 16k
        tokens is already 25 characters), so a fixed width cut them off. In the
        narrow layout the tables take the full width (the CSS rule) and labels fold.
        """
        from rich.measure import Measurement

        column = self.query_one("#memory-tables")
        if self.has_class("narrow"):
            column.styles.width = None  # the stylesheet's 100%
            return
        console = self.app.console
        options = console.options.update_width(1000)
        natural = max((Measurement.get(console, options, t).maximum for t in self._tables.values()), default=0)
        column.styles.width = max(TABLES_MIN_WIDTH, natural + SCROLLBAR_WIDTH)

    def action_toggle_mode(self) -> None:
        """The next mode: inference → training → LoRA → QLoRA → inference."""
        from lmscope.tui.widgets.settings_bar import MODES

        bar = self.query_one(SettingsBar)
        mode = MODES[(MODES.index(self.lm.settings.mode) + 1) % len(MODES)]
        bar.query_one("#mode", Slider).select(mode)

    def scroll_target(self) -> Widget:
        """The numbers (wide: the tables column; narrow: tables and chart, one below the other)."""
        return self.query_one("#memory-main" if self.has_class("narrow") else "#memory-tables")

    def action_toggle_chart(self) -> None:
        chart = self.query_one("#memory-chart")
        chart.display = not chart.display

    def refresh_view(self) -> None:
        model = self.lm.main_model
        bar = self.query_one(SettingsBar)
        settings = self.lm.settings
        if model is None or not model.has_architecture:
            self.current_estimate = None
            self.query_one("#memory-memory", Static).update(self.lm.status_text() if model is None else "No architecture for this file: nothing to estimate.")
            self.query_one("#memory-params", Static).update("")
            self.query_one("#memory-flops", Static).update("")
            self._params_key = None
            self._tables = {}
            return
        bar.follow(settings, model)  # another screen's move or a new model
        self.query_one(ScenarioBar).show(settings)
        est = self.lm.estimate(model, settings)
        self.current_estimate = est
        if est is None:
            self.query_one("#memory-memory", Static).update("The engine could not estimate these settings (see the notification).")
            self.query_one("#memory-flops", Static).update("")
            return
        params_key = (model.model_id, model.marker, est.parameters, est.lora_trainable_parameters)
        if self._params_key != params_key:  # parameters do not depend on seq len / batch
            self._params_key = params_key
            self._tables["params"] = params_table(model, est)
            self.query_one("#memory-params", Static).update(self._tables["params"])
        self._tables["memory"] = memory_table(est, model, weights_by_component(model, est))
        caps = model.report.capabilities
        self._tables["flops"] = flops_table(est, generative=caps is None or caps.can_generate)
        self.query_one("#memory-memory", Static).update(self._tables["memory"])
        self.query_one("#memory-flops", Static).update(self._tables["flops"])
        self.fit_tables()
        # The chart (plotext, ~20–40 ms) follows a frame later so the numbers paint at once;
        # a held-down key coalesces into one redraw.
        if self._chart_timer is not None:
            self._chart_timer.stop()
        self.chart_pending = True
        self._chart_timer = self.set_timer(CHART_DELAY_SECONDS, lambda: self._replot(model, est))

    def settled(self) -> bool:
        """False while the deferred chart redraw is scheduled (snapshot tests and screenshots wait for it).

        This hook stays: the chart waits on a timer, not a worker, so a wait for the workers cannot see it.
        """
        return not self.chart_pending

    def _replot(self, model: LoadedModel, est: Estimate) -> None:
        from lmscope.tui.widgets.memory_chart import MemoryChart

        chart = self.query_one(MemoryChart)
        settings = self.lm.settings
        key = (model.model_id, model.exact_state, replace(settings, seq_len=0))
        if self._chart_key != key:
            from lmscope.core.charts import memory_points

            self._chart_key = key
            lens = [number(choice) for choice in seq_len_choices(model.context_length)]
            try:  # the same series the PNG/SVG memory chart stacks (core.charts)
                points = memory_points(model.architecture, settings, model.params, lens)
            except Exception:  # noqa: BLE001 - the tables already notified why these settings cannot be estimated
                points = ()
            self._series = [(p.seq_len, p.total) for p in points]
        label, total = mode_total(est)
        current = (settings.seq_len, total)
        title = f"{label}, batch {settings.batch}"
        chart.show(self._series, current, title, model.context_length)
        self.chart_pending = False

    EXPORT_VIEW = "report"
    FOLDER_PICTURES = "memory, parameters, FLOPs charts"

    def export_subject(self) -> tuple[Report]:
        return (self.lm.main_report(),)

    def export_folder_options(self) -> dict[str, object]:
        return {"diagram": False, "charts": True}


def params_table(model: LoadedModel, est: Estimate) -> NumberTable:
    params = est.parameters
    table = number_table(f"Parameters [{model.marker}]", exact_header="count")
    table.add_row("total", human_count(params.total), exact_count(params.total))
    table.add_row("active / token", human_count(params.active_per_token), exact_count(params.active_per_token))
    table.add_row("embedding", human_count(params.embedding), exact_count(params.embedding))
    table.add_row("matmul / token", human_count(params.matmul_per_token), exact_count(params.matmul_per_token))
    for name, count in sorted(params.by_component.items(), key=lambda kv: -kv[1]):
        table.add_row(Text(f"  {name.replace('_', ' ')}"), human_count(count), exact_count(count))
    if est.lora_trainable_parameters:
        table.add_row(f"LoRA r={est.settings.lora_rank}", human_count(est.lora_trainable_parameters), exact_count(est.lora_trainable_parameters))
    return table


# mode -> (what its total is called, the Estimate.memory / Estimate field holding it)
MODE_TOTALS: dict[str, tuple[str, str]] = {
    "inference": ("inference total", "inference_total_bytes"),
    "training": ("training total", "training_total_bytes"),
    "lora": ("LoRA total (16-bit base)", "lora_memory_bytes"),
    "qlora": ("QLoRA total (NF4 base)", "qlora_memory_bytes"),
}


def mode_total(est: Estimate) -> tuple[str, int]:
    """(label, bytes) of the total the current mode is about (a field of the estimate, no arithmetic)."""
    label, field = MODE_TOTALS[est.settings.mode]
    source = est.memory if hasattr(est.memory, field) else est
    return label, getattr(source, field)


def weights_by_component(model: LoadedModel, est: Estimate) -> dict[str, int]:
    """``core.phases.weights_by_component`` (rows add up to the weights row); {} when it cannot be split."""
    from lmscope.core.phases import weights_by_component as split

    if model.architecture is None:
        return {}
    try:
        return split(model.architecture, est)
    except Exception:  # noqa: BLE001 - the split is a detail; the weights row stands on its own
        return {}


def memory_table(est: Estimate, model: LoadedModel, components: dict[str, int] | None = None) -> NumberTable:
    mem = est.memory
    s = est.settings
    mode = s.mode
    context = model.context_length
    past = f"  ⚠ past the {tokens(context)} context" if context and s.seq_len > context else ""
    table = number_table(f"Memory at {tokens(s.seq_len)} tokens × batch {s.batch}{past}", exact_header="bytes")
    from lmscope.core.export import weights_label

    label = weights_label(mem.weights_bytes, mem.weights_bytes_selected, est.weight_dtype or s.dtype)
    table.add_row(label, human_bytes(mem.weights_bytes_selected), exact_count(mem.weights_bytes_selected))
    if components and len(components) > 1:
        for name, nbytes in sorted(components.items(), key=lambda kv: -kv[1]):
            table.add_row(Text(f"  {name.replace('_', ' ')}", style="dim"), Text(human_bytes(nbytes), style="dim"), exact_count(nbytes))
    table.add_row(f"KV cache ({est.kv_dtype or s.kv_dtype or 'auto'})", human_bytes(mem.kv_cache_bytes), exact_count(mem.kv_cache_bytes))
    table.add_row("  KV per token", human_bytes(mem.kv_cache_bytes_per_token), exact_count(mem.kv_cache_bytes_per_token))
    for kind, nbytes in mem.kv_per_layer_kind.items():
        table.add_row(f"    {kind} layers", human_bytes(nbytes), exact_count(nbytes))
    if mem.state_bytes:
        table.add_row("state (SSM/linear)", human_bytes(mem.state_bytes), exact_count(mem.state_bytes))
    flash = "flash" if s.flash_attention else "no flash"
    table.add_row(f"activations ({flash})", human_bytes(mem.activation_bytes), exact_count(mem.activation_bytes))
    for name, (row, field) in MODE_TOTALS.items():
        if name in ("lora", "qlora") and mode != name:
            continue  # the LoRA figures only in their own mode (they depend on rank and targets)
        style = "bold" if name == mode else "dim"
        value = getattr(mem, field) if hasattr(mem, field) else getattr(est, field)
        if name == "training" and mode == "training":
            for part, nbytes in mem.training_breakdown.items():
                table.add_row(f"  train {part}", human_bytes(nbytes), exact_count(nbytes))
        if name in ("lora", "qlora"):
            row = f"{row}, r={s.lora_rank} {'all linear' if s.lora_targets == 'all' else 'q, v'}"
        table.add_row(Text(row, style=style), Text(human_bytes(value), style=style), exact_count(value))
    table.caption_items = ["weights by dtype:"] + [f"{d} {human_bytes(b)}" for d, b in mem.weights_bytes.items()]
    if mode in ("lora", "qlora"):
        table.caption_items += ["·", "LoRA: adapters with AdamW on one GPU", "(F7 Plan: ZeRO, optimizer, GPUs)"]
    return table


def flops_table(est: Estimate, *, generative: bool = True) -> NumberTable:
    """Prefill, decode and training FLOPs; an encoder (``generative=False``) has no decode and no causal half."""
    f = est.flops
    s = est.settings
    table = number_table(f"FLOPs (batch {s.batch} × {tokens(s.seq_len)})", exact_header="FLOPs")
    table.add_row("prefill total", human_flops(f.prefill_total), exact_count(f.prefill_total))
    table.add_row("  linear", human_flops(f.prefill_linear), exact_count(f.prefill_linear))
    table.add_row("  attn (no causal skip)", human_flops(f.prefill_attention), exact_count(f.prefill_attention))
    if generative:
        table.add_row("  attn (causal half)", human_flops(f.prefill_attention_causal), exact_count(f.prefill_attention_causal))
        table.add_row("decode / token", human_flops(f.decode_per_token), exact_count(f.decode_per_token))
    table.add_row("training step", human_flops(f.training_step), exact_count(f.training_step))
    from lmscope.core.phases import REFERENCE_BALANCE, verdict

    table.add_row("prefill intensity", f"{f.prefill_intensity:,.1f} FLOP/B", verdict(f.prefill_intensity))
    if generative:
        table.add_row("decode intensity", f"{f.decode_intensity:,.2f} FLOP/B", verdict(f.decode_intensity))
    table.caption_items = [f"bound: against the H100 SXM balance point, {REFERENCE_BALANCE:,.0f} FLOP/B", "(F7 Plan: your GPU)"]
    return table
