"""The model session: the open models, loads in flight, failures and settings — no Textual here.

Why a plain class apart from the App: this is the state every screen reads
(slots, pending loads, settings, ``state_version``) and every rule about it
(which load may take a slot, what adding, removing and moving a compared
model does, which sequence length a new main model gets). Kept out of the
App, it is unit-tested without Pilot (``tests/test_session.py``); the App
only turns its answers into notifications and redraws.

Every load carries a request id. A slot remembers the id of the load it is
waiting for, and a finished load whose id is not that one is stale and
dropped: opening a slow Hub model and then a catalog model leaves the
catalog model in the main slot, whichever finishes last.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING

from lmscope.tui.state import Deployment

if TYPE_CHECKING:  # pragma: no cover
    from lmscope.core.hardware import LocalGPU
    from lmscope.core.results import ParameterBreakdown, Settings
    from lmscope.tui.state import LoadedModel

MAX_MODELS = 4


@dataclass(frozen=True)
class PendingLoad:
    """A load in flight for one slot: its request id, the label shown meanwhile, the screen to show after."""

    request_id: int
    label: str
    show: str | None = None


@dataclass(frozen=True)
class LoadOutcome:
    """What a finished load did: ``status`` is "stale" (dropped: a newer load owns the slot),
    "duplicate" (already open in another column), "no-architecture" (cannot be a comparison
    column), or "added"; ``show`` is the screen the request asked for."""

    status: str
    model: LoadedModel | None = None
    show: str | None = None


class Session:
    """Slots (0 = the main model, 1… = comparison columns), loads in flight, failures, settings."""

    def __init__(self, settings: Settings, *, seq_len_chosen: bool = False) -> None:
        self.settings = settings
        # until the user picks a length, each main model gets a default it supports (BERT: 512)
        self.seq_len_chosen = seq_len_chosen
        self.slots: dict[int, LoadedModel] = {}
        self.loads: dict[int, PendingLoad] = {}
        self.failures: dict[str, str] = {}
        self.state_version = 0
        self._next_request = 0
        # the hardware Plan and Compare answer for; the GPU is chosen once local detection has run
        self.deployment = Deployment()
        self.local_gpus: tuple[LocalGPU, ...] | None = None  # None: not detected yet (detection is lazy)

    # --- what the screens read -------------------------------------------------------------
    @property
    def pending(self) -> dict[int, str]:
        """Slot -> label of every load in flight."""
        return {slot: load.label for slot, load in self.loads.items()}

    @property
    def main_model(self) -> LoadedModel | None:
        return self.slots.get(0)

    @property
    def compare_models(self) -> list[LoadedModel]:
        """Models in the comparison (main first), those with an architecture only."""
        return [self.slots[k] for k in sorted(self.slots) if self.slots[k].has_architecture]

    @property
    def pending_compare(self) -> list[str]:
        return [load.label for slot, load in sorted(self.loads.items()) if slot > 0]

    @property
    def loading_spec(self) -> str | None:
        load = self.loads.get(0)
        return load.label if load is not None else None

    def status_text(self) -> str:
        """What a screen shows while no model is open."""
        if self.loading_spec:
            return f"Opening {self.loading_spec}…"
        if self.failures:
            spec, error = next(reversed(self.failures.items()))
            return f"Could not open {spec}: {error}\nPress F2 to search, or ctrl+o to open another model."
        return "No model open. Press F2 to search, or ctrl+o to open a model."

    def changed(self) -> None:
        """Something the screens show changed: they redraw when they see a new version."""
        self.state_version += 1

    # --- settings --------------------------------------------------------------------------
    def set_settings(self, settings: Settings) -> bool:
        """New settings (a slider, a typed length); False when nothing changed."""
        if settings == self.settings:
            return False
        if settings.seq_len != self.settings.seq_len:
            self.seq_len_chosen = True
        self.settings = settings
        self.changed()
        return True

    def set_deployment(self, deployment: Deployment) -> bool:
        """New hardware from a picker; False when nothing changed."""
        if deployment == self.deployment:
            return False
        self.deployment = deployment
        self.changed()
        return True

    def gpus_detected(self, gpus: tuple[LocalGPU, ...],
                      default_gpu: Callable[[tuple[LocalGPU, ...]], tuple[str, int]]) -> None:
        """Local GPU detection finished: keep the GPUs and, when none is chosen yet, plan for ``default_gpu(gpus)``
        (with that many GPUs when the user has not asked for a count)."""
        self.local_gpus = gpus
        if self.deployment.gpu is None:
            gpu, count = default_gpu(gpus)
            self.deployment = replace(self.deployment, gpu=gpu)
            if count > 1 and self.settings.num_gpus == 1:
                self.settings = replace(self.settings, num_gpus=count)
        self.changed()

    # --- loads -----------------------------------------------------------------------------
    def begin_load(self, slot: int, label: str, show: str | None = None) -> int:
        """Record a load into ``slot`` and return its request id (a newer load of the slot replaces it)."""
        self._next_request += 1
        self.loads[slot] = PendingLoad(self._next_request, label, show)
        self.changed()
        return self._next_request

    def _take(self, slot: int, request_id: int) -> PendingLoad | None:
        """The slot's pending load if ``request_id`` is still the one it waits for (and stop waiting)."""
        load = self.loads.get(slot)
        if load is None or load.request_id != request_id:
            return None
        del self.loads[slot]
        return load

    def finish_load(self, slot: int, request_id: int, model: LoadedModel) -> LoadOutcome:
        """A load finished: put ``model`` in ``slot`` unless the load is stale or the model cannot go there."""
        load = self._take(slot, request_id)
        if load is None:
            return LoadOutcome("stale", model)
        self.changed()
        if slot > 0 and any(m.model_id == model.model_id for s, m in self.slots.items() if s != slot):
            return LoadOutcome("duplicate", model)
        if slot > 0 and not model.has_architecture:
            return LoadOutcome("no-architecture", model)  # a comparison column needs an estimate
        self.slots[slot] = model
        self.failures.pop(model.spec, None)
        if slot == 0 and not self.seq_len_chosen and model.architecture is not None:
            from lmscope.core.report import default_seq_len

            self.settings = replace(self.settings, seq_len=default_seq_len(model.architecture))
        return LoadOutcome("added", model, load.show)

    def fail_load(self, slot: int, request_id: int, spec: str, error: str) -> bool:
        """A load failed: remember why (False, and nothing remembered, for a stale load)."""
        if self._take(slot, request_id) is None:
            return False
        self.failures[spec] = error
        self.changed()
        return True

    def exact_ready(self, model_id: str, params: ParameterBreakdown | None, reason: str | None) -> list[tuple[LoadedModel, LoadedModel]]:
        """The exact engine finished for ``model_id``: (before, after) of every slot it updated."""
        updated = []
        for slot, model in list(self.slots.items()):
            if model.model_id == model_id and model.exact_state == "pending":
                self.slots[slot] = model.with_exact(params, reason)
                updated.append((model, self.slots[slot]))
        if updated:
            self.changed()
        return updated

    # --- the comparison --------------------------------------------------------------------
    def refuse_compare(self, spec: str) -> str | None:
        """Why ``spec`` cannot become one more column (None when it can)."""
        if len(self.compare_models) + len(self.pending_compare) >= MAX_MODELS:
            return f"at most {MAX_MODELS} models side by side: remove one with x first"
        if any(m.model_id.lower() == spec.lower() for m in self.slots.values()):
            return f"{spec} is already in the comparison"
        return None

    def next_slot(self) -> int:
        """The slot a new comparison column loads into (after every open or pending one)."""
        return max([*self.slots, *self.loads, 0]) + 1

    def _compared_keys(self) -> list[int]:
        return [k for k in sorted(self.slots) if self.slots[k].has_architecture]

    def remove(self, index: int) -> LoadedModel | None:
        """Remove the ``index``-th compared model (the next one becomes main if it was first); the model removed."""
        keys = self._compared_keys()
        if not 0 <= index < len(keys) or len(keys) <= 1:
            return None
        removed = self.slots.pop(keys[index])
        ordered = [self.slots[k] for k in sorted(self.slots)]
        self.slots = dict(enumerate(ordered))
        self.changed()
        return removed

    def move(self, index: int, to: int) -> LoadedModel | None:
        """Move the ``index``-th compared model to position ``to`` (0 = the baseline, also the main model).

        Ratios are always against the first column, so they follow. Loads still
        pending keep their (higher) slot numbers and land after these. Returns
        the new baseline when the baseline changed, else None.
        """
        keys = self._compared_keys()
        if not (0 <= index < len(keys) and 0 <= to < len(keys)) or index == to:
            return None
        # a main model without architecture (an ONNX file) stays main; the columns move after it
        head = [self.slots[0]] if 0 in self.slots and not self.slots[0].has_architecture else []
        ordered = [self.slots[k] for k in keys]
        ordered.insert(to, ordered.pop(index))
        self.slots = dict(enumerate(head + ordered))
        self.changed()
        return ordered[0] if to == 0 or index == 0 else None

    @property
    def main_is_compared(self) -> bool:
        """The main model is also the first comparison column (it has an architecture)."""
        main = self.slots.get(0)
        return main is not None and main.has_architecture
