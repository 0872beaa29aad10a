"""Shared pytest fixtures for the whole suite (add yours below; keep each one general).

Hub fixtures — how tests talk to the loopback mock Hub (``tests/mockhub.py``)
without touching the network:

- ``huggingface_hub`` reads ``HF_ENDPOINT``, ``HF_HOME``, ``HF_HUB_OFFLINE`` and
  the token path into ``huggingface_hub.constants`` *once, at import time*.
  lmscope's Hub layer does not rely on those constants: it reads the
  environment at call time and passes ``endpoint=`` and ``cache_dir=``
  explicitly (``lmscope.core.hub.client.hub_settings``). So in-process tests
  only need ``monkeypatch.setenv`` — which ``hub_env``/``mock_hub`` do — plus two
  constants patched for safety: ``HF_HUB_OFFLINE`` (the library's request hook
  refuses every request when it was true at import) and ``HF_TOKEN_PATH`` (so
  a developer's real stored login is never sent to the mock).
- CLI tests run ``python -m lmscope`` in a subprocess with ``hub_cli_env``:
  a fresh interpreter imports the library with the mock's environment.
"""

from __future__ import annotations

import os
import sys

import pytest

HUB_ENV_VARS = (
    "HF_ENDPOINT",
    "HF_HOME",
    "HF_HUB_CACHE",
    "HUGGINGFACE_HUB_CACHE",
    "HF_TOKEN",
    "HUGGING_FACE_HUB_TOKEN",
    "HF_TOKEN_PATH",
    "HF_HUB_OFFLINE",
    "TRANSFORMERS_OFFLINE",
    "HF_HUB_ETAG_TIMEOUT",
    "HF_HUB_DOWNLOAD_TIMEOUT",
    "LMSCOPE_HUB_TIMEOUT",
    "LMSCOPE_HUB_MAX_WAIT",
    "LMSCOPE_HUB_RETRIES",
)


@pytest.fixture
def hub_env(tmp_path, monkeypatch):
    """An isolated Hugging Face environment: empty HF_HOME under tmp, no token, online, short timeouts.

    Yields the HF_HOME path. The endpoint points at a closed port until ``mock_hub`` sets it,
    so a test that forgets the mock fails fast instead of reaching huggingface.co.
    """
    home = tmp_path / "hf_home"
    home.mkdir()
    for name in HUB_ENV_VARS:
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("HF_HOME", str(home))
    monkeypatch.setenv("HF_ENDPOINT", "http://127.0.0.1:9")  # discard port: nothing listens
    monkeypatch.setenv("LMSCOPE_HUB_TIMEOUT", "5")
    monkeypatch.setenv("LMSCOPE_HUB_MAX_WAIT", "10")
    monkeypatch.setenv("HF_HUB_DISABLE_TELEMETRY", "1")
    import huggingface_hub.constants as constants

    monkeypatch.setattr(constants, "HF_HUB_OFFLINE", False)
    # the library's user-agent code fetches an "agent harnesses" list from the import-time endpoint
    monkeypatch.setattr(constants, "HF_HUB_DISABLE_TELEMETRY", True)
    monkeypatch.setattr(constants, "HF_TOKEN_PATH", str(home / "token"))
    monkeypatch.setattr(constants, "HF_STORED_TOKENS_PATH", str(home / "stored_tokens"), raising=False)
    yield home


@pytest.fixture
def mock_hub(hub_env, monkeypatch):
    """The standard mock Hub (``tests/mockhub.standard_hub``), started, with ``HF_ENDPOINT`` pointing at it."""
    sys.path.insert(0, os.path.dirname(__file__))
    try:
        from mockhub import standard_hub
    finally:
        sys.path.pop(0)
    _close_hub_sessions()
    hub = standard_hub().start()
    monkeypatch.setenv("HF_ENDPOINT", hub.url)
    try:
        yield hub
    finally:
        hub.stop()
        _close_hub_sessions()


def _close_hub_sessions() -> None:
    """Close huggingface_hub's shared client between mock servers, so each test starts on fresh connections.

    Each test's mock listens on a fresh port 0 and the OS may hand a later test
    the same port number: a keep-alive connection pooled by the shared client
    could otherwise carry a request to the previous test's server. This runs in
    the main thread before and after the test body, when no request of the test
    is in flight (a ``run_bounded`` call the test abandoned may still be, and
    simply fails). The EBADF flake under ``-n 2`` was not this: it was the
    library closing the shared client from a retrying background thread, which
    ``lmscope.core.hub.client.keep_shared_session_on_retry`` prevents.
    """
    if "huggingface_hub" in sys.modules:
        from huggingface_hub.utils import close_session

        close_session()


