"""The lmscope Textual app: owns the opened models and the settings; screens render them.

Start-up is built for a first paint well under half a second: nothing here
imports torch, transformers or huggingface_hub; the first model (the built-in
default, or the one named on the command line) opens in a thread worker after
the first frame, and the exact parameter engine (which imports torch) starts
only once that model is on screen. Workers talk back with typed messages
(:mod:`lmscope.tui.messages`); every failure becomes a notification, never a
crash.

Screens are Textual *modes* (one stack each), created on first visit, so
switching with F2–F6 keeps each screen's focus and scroll position.
"""

from __future__ import annotations

import time
from typing import Any, Callable

from textual import work
from textual.app import App
from textual.screen import ModalScreen, Screen

from lmscope.tui import loader
from lmscope.tui.bindings import GLOBAL_BINDINGS, SCREENS
from lmscope.tui.messages import ExactCountReady, GPUsDetected, ModelFailed, ModelLoaded
from lmscope.tui.state import Deployment, LoadedModel

MAX_MODELS = 4


def _screen_factory(mode: str) -> Callable[[], Screen]:
    """A factory that imports the screen module on first use (keeps start-up light)."""

    def make() -> Screen:
        if mode == "search":
            from lmscope.tui.screens.search import SearchScreen as cls
        elif mode == "summary":
            from lmscope.tui.screens.summary import SummaryScreen as cls
        elif mode == "memory":
            from lmscope.tui.screens.memory import MemoryScreen as cls
        elif mode == "compare":
            from lmscope.tui.screens.compare import CompareScreen as cls
        elif mode == "plan":
            from lmscope.tui.screens.plan import PlanScreen as cls
        else:
            from lmscope.tui.screens.weights import WeightsScreen as cls
        return cls()

    return make


def _commands_provider():
    from lmscope.tui.commands import LmscopeCommands

    return LmscopeCommands


