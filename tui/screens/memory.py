"""Memory & FLOPs: the live calculator.

Sliders for sequence length, batch, weight dtype, KV dtype and mode; tables of
parameters by component, memory (weights, KV cache, activations, state,
total) and FLOPs (prefill, decode, training step, arithmetic intensity); and a
chart of memory against sequence length with common GPU sizes. Every slider
move calls the core ``estimate()`` synchronously (it is pure and < 1 ms) so
the numbers follow the keys with no perceptible delay.
"""

from __future__ import annotations

from typing import Any

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, VerticalScroll
from textual.widgets import Static

from lmscope.core.units import exact_count, human_bytes, human_count, human_flops, tokens
from lmscope.tui.messages import SettingsChanged
from lmscope.tui.screens.base import LmscopeScreen
from lmscope.tui.widgets.number_table import NumberTable
from lmscope.tui.widgets.settings_bar import SettingsBar, seq_len_choices


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


class MemoryScreen(LmscopeScreen):
    """Parameters, memory and FLOPs of the main model under the current settings."""

    MODE = "memory"
    VIEW_NAME = "memory & FLOPs"
    HELP = "Memory and FLOPs of the main model; every slider re-estimates at once."
    SCROLL = Binding.Group("Scroll")
    BINDINGS = [
        Binding("t", "toggle_mode", "Mode", id="memory.mode"),
        Binding("c", "toggle_chart", "Chart", id="memory.chart"),
        Binding("s", "type_seq_len", "Type seq len", show=False, id="memory.type_seq_len"),
        Binding("pageup", "scroll_tables(-1)", "Scroll up", key_display="PgUp", group=SCROLL, id="memory.page_up"),
        Binding("pagedown", "scroll_tables(1)", "Scroll down", key_display="PgDn", group=SCROLL, id="memory.page_down"),
    ]

    def __init__(self) -> None:
        super().__init__()
        self.current_estimate: Any = None  # the core Estimate the tables show (tests read it)
        self._tables: dict[str, NumberTable] = {}  # what the three Statics show, measured by fit_tables

    def compose_body(self) -> ComposeResult:
        yield SettingsBar(self.lm.settings, id="memory-settings")
        with Horizontal(id="memory-main"):
            with VerticalScroll(id="memory-tables"):
                yield Static(id="memory-memory")
                yield Static(id="memory-flops")
                yield Static(id="memory-params")
            from lmscope.tui.widgets.memory_chart import MemoryChart

            yield MemoryChart(id="memory-chart")

    def on_mount(self) -> None:
        super().on_mount()
        self.query_one("#seq_len").focus()

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

    def on_settings_changed(self, event: SettingsChanged) -> None:
        event.stop()
        self.lm.set_settings(event.settings)

    def action_toggle_mode(self) -> None:
        bar = self.query_one(SettingsBar)
        mode = "training" if self.lm.settings.mode == "inference" else "inference"
        bar.query_one("#mode").select(mode)

    def action_type_seq_len(self) -> None:
        self.query_one(SettingsBar).action_type_seq_len()

    def action_scroll_tables(self, direction: int) -> None:
        """Page the numbers (wide: the tables column; narrow: tables and chart, one below the other)."""
        target = self.query_one("#memory-main" if self.has_class("narrow") else "#memory-tables")
        if direction > 0:
            target.scroll_page_down()
        else:
            target.scroll_page_up()

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
        if bar.settings != settings or getattr(self, "_bar_model", None) != model.model_id:
            bar.show(settings, model.context_length, model.checkpoint_dtype)  # another screen or a new model
            self._bar_model = model.model_id
        est = self.lm.estimate(model, settings)
        self.current_estimate = est
        if est is None:
            self.query_one("#memory-memory", Static).update("The engine could not estimate these settings (see the notification).")
            self.query_one("#memory-flops", Static).update("")
            return
        params_key = (model.model_id, model.marker, est.parameters, est.lora_trainable_parameters)
        if getattr(self, "_params_key", None) != params_key:  # parameters do not depend on seq len / batch
            self._params_key = params_key
            self._tables["params"] = params_table(model, est)
            self.query_one("#memory-params", Static).update(self._tables["params"])
        self._tables["memory"] = memory_table(est, model)
        caps = getattr(model.report, "capabilities", None)
        self._tables["flops"] = flops_table(est, generative=caps is None or caps.can_generate)
        self.query_one("#memory-memory", Static).update(self._tables["memory"])
        self.query_one("#memory-flops", Static).update(self._tables["flops"])
        self.fit_tables()
        # The chart (plotext, ~20–40 ms) follows a frame later so the numbers paint at once;
        # a held-down key coalesces into one redraw.
        if getattr(self, "_chart_timer", None) is not None:
            self._chart_timer.stop()
        self.chart_pending = True
        self._chart_timer = self.set_timer(CHART_DELAY_SECONDS, lambda: self._replot(model, est))

    def settled(self) -> bool:
        return not getattr(self, "chart_pending", False)

    def _replot(self, model: Any, est: Any) -> None:
        from lmscope.tui.widgets.memory_chart import MemoryChart

        chart = self.query_one(MemoryChart)
        settings = self.lm.settings
        training = settings.mode == "training"
        key = (model.model_id, model.exact_state, settings.batch, settings.dtype, settings.kv_dtype, settings.mode)
        if getattr(self, "_chart_key", None) != key:
            from lmscope.core.charts import memory_points

            self._chart_key = key
            lens = [choice.value for choice in seq_len_choices(model.context_length)]
            try:  # the same series the PNG/SVG memory chart stacks (core.charts)
                points = memory_points(model.architecture, settings, model.params, lens)
            except Exception:  # noqa: BLE001 - the tables already notified why these settings cannot be estimated
                points = ()
            self._series = [(p.seq_len, p.total) for p in points]
        current = (settings.seq_len, est.memory.training_total_bytes if training else est.memory.inference_total_bytes)
        title = f"{'training' if training else 'inference'} memory, batch {settings.batch}"
        chart.show(self._series, current, title, model.context_length)
        self.chart_pending = False

    EXPORT_VIEW = "report"
    FOLDER_PICTURES = "memory, parameters, FLOPs charts"

    def export_subject(self) -> tuple[Any, ...]:
        return (self.lm.main_report(),)

    def export_folder_options(self) -> dict[str, Any]:
        return {"diagram": False, "charts": True}