@pytest.fixture
def hub_cli_env(mock_hub, hub_env):
    """Environment for a ``python -m lmscope`` subprocess that talks to ``mock_hub`` only."""
    env = {k: v for k, v in os.environ.items() if k not in HUB_ENV_VARS}
    env.update(
        HF_ENDPOINT=mock_hub.url,
        HF_HOME=str(hub_env),
        LMSCOPE_HUB_TIMEOUT="5",
        LMSCOPE_HUB_MAX_WAIT="10",
        HF_HUB_DISABLE_TELEMETRY="1",
        PYTHONUNBUFFERED="1",
    )
    return env


@pytest.fixture
def lmscope_cli():
    """Run ``python -m lmscope ARGV`` in a subprocess: ``run(argv, env=None, timeout=120) -> CompletedProcess``.

    A broken import anywhere in lmscope fails the calling test (it sees the
    traceback and the non-zero exit); nothing here turns it into a skip.
    """
    import subprocess

    def run(argv, env=None, timeout=120):
        return subprocess.run(
            [sys.executable, "-m", "lmscope", *argv], env=env, capture_output=True, text=True, timeout=timeout
        )

    return run


@pytest.fixture
def retry_waits(monkeypatch):
    """The pauses lmscope's Hub client asks for between tries, in order (each still really sleeps).

    Tests assert on what the client decided to wait (Retry-After honoured, the
    budget kept), never on how long the machine took.
    """
    import time

    from lmscope.core.hub import client

    waits: list[float] = []

    def record(seconds: float) -> None:
        waits.append(seconds)
        time.sleep(seconds)

    monkeypatch.setattr(client, "retry_sleep", record)
    return waits


@pytest.fixture(autouse=True)
def _binary_byte_units():
    """Every test starts and ends in the default byte convention (GiB): ``u`` in the app and
    ``--units`` in the CLI switch a process-wide setting (core.units.set_byte_units)."""
    from lmscope.core.units import set_byte_units

    set_byte_units("binary")
    yield
    set_byte_units("binary")


# --------------------------------------------------------------------------- the app (Pilot tests)
#
# One copy of what every TUI test module needs. A module opts in with
# ``pytestmark = pytest.mark.usefixtures("offline_env")`` and imports the
# helpers: ``from conftest import make_app, wait_for, wait_workers``.


@pytest.fixture
def offline_env(tmp_path, monkeypatch):
    """No network, an empty HF cache, no exact engine, no user keymap, and the working directory in tmp."""
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setenv("HF_HOME", str(tmp_path / "hf"))
    monkeypatch.delenv("HF_HUB_CACHE", raising=False)
    monkeypatch.delenv("HUGGINGFACE_HUB_CACHE", raising=False)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "config"))  # a developer's keymap.toml stays out
    monkeypatch.delenv("LMSCOPE_KEYMAP", raising=False)
    monkeypatch.setenv("LMSCOPE_NO_EXACT", "1")
    monkeypatch.chdir(tmp_path)


def make_app(*models: str, **kwargs):
    """The app on ``models`` (none: the built-in default), not yet running."""
    from lmscope.tui.app import LmscopeApp

    return LmscopeApp(list(models), **kwargs)


async def wait_for(pilot, predicate, timeout: float = 30.0) -> None:
    """Let the app run until ``predicate()`` is true (fails after ``timeout`` seconds)."""
    import asyncio

    loop = asyncio.get_running_loop()
    end = loop.time() + timeout
    while not predicate():
        if loop.time() > end:
            raise AssertionError("timed out waiting for the app")
        await pilot.pause(0.05)


async def wait_workers(pilot, timeout: float = 60.0) -> None:
    """Wait until every worker has finished and the messages they posted have been handled.

    Chains count: a worker whose message starts another (local GPU detection, then the Plan
    screen's plan) is waited for too — the app is quiet only when a pause starts no new worker.
    A worker cancelled by a newer one (exclusive groups) is simply done. Timers are not workers:
    Search's debounce and Memory's deferred chart say when they are done with ``settled()``.
    """
    import asyncio

    from textual.worker import WorkerCancelled

    app = pilot.app
    loop = asyncio.get_running_loop()
    end = loop.time() + timeout
    quiet = 0
    while quiet < 2:  # twice in a row: a message handled in the pause may start the next worker
        try:
            await asyncio.wait_for(app.workers.wait_for_complete(), max(0.1, end - loop.time()))
        except WorkerCancelled:
            pass
        except TimeoutError:
            raise AssertionError(f"workers still running after {timeout} s: {list(app.workers)}") from None
        await pilot.pause()
        quiet = quiet + 1 if not app.workers else 0
