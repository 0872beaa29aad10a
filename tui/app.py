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
from collections.abc import Callable
from typing import TYPE_CHECKING, ClassVar, Protocol, runtime_checkable

from textual import work
from textual.app import App
from textual.binding import BindingType
from textual.screen import ModalScreen, Screen

from lmscope.tui import loader
from lmscope.tui.abandon import Abandoned, abandonable
from lmscope.tui.bindings import GLOBAL_BINDINGS, SCREENS, ScreenRow
from lmscope.tui.messages import ExactCountReady, GPUsDetected, ModelFailed, ModelLoaded
from lmscope.tui.session import MAX_MODELS, Session
from lmscope.tui.state import Deployment, LoadedModel

if TYPE_CHECKING:  # pragma: no cover
    from lmscope.core.hardware import LocalGPU
    from lmscope.core.report import CompareReport, Report
    from lmscope.core.results import Estimate, Settings
    from lmscope.tui.commands import LmscopeCommands


def _screen_factory(row: ScreenRow) -> Callable[[], Screen[None]]:
    """A factory that imports the row's screen module on first use (keeps start-up light)."""

    def make() -> Screen[None]:
        import importlib

        module, _, name = row.target.partition(":")
        cls: type[Screen[None]] = getattr(importlib.import_module(f"lmscope.tui.screens.{module}"), name)
        return cls()

    return make


@runtime_checkable
class Syncable(Protocol):
    """A screen that redraws from the session when its ``state_version`` is stale."""

    def sync(self) -> None: ...


def _commands_provider() -> type[LmscopeCommands]:
    from lmscope.tui.commands import LmscopeCommands

    return LmscopeCommands