def params_table(model: Any, est: Any) -> NumberTable:
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


def memory_table(est: Any, model: Any) -> NumberTable:
    mem = est.memory
    s = est.settings
    training = s.mode == "training"
    context = model.context_length
    past = f"  ⚠ past the {tokens(context)} context" if context and s.seq_len > context else ""
    table = number_table(f"Memory at {tokens(s.seq_len)} tokens × batch {s.batch}{past}", exact_header="bytes")
    from lmscope.core.export import weights_label

    label = weights_label(mem.weights_bytes, mem.weights_bytes_selected, est.weight_dtype or s.dtype)
    table.add_row(label, human_bytes(mem.weights_bytes_selected), exact_count(mem.weights_bytes_selected))
    table.add_row(f"KV cache ({est.kv_dtype or s.kv_dtype or 'auto'})", human_bytes(mem.kv_cache_bytes), exact_count(mem.kv_cache_bytes))
    table.add_row("  KV per token", human_bytes(mem.kv_cache_bytes_per_token), exact_count(mem.kv_cache_bytes_per_token))
    for kind, nbytes in mem.kv_per_layer_kind.items():
        table.add_row(f"    {kind} layers", human_bytes(nbytes), exact_count(nbytes))
    if mem.state_bytes:
        table.add_row("state (SSM/linear)", human_bytes(mem.state_bytes), exact_count(mem.state_bytes))
    flash = "flash" if s.flash_attention else "no flash"
    table.add_row(f"activations ({flash})", human_bytes(mem.activation_bytes), exact_count(mem.activation_bytes))
    style = "dim" if training else "bold"
    table.add_row(Text("inference total", style=style), Text(human_bytes(mem.inference_total_bytes), style=style), exact_count(mem.inference_total_bytes))
    if training:
        for name, nbytes in mem.training_breakdown.items():
            table.add_row(f"  train {name}", human_bytes(nbytes), exact_count(nbytes))
    style = "bold" if training else "dim"
    table.add_row(Text("training total", style=style), Text(human_bytes(mem.training_total_bytes), style=style), exact_count(mem.training_total_bytes))
    table.caption_items = ["weights by dtype:"] + [f"{d} {human_bytes(b)}" for d, b in mem.weights_bytes.items()]
    return table


def flops_table(est: Any, *, generative: bool = True) -> NumberTable:
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
    table.add_row("prefill intensity", f"{f.prefill_intensity:,.1f} FLOP/B", "")
    if generative:
        table.add_row("decode intensity", f"{f.decode_intensity:,.2f} FLOP/B", "")
    return table
