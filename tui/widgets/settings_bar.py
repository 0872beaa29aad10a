"""The settings sliders shared by Memory & FLOPs and Compare.

Both screens show the same :class:`~lmscope.core.results.Settings`; this bar
owns the five sliders (sequence length, batch, weight dtype, KV dtype, mode)
and posts :class:`~lmscope.tui.messages.SettingsChanged` with a new frozen
Settings whenever one moves. The sequence-length choices are powers of two
from 128 to beyond the model's context, the ones past it marked; any other
length can be typed (Enter on the Seq len slider, or ``s``): ``100k``,
``131072``, ``1M`` — read by the same :func:`~lmscope.core.units.parse_token_count`
as the CLI's ``--seq-len``, and added to the slider as a stop of its own.
"""

from __future__ import annotations

from dataclasses import replace
from typing import TYPE_CHECKING, Any

from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Grid
from textual.widgets import Input

from lmscope.core.units import parse_token_count, tokens
from lmscope.tui.messages import SettingsChanged
from lmscope.tui.widgets.slider import Choice, Slider, number

if TYPE_CHECKING:  # pragma: no cover
    from lmscope.core.results import Settings
    from lmscope.tui.state import LoadedModel

BATCHES = (1, 2, 4, 8, 16, 32, 64, 128, 256, 512, 1024)
MODES = ("inference", "training", "lora", "qlora")


def seq_len_choices(context: int | None, current: int | None = None) -> list[Choice]:
    """Powers of two from 128 to at least 4× the context (at least 128k), past-context ones marked.

    ``current`` (a typed length that is no power of two) is added as a stop of its own.
    """
    top = max(context or 0, 1 << 17) * 4
    top = min(top, 1 << 24)
    out: list[Choice] = []
    n = 128
    while n <= top:
        warning = f"past {tokens(context)} ctx" if context and n > context else None
        out.append(Choice(n, tokens(n), warning))
        n *= 2
    if context and context not in {c.value for c in out} and 128 <= context <= top:
        out.append(Choice(context, f"{tokens(context)} (ctx)"))
    if current and current not in {c.value for c in out}:
        warning = f"past {tokens(context)} ctx" if context and current > context else None
        out.append(Choice(current, tokens(current), warning))
    out.sort(key=number)
    return out


def dtype_choices(auto_label: str | None) -> list[Choice]:
    from lmscope.core.results import DTYPES

    auto = f"auto ({auto_label})" if auto_label else "auto"
    return [Choice("auto", auto)] + [Choice(d, d) for d in DTYPES]


def kv_dtype_choices() -> list[Choice]:
    from lmscope.core.results import DTYPES

    # "auto": the weight dtype, or the compute dtype when weights are int8/int4 or quantized
    # (the estimate names the dtype it used in the memory table).
    return [Choice(None, "auto")] + [Choice(d, d) for d in DTYPES]