class LmscopeApp(App[int]):
    """``LmscopeApp(["org/name", ...])``; no model → the catalog's default model."""

    TITLE = "lmscope"
    CSS_PATH = "app.tcss"
    BINDINGS: ClassVar[list[BindingType]] = [*GLOBAL_BINDINGS]
    MODES = {row.mode: _screen_factory(row) for row in SCREENS}
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
        settings: Settings | None = None,
    ) -> None:
        super().__init__()
        from lmscope.core.results import Settings

        self.requested: list[str] = [m for m in models if m][:MAX_MODELS]
        self.offline = offline
        self.token = token
        self.exact_enabled = (not loader.exact_disabled()) if exact is None else exact
        self.session = Session(settings or Settings(), seq_len_chosen=settings is not None)
        self._detecting = False
        self.start_mode = start or ("compare" if len(self.requested) > 1 else "summary")
        self.started_at = time.perf_counter()
        self.first_paint_seconds: float | None = None
        self._last_estimate_error: str | None = None

    # --- state the screens read (kept by the session) -------------------------------------
    @property
    def settings(self) -> Settings:
        return self.session.settings

    @property
    def slots(self) -> dict[int, LoadedModel]:
        return self.session.slots

    @property
    def pending(self) -> dict[int, str]:
        return self.session.pending

    @property
    def failures(self) -> dict[str, str]:
        return self.session.failures

    @property
    def state_version(self) -> int:
        return self.session.state_version

    @property
    def deployment(self) -> Deployment:
        """The hardware Plan and Compare answer for (kept by the session)."""
        return self.session.deployment

    @deployment.setter
    def deployment(self, deployment: Deployment) -> None:
        self.session.deployment = deployment

    @property
    def local_gpus(self) -> tuple[LocalGPU, ...] | None:
        """The GPUs detected on this machine; None until detection has run (it runs lazily)."""
        return self.session.local_gpus

    @property
    def main_model(self) -> LoadedModel | None:
        return self.session.main_model

    @property
    def compare_models(self) -> list[LoadedModel]:
        """Models in the comparison (main first), those with an architecture only."""
        return self.session.compare_models

    @property
    def pending_compare(self) -> list[str]:
        return self.session.pending_compare

    @property
    def loading_spec(self) -> str | None:
        return self.session.loading_spec

    def status_text(self) -> str:
        """What a screen shows while no model is open."""
        return self.session.status_text()

    def estimate(self, model: LoadedModel, settings: Settings) -> Estimate | None:
        """``core.estimate`` for one model (pure, < 1 ms); None (and a notification) if the engine refuses."""
        try:
            return loader.estimate_for(model, settings)
        except Exception as err:  # noqa: BLE001 - a refused estimate is shown, never a crash
            message = loader.error_line(err)
            if message != self._last_estimate_error:
                self._last_estimate_error = message
                self.notify(message, title=f"Cannot estimate {model.model_id}", severity="error")
            return None

    def set_settings(self, settings: Settings) -> None:
        """New settings from a slider: every view re-estimates."""
        if self.session.set_settings(settings):
            self._redraw()

    def set_deployment(self, deployment: Deployment) -> None:
        """New hardware from a picker: Plan (and Compare's fit row) re-plan."""
        if self.session.set_deployment(deployment):
            self._redraw()

    def ensure_gpus(self) -> bool:
        """True once local GPU detection has run; else start it (in a worker, off the start-up path)."""
        if self.local_gpus is not None:
            return True
        if not self._detecting:
            self._detecting = True
            self._detect_worker()
        return False

    @work(thread=True, group="gpus", exit_on_error=False)
    def _detect_worker(self) -> None:
        try:
            gpus = abandonable(loader.detect_gpus)
        except Abandoned:
            return  # the app is closing
        except Exception:  # noqa: BLE001 - no driver, odd output: plan for a named card instead
            gpus = ()
        self.post_message(GPUsDetected(gpus))

    def on_gpus_detected(self, message: GPUsDetected) -> None:
        self._detecting = False
        self.session.gpus_detected(tuple(message.gpus), loader.default_gpu)
        self._redraw()

    def _changed(self) -> None:
        self.session.changed()
        self._redraw()

    def _redraw(self) -> None:
        """The screen on top (or, under a dialog, the screen below it) redraws from the session."""
        for screen in reversed(self.screen_stack):
            if isinstance(screen, Syncable):
                screen.sync()
                break

    # --- start-up -----------------------------------------------------------------------
    def on_mount(self) -> None:
        if self.console.color_system in ("standard", "windows"):
            self.theme = "ansi-dark"  # 16-colour terminal: use the terminal's own palette
        self._apply_user_keymap()
        self.switch_mode(self.start_mode)
        self.call_after_refresh(self._first_paint)

    def _apply_user_keymap(self) -> None:
        """Keys the user moved in ``keymap.toml`` (binding id = "keys"); a bad file: default keys and one line."""
        from lmscope.tui.keymap import load_keymap

        keymap, warning = load_keymap()
        if keymap:
            self.set_keymap(keymap)
        if warning:
            self.notify(warning, title="keymap", severity="warning", timeout=8)

    def _first_paint(self) -> None:
        self.first_paint_seconds = time.perf_counter() - self.started_at
        specs: list[str | None] = [*self.requested] or [None]
        for slot, spec in enumerate(specs):
            self.open_model(spec, slot=slot)

    # --- opening models -------------------------------------------------------------------
    def open_model(self, spec: str | None, slot: int = 0, show: str | None = None) -> None:
        """Open ``spec`` (None: the built-in default) into ``slot`` in a thread worker.

        The load gets a request id: if another load into the same slot starts before
        this one finishes, this one's answer is dropped whenever it arrives.
        """
        from lmscope.core.redact import redact

        label = redact(spec) if spec else "the built-in default model"
        request_id = self.session.begin_load(slot, label, show)
        self._refresh_nav()
        self._load_worker(spec, slot, request_id)

    @work(thread=True, group="load", exit_on_error=False)
    def _load_worker(self, spec: str | None, slot: int, request_id: int) -> None:
        settings, offline, token = self.settings, self.offline, self.token
        try:
            name = spec or loader.default_model()
            # the Hub may take its timeouts and retries: quitting does not wait for them
            model = abandonable(lambda: loader.open_model(name, settings, offline=offline, token=token))
        except Abandoned:
            return  # the app is closing
        except Exception as err:  # noqa: BLE001 - becomes a notification
            from lmscope.core.redact import redact

            label = redact(spec) if spec else "the default model"
            self.post_message(ModelFailed(label, loader.error_line(err), slot, request_id))
            return
        self.post_message(ModelLoaded(model, slot, request_id))

    def on_model_loaded(self, message: ModelLoaded) -> None:
        outcome = self.session.finish_load(message.slot, message.request_id, message.model)
        model = message.model
        if outcome.status == "stale":
            return  # a newer load owns the slot
        if outcome.status == "duplicate":
            self.notify(f"{model.model_id} is already open", severity="warning")
        elif outcome.status == "no-architecture":
            # a comparison column needs an estimate: an ONNX file without config has none
            self.notify(
                f"{model.model_id} has no architecture (no config): it cannot be compared",
                title=f"Not added: {model.model_id}",
                severity="warning",
            )
        if outcome.status != "added":
            self._redraw()
            return
        if outcome.show:
            self.action_show(outcome.show)
        self._redraw()
        if model.exact_state == "pending":
            if self.exact_enabled:
                # Only after this frame is painted: the exact engine imports torch.
                self.call_after_refresh(self._exact_worker, model.model_id, model)
            else:
                self.slots[message.slot] = model.without_exact("exact engine off: analytic numbers only")

    def on_model_failed(self, message: ModelFailed) -> None:
        if not self.session.fail_load(message.slot, message.request_id, message.spec, message.error):
            return  # a newer load owns the slot: its answer is the one that counts
        self.notify(message.error, title=f"Could not open {message.spec}", severity="error", timeout=8)
        self._redraw()

    @work(thread=True, group="exact", exit_on_error=False)
    def _exact_worker(self, model_id: str, model: LoadedModel) -> None:
        try:
            # imports torch and builds the model on the meta device: seconds that quitting need not wait for
            params, reason = abandonable(lambda: loader.exact_parameters_for(model))
        except Abandoned:
            return  # the app is closing
        except Exception as err:  # noqa: BLE001
            params, reason = None, loader.error_line(err)
        self.post_message(ExactCountReady(model_id, params, reason))

    def on_exact_count_ready(self, message: ExactCountReady) -> None:
        updated = self.session.exact_ready(message.model_id, message.params, message.reason)
        for before, after in updated:
            if after.marker == "exact (corrected)" and message.params is not None and before.analytic is not None:
                self.notify(
                    f"{before.model_id}: the exact engine counts {message.params.total:,} parameters "
                    f"(analytic {before.analytic.total:,}); tables use the exact count",
                    title="exact engine",
                    severity="warning",
                )
        if updated:
            self._redraw()

    def add_compare(self, spec: str) -> None:
        """Open ``spec`` as one more comparison column (at most four models)."""
        refusal = self.session.refuse_compare(spec)
        if refusal:
            self.notify(refusal, severity="warning")
            return
        self.open_model(spec, slot=self.session.next_slot())
        self.action_show("compare")

    def remove_model(self, index: int) -> None:
        """Remove the ``index``-th compared model (the next one becomes main if it was first)."""
        removed = self.session.remove(index)
        if removed is not None:
            self.notify(f"removed {removed.model_id}")
            self._redraw()

    def move_model(self, index: int, to: int) -> None:
        """Move the ``index``-th compared model to position ``to`` (0 = the baseline, also the main model)."""
        keys = len(self.session.compare_models)
        if not (0 <= index < keys and 0 <= to < keys) or index == to:
            return
        baseline = self.session.move(index, to)
        if baseline is not None:
            self.notify(f"{baseline.model_id} is the baseline" + (" (and the main model)" if self.session.main_is_compared else ""))
        self._redraw()

    # --- actions ---------------------------------------------------------------------------
    def action_show(self, mode: str) -> None:
        """Switch to a main screen (closing any dialog on top)."""
        while isinstance(self.screen, ModalScreen) and len(self.screen_stack) > 1:
            self.pop_screen()
        if self.current_mode != mode:
            self.switch_mode(mode)
        screen = self.screen
        if isinstance(screen, Syncable):
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
        from lmscope.tui.screens.base import LmscopeScreen
        from lmscope.tui.screens.help import HelpScreen

        if isinstance(self.screen, HelpScreen):
            self.pop_screen()
            return
        screen = self.screen
        many_controls = len(screen.focus_chain) > 1  # else tab / shift+tab do nothing here
        view, about = (screen.VIEW_NAME, screen.HELP) if isinstance(screen, LmscopeScreen) else ("", "")
        self.push_screen(HelpScreen(self.active_bindings, view, many_controls=many_controls, about=about))

    def action_export(self, fmt: str | None = None) -> None:
        from lmscope.tui.screens.base import LmscopeScreen
        from lmscope.tui.screens.export import ExportScreen

        view = self.screen
        if isinstance(view, ExportScreen):  # ctrl+s inside the dialog: write
            view.action_write()
            return
        if isinstance(view, ModalScreen):
            return
        if not isinstance(view, LmscopeScreen):
            return
        self.push_screen(ExportScreen(view, fmt=fmt))

    # --- palette commands (data in bindings.PALETTE; the same actions the keys run) ------------
    def run_palette_action(self, action: str) -> None:
        """Run an app action string (``"export('json')"``) after the palette has closed."""
        self.call_later(self.run_action, action)

    def action_toggle_mode(self) -> None:
        from dataclasses import replace

        self.set_settings(replace(self.settings, mode="training" if self.settings.mode == "inference" else "inference"))

    def action_remove_last(self) -> None:
        models = self.compare_models
        if len(models) > 1:
            self.remove_model(len(models) - 1)

    def action_reload(self) -> None:
        if self.main_model is not None:
            self.open_model(self.main_model.spec, slot=0)

    def can_remove_last(self) -> bool:
        return len(self.compare_models) > 1

    def has_main_model(self) -> bool:
        return self.main_model is not None

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

    # --- exports (what the views hand to core.formats) ----------------------------------------
    def main_report(self) -> Report:
        """The main model's report at the current settings (what Summary and Memory export)."""
        from lmscope.core.errors import UsageError

        model = self.main_model
        if model is None:
            raise UsageError("no model open: nothing to export")
        return loader.report_at(model, self.settings)

    def compare_report(self) -> CompareReport:
        """The open models side by side at the current settings (what Compare exports)."""
        from lmscope.core.errors import UsageError
        from lmscope.core.report import CompareReport

        models = self.compare_models
        if len(models) < 2:
            raise UsageError("add a second model (a) before exporting a comparison")
        compare = CompareReport(reports=tuple(loader.report_at(m, self.settings) for m in models), settings=self.settings)
        if self.local_gpus is None or not self.deployment.gpu:
            return compare
        # the GPU rows Compare shows: each model planned on the Plan screen's hardware (as `compare --gpu`)
        from lmscope.core.report import with_plans

        hardware = loader.accelerator_for(self.deployment.gpu, self.local_gpus)
        return with_plans(compare, loader.plan_request(self.settings, self.deployment), hardware)

    def _refresh_nav(self) -> None:
        try:
            from lmscope.tui.widgets.navbar import NavBar

            for bar in self.screen.query(NavBar):
                bar.refresh()
        except Exception:  # noqa: BLE001 - cosmetic
            pass

