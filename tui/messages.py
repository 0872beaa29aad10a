"""Typed messages the thread workers post back to the app.

Workers never touch widgets: they build one of these and post it (messages
are thread-safe), and the app or a screen reacts in an ``on_…`` handler. That
keeps every widget update on the event loop and makes the flow testable
(``run_test(message_hook=…)`` sees each message).
"""

from __future__ import annotations

from typing import Any

from textual.message import Message

from lmscope.tui.state import LoadedModel


class ModelLoaded(Message):
    """A model resolved and its analytic report built. ``slot``: 0 = main model, n = compare column."""

    def __init__(self, model: LoadedModel, slot: int) -> None:
        super().__init__()
        self.model = model
        self.slot = slot


class ModelFailed(Message):
    """A model could not be opened; ``error`` is a one-line, token-free message."""

    def __init__(self, spec: str, error: str, slot: int = 0) -> None:
        super().__init__()
        self.spec = spec
        self.error = error
        self.slot = slot


class ExactCountReady(Message):
    """The exact engine finished for ``model_id``: ``params`` is None when it could not run."""

    def __init__(self, model_id: str, params: Any | None, reason: str | None = None) -> None:
        super().__init__()
        self.model_id = model_id
        self.params = params
        self.reason = reason


class SearchFinished(Message):
    """Search results for ``query``; ``where`` says what was searched (Hub, catalog, cache)."""

    def __init__(self, query: str, results: list, where: str, error: str | None = None) -> None:
        super().__init__()
        self.query = query
        self.results = results
        self.where = where
        self.error = error


class WeightsEvent(Message):
    """One event of the weights engine (progress or one tensor's result), forwarded as-is."""

    def __init__(self, run_id: int, event: Any) -> None:
        super().__init__()
        self.run_id = run_id
        self.event = event


class WeightsFinished(Message):
    """The weights run ended: ``status`` is "done", "cancelled" or "failed" (with ``error``)."""

    def __init__(self, run_id: int, status: str, error: str | None = None) -> None:
        super().__init__()
        self.run_id = run_id
        self.status = status
        self.error = error


class SettingsChanged(Message):
    """A slider moved: the app's settings are now ``settings`` (a core ``Settings``)."""

    def __init__(self, settings: Any) -> None:
        super().__init__()
        self.settings = settings


class GPUsDetected(Message):
    """Local GPU detection finished (NVML / nvidia-smi): ``gpus`` are ``core.hardware.LocalGPU`` records."""

    def __init__(self, gpus: tuple) -> None:
        super().__init__()
        self.gpus = gpus


class DeploymentChanged(Message):
    """A hardware picker moved: the app's deployment is now ``deployment`` (a ``state.Deployment``)."""

    def __init__(self, deployment: Any) -> None:
        super().__init__()
        self.deployment = deployment


class PlanReady(Message):
    """A plan worker finished: ``plan`` (a ``core.plan.Plan``) or ``error`` (one line), for request ``key``."""

    def __init__(self, key: Any, plan: Any | None, error: str | None = None) -> None:
        super().__init__()
        self.key = key
        self.plan = plan
        self.error = error
