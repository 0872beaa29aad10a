"""A focusable, keyboard-first slider over a list of discrete choices.

Textual has no slider, and the Memory & FLOPs screen lives on them: sequence
length (powers of two), batch, dtypes, mode. A choice list (not a float range)
keeps every value one the engine accepts. Left/Right step, shift+Left/Right
jump, Home/End go to the ends; PageUp/PageDown are left to the screen, which
scrolls with them (a slider that ate them hid everything below the fold). Every key has
a description for the footer and the help screen. Choices may carry a warning
(e.g. "past the model's context").
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, TypeAlias

from rich.text import Text
from textual.binding import Binding
from textual.message import Message
from textual.reactive import reactive
from textual.widget import Widget

if TYPE_CHECKING:  # pragma: no cover
    from textual import events

# What a slider position hands over: a count or size (int), a name (str: dtype, mode, GPU key),
# a switch (bool) or None ("auto", "detecting…").
Value: TypeAlias = "int | str | bool | None"


@dataclass(frozen=True)
class Choice:
    """One position of a slider: the value handed to the engine and how it reads."""

    value: Value
    label: str
    warning: str | None = None


def number(choice: Choice) -> int:
    """The value of a numeric choice (lengths, batches, counts): the sort key of those sliders."""
    if isinstance(choice.value, bool) or not isinstance(choice.value, int):
        raise TypeError(f"not a numeric choice: {choice!r}")
    return choice.value


class Slider(Widget, can_focus=True):
    """Pick one of ``choices`` with the keyboard (or a click)."""

    STEP = Binding.Group("Step", compact=True)
    BINDINGS = [
        Binding("left,h", "step(-1)", "Less", key_display="←", group=STEP, id="slider.less"),
        Binding("right,l", "step(1)", "More", key_display="→", group=STEP, id="slider.more"),
        Binding("shift+left", "jump(-1)", "Much less", show=False, key_display="shift+←", id="slider.page_less"),
        Binding("shift+right", "jump(1)", "Much more", show=False, key_display="shift+→", id="slider.page_more"),
        Binding("home", "edge(0)", "Smallest", show=False, id="slider.first"),
        Binding("end", "edge(1)", "Largest", show=False, id="slider.last"),
    ]

    DEFAULT_CSS = """
    Slider { height: 1; width: 1fr; min-width: 24; }
    Slider:focus { background: $boost; text-style: bold; }
    """

    index: reactive[int] = reactive(0, init=False)

    @dataclass
    class Changed(Message):
        """The slider moved to ``value``."""

        slider: Slider
        value: Value

        @property
        def control(self) -> Slider:
            return self.slider

    def __init__(
        self,
        label: str,
        choices: list[Choice],
        value: Value = None,
        *,
        page: int = 4,
        hint: str = "",
        id: str | None = None,
        classes: str | None = None,
    ) -> None:
        super().__init__(id=id, classes=classes)
        self.label = label
        self.page = page
        self.hint = hint  # shown after the value while focused, when there is room
        self._choices: list[Choice] = list(choices)
        self.set_reactive(Slider.index, self._index_of(value))

    # --- public API -------------------------------------------------------------
    @property
    def choices(self) -> list[Choice]:
        return list(self._choices)

    @property
    def value(self) -> Value:
        return self._choices[self.index].value if self._choices else None

    @property
    def choice(self) -> Choice | None:
        return self._choices[self.index] if self._choices else None

    def set_choices(self, choices: list[Choice], value: Value = None) -> None:
        """Replace the choices (e.g. a new model's context) keeping ``value`` when present; no message."""
        self._choices = list(choices)
        self.set_reactive(Slider.index, self._index_of(value))
        self.refresh()

    def select(self, value: Value) -> None:
        """Move to ``value`` (posting Changed when it moves)."""
        self.index = self._index_of(value)

    # --- actions ------------------------------------------------------------------
    def action_step(self, delta: int) -> None:
        self._move(self.index + delta)

    def action_jump(self, direction: int) -> None:
        self._move(self.index + direction * self.page)

    def action_edge(self, end: int) -> None:
        self._move(len(self._choices) - 1 if end else 0)

    def _move(self, index: int) -> None:
        if self._choices:
            self.index = max(0, min(len(self._choices) - 1, index))

    def watch_index(self, old: int, new: int) -> None:
        if old != new:
            self.post_message(self.Changed(self, self.value))

    def _index_of(self, value: Value) -> int:
        for i, choice in enumerate(self._choices):
            if choice.value == value:
                return i
        return 0

    # --- rendering -----------------------------------------------------------------
    def render(self) -> Text:
        choice = self.choice
        label = f"{self.label:<9}"
        value_text = choice.label if choice else "—"
        n = max(1, len(self._choices))
        width = max(4, self.size.width - len(label) - len(value_text) - 6)
        track_len = min(width, max(n * 2, 8))
        pos = 0 if n == 1 else round(self.index * (track_len - 1) / (n - 1))
        text = Text(label, style="bold" if self.has_focus else "")
        text.append("◀", style="dim" if self.index == 0 else "")
        text.append("━" * pos, style="cyan")
        text.append("●", style="bold yellow" if choice and choice.warning else "bold")
        text.append("─" * (track_len - pos - 1), style="dim")
        text.append("▶ ", style="dim" if self.index >= n - 1 else "")
        text.append(value_text, style="bold yellow" if choice and choice.warning else "bold")
        if choice and choice.warning:
            text.append(f" ⚠ {choice.warning}", style="yellow")
        if self.hint and self.has_focus and text.cell_len + len(self.hint) + 2 <= self.size.width:
            text.append(f"  {self.hint}", style="dim")
        return text

    def on_click(self, event: events.Click) -> None:  # mouse is optional: a click moves towards it
        self.focus()
