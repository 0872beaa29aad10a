"""The scenario and hardware pickers: GPU, count, parallelism, ZeRO, optimizer, recompute, LoRA, flash.

The Memory & FLOPs screen and the Plan screen show the same scenario (the
app's :class:`~lmscope.core.results.Settings`) and Plan adds the hardware
(the app's :class:`~lmscope.tui.state.Deployment`). One bar serves both; a
picker is shown only where it changes a number (:data:`KNOBS`): TP/PP/EP
only for inference plans, ZeRO/optimizer/recompute only in training modes,
LoRA rank and targets only for LoRA/QLoRA. A moved picker posts
:class:`~lmscope.tui.messages.SettingsChanged` or
:class:`~lmscope.tui.messages.DeploymentChanged` with a new frozen value.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Any

from textual.containers import Grid

from lmscope.tui.messages import DeploymentChanged, SettingsChanged
from lmscope.tui.widgets.slider import Choice, Slider, Value, number

if TYPE_CHECKING:  # pragma: no cover
    from textual.app import ComposeResult

    from lmscope.core.results import Settings
    from lmscope.tui.state import Deployment

TRAINING = ("training", "lora", "qlora")
LORA = ("lora", "qlora")
GPU_COUNTS = (1, 2, 3, 4, 6, 8, 16, 32, 64, 128, 256)
LORA_RANKS = (4, 8, 16, 32, 64, 128, 256)
OPTIMIZERS = (("adamw", "AdamW"), ("adam8bit", "8-bit Adam"), ("sgd", "SGD"), ("adafactor", "Adafactor"))
RECOMPUTE = ("none", "selective", "full")


@dataclass(frozen=True)
class Knob:
    """One picker: the field it sets, on which value (settings or deployment), and when it is shown.

    ``shown(mode, where, moe)``: ``where`` is "memory" or "plan". On Memory the
    optimizer, ZeRO and count apply to full training only (the estimate's
    LoRA figures are single-GPU AdamW, as its label says); the planner takes
    them in every training mode.
    """

    field: str
    label: str
    target: str  # "settings" | "deployment"
    shown: Callable[[str, str, bool], bool]
    page: int = 2


KNOBS: tuple[Knob, ...] = (
    Knob("gpu", "GPU", "deployment", lambda m, w, moe: w == "plan", page=4),
    Knob("num_gpus", "GPUs", "settings", lambda m, w, moe: w == "plan" or m == "training"),
    Knob("tp", "TP", "deployment", lambda m, w, moe: w == "plan" and m == "inference"),
    Knob("pp", "PP", "deployment", lambda m, w, moe: w == "plan" and m == "inference"),
    Knob("ep", "EP", "deployment", lambda m, w, moe: w == "plan" and m == "inference" and moe),
    Knob("zero_stage", "ZeRO", "settings", lambda m, w, moe: m == "training" or (w == "plan" and m in TRAINING)),
    Knob("optimizer", "Optim.", "settings", lambda m, w, moe: m == "training" or (w == "plan" and m in TRAINING)),
    Knob("recompute", "Recomp.", "settings", lambda m, w, moe: m in TRAINING),
    Knob("lora_rank", "LoRA r", "settings", lambda m, w, moe: m in LORA),
    Knob("lora_targets", "LoRA on", "settings", lambda m, w, moe: m in LORA),
    Knob("flash_attention", "Flash", "settings", lambda m, w, moe: True),
)


@dataclass(frozen=True)
class Hardware:
    """What the hardware pickers offer: GPU (key, label) pairs and the valid parallel sizes."""

    gpus: tuple[tuple[str, str], ...] = ()
    tp: tuple[int, ...] = (1,)
    pp: tuple[int, ...] = (1,)
    ep: tuple[int, ...] = (1,)
    moe: bool = False


def choices(field: str, hw: Hardware) -> list[Choice]:
    """The stops of one picker."""
    if field == "gpu":
        return [Choice(key, label) for key, label in hw.gpus] or [Choice(None, "detecting…")]
    if field == "num_gpus":
        return [Choice(n, str(n)) for n in GPU_COUNTS]
    if field == "tp":
        return [Choice(None, "auto")] + [Choice(t, str(t)) for t in hw.tp]
    if field == "pp":
        return [Choice(p, str(p)) for p in hw.pp]
    if field == "ep":
        return [Choice(e, "off" if e == 1 else str(e)) for e in hw.ep]
    if field == "zero_stage":
        return [Choice(z, "off" if z == 0 else f"stage {z}") for z in (0, 1, 2, 3)]
    if field == "optimizer":
        return [Choice(k, label) for k, label in OPTIMIZERS]
    if field == "recompute":
        return [Choice(r, r) for r in RECOMPUTE]
    if field == "lora_rank":
        return [Choice(r, str(r)) for r in LORA_RANKS]
    if field == "lora_targets":
        return [Choice("all", "all linear"), Choice("qv", "q, v only")]
    if field == "flash_attention":
        return [Choice(True, "on"), Choice(False, "off")]
    raise KeyError(field)


def with_current(stops: list[Choice], value: Value) -> list[Choice]:
    """``stops`` plus the current value when it is not one of them (a count typed on the command line)."""
    if value is None or any(c.value == value for c in stops):
        return stops
    extra = Choice(value, str(value))
    if all(isinstance(c.value, int) and not isinstance(c.value, bool) for c in stops) and isinstance(value, int):
        return sorted([*stops, extra], key=number)
    return [*stops, extra]


class ScenarioBar(Grid):
    """The pickers of :data:`KNOBS` shown for ``where`` ("memory" or "plan"), two per row."""

    DEFAULT_CSS = """
    ScenarioBar { grid-size: 2; grid-columns: 1fr 1fr; grid-gutter: 0 2; height: auto; padding: 0 1; }
    ScenarioBar > Slider { height: 1; }
    """

    def __init__(self, where: str, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self.where = where
        self.settings: Settings | None = None  # None until the screen first shows its settings
        self.deployment: Deployment | None = None  # None on Memory (no hardware pickers)
        self.hardware = Hardware()

    def compose(self) -> ComposeResult:
        for knob in KNOBS:
            if knob.target == "deployment" and self.where != "plan":
                continue
            yield Slider(knob.label, [], None, page=knob.page, id=knob.field)

    def show(self, settings: Settings, deployment: Deployment | None = None, hardware: Hardware | None = None) -> None:
        """Display these values (no message), showing only the pickers that apply."""
        self.settings = settings
        self.deployment = deployment
        self.hardware = hardware or self.hardware
        if not self.is_mounted:
            self.call_after_refresh(self.show, settings, deployment, hardware)
            return
        for knob in KNOBS:
            if knob.target == "deployment" and self.where != "plan":
                continue
            slider = self.query_one(f"#{knob.field}", Slider)
            source = settings if knob.target == "settings" else deployment
            value = getattr(source, knob.field, None) if source is not None else None
            slider.set_choices(with_current(choices(knob.field, self.hardware), value), value)
            slider.display = knob.shown(settings.mode, self.where, self.hardware.moe)

    def on_slider_changed(self, event: Slider.Changed) -> None:
        event.stop()
        knob = next((k for k in KNOBS if k.field == event.slider.id), None)
        if knob is None or self.settings is None:
            return
        changes: dict[str, Any] = {knob.field: event.value}  # Any: the field is the knob's, chosen at run time
        if knob.target == "settings":
            self.settings = replace(self.settings, **changes)
            self.post_message(SettingsChanged(self.settings))
        elif self.deployment is not None:
            self.deployment = replace(self.deployment, **changes)
            self.post_message(DeploymentChanged(self.deployment))