class LmscopeApp(App[int]):
    """``LmscopeApp(["org/name", ...])``; no model → the catalog's default model."""

    TITLE = "lmscope"
    CSS_PATH = "app.tcss"
    BINDINGS = GLOBAL_BINDINGS
    MODES = {mode: _screen_factory(mode) for mode, *_ in SCREENS}
    COMMANDS = App.COMMANDS | {_commands_provider}
    COMMAND_PALETTE_BINDING = "ctrl+p"

    def __init__(
        self,
        models: list[str] | tuple[str, ...] = (),
        *,
        offline: bool = False,
        token: str | None = None,
        exact: bool | None = None,
        start: str | None = None,
        settings: Any = None,
    ) -> None:
        super().__init__()
        from lmscope.core.results import Settings

        self.requested: list[str] = [m for m in models if m][:MAX_MODELS]
        self.offline = offline
        self.token = token
        self.exact_enabled = (not loader.exact_disabled()) if exact is None else exact
        self.settings = settings or Settings()
        # until the user picks a length, each main model gets a default it supports (BERT: 512)
        self.seq_len_chosen = settings is not None
        self.slots: dict[int, LoadedModel] = {}
        self.pending: dict[int, str] = {}
        self.failures: dict[str, str] = {}
        self.state_version = 0
        # the hardware Plan and Compare answer for; the GPU is chosen once local detection has run
        self.deployment = Deployment()
        self.local_gpus: tuple[Any, ...] | None = None  # None: not detected yet (detection is lazy)
        self.start_mode = start or ("compare" if len(self.requested) > 1 else "summary")
        self.started_at = time.perf_counter()
        self.first_paint_seconds: float | None = None

    # --- state the screens read ------------------------------------------------------
    @property
    def main_model(self) -> LoadedModel | None:
        return self.slots.get(0)

    @property
    def compare_models(self) -> list[LoadedModel]:
        """Models in the comparison (main first), those with an architecture only."""
        return [self.slots[k] for k in sorted(self.slots) if self.slots[k].has_architecture]

    @property
    def pending_compare(self) -> list[str]:
        return [spec for slot, spec in sorted(self.pending.items()) if slot > 0]

    @property
    def loading_spec(self) -> str | None:
        return self.pending.get(0)

    def status_text(self) -> str:
        """What a screen shows while no model is open."""
        if self.pending.get(0):
            return f"Opening {self.pending[0]}…"
        if self.failures:
            spec, error = next(reversed(self.failures.items()))
            return f"Could not open {spec}: {error}\nPress F2 to search, or ctrl+o to open another model."
        return "No model open. Press F2 to search, or ctrl+o to open a model."

    def estimate(self, model: LoadedModel, settings: Any) -> Any:
        """``core.estimate`` for one model (pure, < 1 ms); None (and a notification) if the engine refuses."""
        try:
            return loader.estimate_for(model, settings)
        except Exception as err:  # noqa: BLE001 - a refused estimate is shown, never a crash
            message = loader.error_line(err)
            if message != getattr(self, "_last_estimate_error", None):
                self._last_estimate_error = message
                self.notify(message, title=f"Cannot estimate {model.model_id}", severity="error")
            return None

    def set_settings(self, settings: Any) -> None:
        """New settings from a slider: every view re-estimates."""
        if settings == self.settings:
            return
        if settings.seq_len != self.settings.seq_len:
            self.seq_len_chosen = True
        self.settings = settings
        self._changed()

    def set_deployment(self, deployment: Deployment) -> None:
        """New hardware from a picker: Plan (and Compare's fit row) re-plan."""
        if deployment == self.deployment:
            return
        self.deployment = deployment
        self._changed()

    def ensure_gpus(self) -> bool:
        """True once local GPU detection has run; else start it (in a worker, off the start-up path)."""
        if self.local_gpus is not None:
            return True
        if not getattr(self, "_detecting", False):
            self._detecting = True
            self._detect_worker()
        return False

    @work(thread=True, group="gpus", exit_on_error=False)
    def _detect_worker(self) -> None:
        try:
            gpus = loader.detect_gpus()
        except Exception:  # noqa: BLE001 - no driver, odd output: plan for a named card instead
            gpus = ()
        self.post_message(GPUsDetected(gpus))

    def on_gpus_detected(self, message: GPUsDetected) -> None:
        from dataclasses import replace

        self.local_gpus = tuple(message.gpus)
        self._detecting = False
        if self.deployment.gpu is None:
            gpu, count = loader.default_gpu(self.local_gpus)
            self.deployment = replace(self.deployment, gpu=gpu)
            if count > 1 and self.settings.num_gpus == 1:
                self.settings = replace(self.settings, num_gpus=count)
        self._changed()

    def _changed(self) -> None:
        self.state_version += 1
        screen = self.screen
        if hasattr(screen, "sync"):
            screen.sync()
        else:  # a modal is on top: redraw the screen under it
            for below in reversed(self.screen_stack):
                if hasattr(below, "sync"):
                    below.sync()
                    break

    # --- start-up -----------------------------------------------------------------------
    def on_mount(self) -> None:
        if self.console.color_system in ("standard", "windows"):
            self.theme = "ansi-dark"  # 16-colour terminal: use the terminal's own palette
        self.switch_mode(self.start_mode)
        self.call_after_refresh(self._first_paint)

    def _first_paint(self) -> None:
        self.first_paint_seconds = time.perf_counter() - self.started_at
        specs = self.requested or [None]
        for slot, spec in enumerate(specs):
            self.open_model(spec, slot=slot)

    # --- opening models -------------------------------------------------------------------
    def open_model(self, spec: str | None, slot: int = 0, show: str | None = None) -> None:
        """Open ``spec`` (None: the built-in default) into ``slot`` in a thread worker."""
        from lmscope.core.redact import redact

        label = redact(spec) if spec else "the built-in default model"
        self.pending[slot] = label
        self.state_version += 1
        self._refresh_nav()
        self._load_worker(spec, slot, show)

    @work(thread=True, group="load", exit_on_error=False)
    def _load_worker(self, spec: str | None, slot: int, show: str | None) -> None:
        try:
            name = spec or loader.default_model()
            model = loader.open_model(name, self.settings, offline=self.offline, token=self.token)
        except Exception as err:  # noqa: BLE001 - becomes a notification
            from lmscope.core.redact import redact

            self.post_message(ModelFailed(redact(spec) if spec else "the default model", loader.error_line(err), slot))
            return
        message = ModelLoaded(model, slot)
        message.show = show  # type: ignore[attr-defined]
        self.post_message(message)

    def on_model_loaded(self, message: ModelLoaded) -> None:
        model = message.model
        slot = message.slot
        if slot > 0 and any(m.model_id == model.model_id for s, m in self.slots.items() if s != slot):
            self.pending.pop(slot, None)
            self.notify(f"{model.model_id} is already open", severity="warning")
            self._changed()
            return
        self.pending.pop(slot, None)
        if slot > 0 and not model.has_architecture:
            # a comparison column needs an estimate: an ONNX file without config has none
            self.notify(
                f"{model.model_id} has no architecture (no config): it cannot be compared",
                title=f"Not added: {model.model_id}",
                severity="warning",
            )
            self._changed()
            return
        self.slots[slot] = model
        self.failures.pop(model.spec, None)
        if slot == 0 and not self.seq_len_chosen and model.architecture is not None:
            from dataclasses import replace

            from lmscope.core.report import default_seq_len

            self.settings = replace(self.settings, seq_len=default_seq_len(model.architecture))
        show = getattr(message, "show", None)
        if show:
            self.action_show(show)
        self._changed()
        if model.exact_state == "pending":
            if self.exact_enabled:
                # Only after this frame is painted: the exact engine imports torch.
                self.call_after_refresh(self._exact_worker, model.model_id, model)
            else:
                self.slots[slot] = model.without_exact("exact engine off: analytic numbers only")

    def on_model_failed(self, message: ModelFailed) -> None:
        self.pending.pop(message.slot, None)
        self.failures[message.spec] = message.error
        self.notify(message.error, title=f"Could not open {message.spec}", severity="error", timeout=8)
        self._changed()

    @work(thread=True, group="exact", exit_on_error=False)
    def _exact_worker(self, model_id: str, model: LoadedModel) -> None:
        try:
            params, reason = loader.exact_parameters_for(model)
        except Exception as err:  # noqa: BLE001
            params, reason = None, loader.error_line(err)
        self.post_message(ExactCountReady(model_id, params, reason))

    def on_exact_count_ready(self, message: ExactCountReady) -> None:
        changed = False
        for slot, model in list(self.slots.items()):
            if model.model_id == message.model_id and model.exact_state == "pending":
                updated = model.with_exact(message.params, message.reason)
                self.slots[slot] = updated
                changed = True
                if updated.marker == "exact (corrected)":
                    self.notify(
                        f"{model.model_id}: the exact engine counts {message.params.total:,} parameters "
                        f"(analytic {model.analytic.total:,}); tables use the exact count",
                        title="exact engine",
                        severity="warning",
                    )
        if changed:
            self._changed()

    def add_compare(self, spec: str) -> None:
        """Open ``spec`` as one more comparison column (at most four models)."""
        if len(self.compare_models) + len(self.pending_compare) >= MAX_MODELS:
            self.notify(f"at most {MAX_MODELS} models side by side: remove one with x first", severity="warning")
            return
        if any(m.model_id.lower() == spec.lower() for m in self.slots.values()):
            self.notify(f"{spec} is already in the comparison", severity="warning")
            return
        slot = max([*self.slots, *self.pending, 0]) + 1
        self.open_model(spec, slot=slot)
        self.action_show("compare")

    def remove_model(self, index: int) -> None:
        """Remove the ``index``-th compared model (the next one becomes main if it was first)."""
        keys = [k for k in sorted(self.slots) if self.slots[k].has_architecture]
        if not 0 <= index < len(keys) or len(keys) <= 1:
            return
        removed = self.slots.pop(keys[index])
        ordered = [self.slots[k] for k in sorted(self.slots)]
        self.slots = dict(enumerate(ordered))
        self.notify(f"removed {removed.model_id}")
        self._changed()

    def move_model(self, index: int, to: int) -> None:
        """Move the ``index``-th compared model to position ``to`` (0 = the baseline, which is also the main model).

        Ratios are always against the first column, so they follow. Loads still
        pending keep their (higher) slot numbers and land after these.
        """
        keys = [k for k in sorted(self.slots) if self.slots[k].has_architecture]
        if not (0 <= index < len(keys) and 0 <= to < len(keys)) or index == to:
            return
        # a main model without architecture (an ONNX file) stays main; the columns move after it
        head = [self.slots[0]] if 0 in self.slots and not self.slots[0].has_architecture else []
        ordered = [self.slots[k] for k in keys]
        ordered.insert(to, ordered.pop(index))
        self.slots = dict(enumerate(head + ordered))
        if to == 0 or index == 0:
            self.notify(f"{ordered[0].model_id} is the baseline" + ("" if head else " (and the main model)"))
        self._changed()

    # --- actions ---------------------------------------------------------------------------
    def action_show(self, mode: str) -> None:
        """Switch to a main screen (closing any dialog on top)."""
        while isinstance(self.screen, ModalScreen) and len(self.screen_stack) > 1:
            self.pop_screen()
        if self.current_mode != mode:
            self.switch_mode(mode)
        screen = self.screen
        if hasattr(screen, "sync"):
            self.call_after_refresh(screen.sync)

    def action_copy_or_quit(self) -> None:
        """ctrl+c: copy the selected text (screen selection or a text box's), else quit."""
        from textual.widgets import Input

        selected = self.screen.get_selected_text()
        focused = self.screen.focused
        if not selected and isinstance(focused, Input):
            selected = focused.selected_text
        if selected:
            self.copy_to_clipboard(selected)
            self.notify(f"copied {len(selected):,} characters", timeout=2)
            return
        self.exit()

    def action_toggle_units(self) -> None:
        """u: every size in the other byte convention (GiB = 2^30 ↔ GB = 10^9), in every view and export."""
        from lmscope.core.units import byte_units, set_byte_units

        set_byte_units("decimal" if byte_units() == "binary" else "binary")
        self.notify("sizes in GB (10^9 bytes)" if byte_units() == "decimal" else "sizes in GiB (2^30 bytes)", timeout=3)
        self._changed()

    def action_help(self) -> None:
        from lmscope.tui.screens.help import HelpScreen

        if isinstance(self.screen, HelpScreen):
            self.pop_screen()
            return
        many_controls = len(self.screen.focus_chain) > 1  # else tab / shift+tab do nothing here
        self.push_screen(HelpScreen(self.active_bindings, getattr(self.screen, "VIEW_NAME", ""), many_controls=many_controls,
                                    about=getattr(self.screen, "HELP", "")))

    def action_export(self, fmt: str | None = None) -> None:
        from lmscope.tui.screens.export import ExportScreen

        view = self.screen
        if isinstance(view, ExportScreen):  # ctrl+s inside the dialog: write
            view.action_write()
            return
        if isinstance(view, ModalScreen):
            return
        if not hasattr(view, "export_text"):
            return
        self.push_screen(ExportScreen(view, fmt=fmt))

    def action_open_model(self) -> None:
        from lmscope.tui.screens.picker import ModelPicker

        def chosen(spec: str | None) -> None:
            if spec:
                self.open_model(spec, slot=0, show="summary")

        self.push_screen(ModelPicker("Open model"), chosen)

    def action_compare_with(self) -> None:
        from lmscope.tui.screens.picker import ModelPicker

        def chosen(spec: str | None) -> None:
            if spec:
                self.add_compare(spec)

        exclude = tuple(m.model_id for m in self.slots.values())
        self.push_screen(ModelPicker("Compare with…", exclude=exclude), chosen)

    # --- exports -------------------------------------------------------------------------------
    def export_main_report(self, fmt: str) -> str:
        from lmscope.core.errors import UsageError
        from lmscope.tui.exporting import report_text

        model = self.main_model
        if model is None:
            raise UsageError("no model open: nothing to export")
        return report_text(loader.report_at(model, self.settings), fmt)

    def export_main_folder(self, path: str, *, diagram: bool = True, charts: bool = True) -> Any:
        """The main model's report folder at the current settings (runs in the export dialog's worker)."""
        from lmscope.core.errors import UsageError
        from lmscope.tui.exporting import report_folder

        model = self.main_model
        if model is None:
            raise UsageError("no model open: nothing to export")
        return report_folder(loader.report_at(model, self.settings), path, diagram=diagram, charts=charts)

    def export_compare_folder(self, path: str) -> Any:
        from lmscope.core.errors import UsageError
        from lmscope.tui.exporting import compare_folder

        models = self.compare_models
        if len(models) < 2:
            raise UsageError("add a second model (a) before exporting a comparison")
        return compare_folder([loader.report_at(m, self.settings) for m in models], self.settings, path)

    def export_compare(self, fmt: str) -> str:
        from lmscope.core.errors import UsageError
        from lmscope.tui.exporting import compare_text

        models = self.compare_models
        if len(models) < 2:
            raise UsageError("add a second model (a) before exporting a comparison")
        return compare_text([loader.report_at(m, self.settings) for m in models], self.settings, fmt)

    def _refresh_nav(self) -> None:
        try:
            from lmscope.tui.widgets.navbar import NavBar

            for bar in self.screen.query(NavBar):
                bar.refresh()
        except Exception:  # noqa: BLE001 - cosmetic
            pass