class SettingsBar(Grid):
    """Five sliders; ``settings`` is the current value, changed only by the user or :meth:`show`."""

    DEFAULT_CSS = """
    SettingsBar { grid-size: 2; grid-columns: 1fr 1fr; grid-gutter: 0 2; height: auto; padding: 0 1; }
    SettingsBar > Slider { height: 1; }
    SettingsBar > #seq_len_input { column-span: 2; height: 1; border: none; padding: 0 1; display: none; }
    SettingsBar > #seq_len_input.-typing { display: block; }
    """

    BINDINGS = [
        Binding("enter", "type_seq_len", "Type a length", key_display="⏎", show=False, id="settings.type_seq_len"),
        Binding("escape", "cancel_typing", "Cancel", show=False, id="settings.cancel_typing"),
    ]

    def __init__(self, settings: Settings, context: int | None = None, checkpoint_dtype: str | None = None, *,
                 id: str | None = None) -> None:
        super().__init__(id=id)
        self.settings = settings
        self._model_id: str | None = None  # the model :meth:`follow` last showed
        self._model_context = context
        self._checkpoint_dtype = checkpoint_dtype

    def compose(self) -> ComposeResult:
        s = self.settings
        yield Slider("Seq len", seq_len_choices(self._model_context, s.seq_len), s.seq_len, page=3, hint="⏎ type", id="seq_len")
        yield Slider("Batch", [Choice(b, str(b)) for b in BATCHES], s.batch, page=3, id="batch")
        yield Slider("Weights", dtype_choices(self._checkpoint_dtype), s.dtype, page=2, id="dtype")
        yield Slider("KV cache", kv_dtype_choices(), s.kv_dtype, page=2, id="kv_dtype")
        yield Slider("Mode", [Choice(m, m) for m in MODES], s.mode, id="mode")
        yield Input(placeholder="sequence length: 100k, 131072, 1M (k = 1024) · Enter applies · Esc cancels", id="seq_len_input")

    def follow(self, settings: Settings, model: LoadedModel) -> None:
        """Show ``settings`` for ``model`` when either changed since the last call (another screen moved a
        slider, or a new model came with its own context and dtype); otherwise leave the sliders alone."""
        if self.settings != settings or self._model_id != model.model_id:
            self.show(settings, model.context_length, model.checkpoint_dtype)
            self._model_id = model.model_id

    def show(self, settings: Settings, context: int | None = None, checkpoint_dtype: str | None = None) -> None:
        """Display ``settings`` (for a new model or the other screen's change), without posting."""
        self.settings = settings
        self._model_context = context
        self._checkpoint_dtype = checkpoint_dtype
        if not self.is_mounted:
            return
        self.query_one("#seq_len", Slider).set_choices(seq_len_choices(context, settings.seq_len), settings.seq_len)
        self.query_one("#batch", Slider).set_choices([Choice(b, str(b)) for b in BATCHES], settings.batch)
        self.query_one("#dtype", Slider).set_choices(dtype_choices(checkpoint_dtype), settings.dtype)
        self.query_one("#kv_dtype", Slider).set_choices(kv_dtype_choices(), settings.kv_dtype)
        self.query_one("#mode", Slider).set_choices([Choice(m, m) for m in MODES], settings.mode)

    def on_slider_changed(self, event: Slider.Changed) -> None:
        event.stop()
        name = event.slider.id
        if name is None:
            return
        changes: dict[str, Any] = {name: event.value}  # Any: the field is the slider's id, chosen at run time
        self.settings = replace(self.settings, **changes)
        self.post_message(SettingsChanged(self.settings))

    # --- a typed sequence length -------------------------------------------------
    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        """Enter types a length only on the Seq len slider (the other sliders have fixed stops)."""
        if action == "type_seq_len":
            focused = self.screen.focused
            return focused is not None and focused.id == "seq_len"
        if action == "cancel_typing":
            return self.query_one("#seq_len_input").has_class("-typing")
        return True

    def action_type_seq_len(self) -> None:
        """Show the length box (the screen's ``s`` key calls this too)."""
        box = self.query_one("#seq_len_input", Input)
        box.add_class("-typing")
        box.value = ""
        box.focus()

    def action_cancel_typing(self) -> None:
        box = self.query_one("#seq_len_input", Input)
        box.remove_class("-typing")
        self.query_one("#seq_len", Slider).focus()

    def on_input_submitted(self, event: Input.Submitted) -> None:
        event.stop()
        from lmscope.core.errors import LmscopeError

        try:
            value = parse_token_count(event.value)
        except LmscopeError as err:
            self.notify(str(err), title="Sequence length", severity="error")
            return
        slider = self.query_one("#seq_len", Slider)
        slider.set_choices(seq_len_choices(self._model_context, value), slider.value)
        self.action_cancel_typing()
        slider.select(value)  # posts Changed → SettingsChanged when it moved
