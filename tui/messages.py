"""Typed messages the thread workers post back to the app.

Workers never touch widgets: they build one of these and post it (messages
are thread-safe), and the app or a screen reacts in an ``on_…`` handler. That
keeps every widget update on the event loop and makes the flow testable
(``run_test(message_hook=…)`` sees each message).

Each message is a dataclass with its fields declared (nothing is attached
after construction); the core types are imported for the type checker only,
so importing this module stays free of the core at start-up.
"""

from __future__ import annotations

from collections.abc import Hashable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from textual.message import Message

if TYPE_CHECKING:  # pragma: no cover
    from lmscope.core.hardware import LocalGPU
    from lmscope.core.hub.search import SearchAnswer
    from lmscope.core.plan import Plan
    from lmscope.core.report.schema import JSONObject
    from lmscope.core.results import ParameterBreakdown, Settings
    from lmscope.core.weights.records import WeightsEvent
    from lmscope.tui.state import Deployment, LoadedModel


@dataclass
class ModelLoaded(Message):
    """A model resolved and its analytic report built. ``slot``: 0 = main model, n = compare column.

    ``request_id`` is the load's id in the session: a slot takes only the answer to its latest request.
    """

    model: LoadedModel
    slot: int
    request_id: int = 0


@dataclass
class ModelFailed(Message):
    """A model could not be opened; ``error`` is a one-line, token-free message."""

    spec: str
    error: str
    slot: int = 0
    request_id: int = 0


@dataclass
class ExactCountReady(Message):
    """The exact engine finished for ``model_id``: ``params`` is None when it could not run."""

    model_id: str
    params: ParameterBreakdown | None
    reason: str | None = None


@dataclass
class SearchFinished(Message):
    """The answer to ``answer.query`` (a core ``SearchAnswer``); ``where`` says in words what was searched."""

    answer: SearchAnswer
    where: str
    families: dict[str, str] = field(default_factory=dict)
    error: str | None = None

    @property
    def query(self) -> str:
        return self.answer.query


@dataclass
class WeightsProgress(Message):
    """One event of the weights engine (progress or one tensor's result: a core ``WeightsEvent``), forwarded as-is."""

    run_id: int
    event: WeightsEvent


@dataclass
class WeightsFinished(Message):
    """The weights run ended: ``status`` is "done", "cancelled" or "failed" (with ``error``)."""

    run_id: int
    status: str
    error: str | None = None


@dataclass
class SettingsChanged(Message):
    """A slider moved: the app's settings are now ``settings`` (a core ``Settings``)."""

    settings: Settings


@dataclass
class GPUsDetected(Message):
    """Local GPU detection finished (NVML / nvidia-smi): ``gpus`` are ``core.hardware.LocalGPU`` records."""

    gpus: tuple[LocalGPU, ...]


@dataclass
class DeploymentChanged(Message):
    """A hardware picker moved: the app's deployment is now ``deployment`` (a ``state.Deployment``)."""

    deployment: Deployment


@dataclass
class PlanReady(Message):
    """A plan worker finished: ``plan`` (a ``core.plan.Plan``) or ``error`` (one line), for request ``key``."""

    key: Hashable
    plan: Plan | None
    error: str | None = None


@dataclass
class PlansReady(Message):
    """Compare's plan worker finished: ``plans`` maps model id → ``core.plan.plan_summary`` (or {"error": …})."""

    key: Hashable
    plans: dict[str, JSONObject]

