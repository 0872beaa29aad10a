"""The one place lmscope calls ``huggingface_hub``, and how its failures read.

Every Hub call goes through :func:`call`, which

- retries what is worth retrying (HTTP 429 and 5xx) with exponential backoff,
  honouring ``Retry-After``, within a bounded total wait (``max_wait``) and a
  bounded number of attempts, then gives up with one clear line;
- turns every other failure into a one-line :class:`HubError` subclass that
  says what to do (gated → accept the licence and pass a token; missing or
  private → check the id or pass a token; SSL → ``SSL_CERT_FILE``; offline →
  ``--offline`` and the cache) — with any token removed (``redact``).

Settings are read from the environment *at call time* (:func:`hub_settings`),
not at import time like ``huggingface_hub.constants``: the endpoint, the cache
folder and offline mode are passed explicitly to every library call, so a test
(or the TUI) can change ``HF_ENDPOINT``/``HF_HOME``/``HF_HUB_OFFLINE`` after
``huggingface_hub`` was imported and still be obeyed.

Some library calls retry internally with no overall bound (``HfApi.list_models``
and, when nothing is cached, ``hf_hub_download`` sleep ``Retry-After + 1``
seconds up to five times, and ``list_models`` sends no timeout). Search
therefore makes its one request through the library's session itself
(``search.py``), and ``hf_hub_download`` runs under :func:`call` with
``bounded=True``: in a daemon thread we stop waiting for after the budget.
"""

from __future__ import annotations

import os
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TypeVar

from lmscope.core.errors import FileFormatError, HubError, LmscopeError
from lmscope.core.redact import redact, shown

T = TypeVar("T")

DEFAULT_ENDPOINT = "https://huggingface.co"
TOKEN_HELP = "pass a token with --token, HF_TOKEN or `hf auth login`"


class HubGatedError(HubError):
    """The repo is gated and the caller has no accepted access."""


class HubNotFoundError(HubError):
    """The repo, revision or file does not exist (or is private and no token can see it)."""


class HubRateLimitError(HubError):
    """The Hub kept answering 429 beyond our retry budget."""


class HubUnreachableError(HubError):
    """The Hub could not be reached (timeout, connection, SSL, offline mode): the cache may still help."""


@dataclass(frozen=True)
class HubSettings:
    """Where and how to talk to the Hub, read from the environment when a call starts.

    ``timeout``: seconds to wait for one metadata answer (``LMSCOPE_HUB_TIMEOUT``,
    else ``HF_HUB_ETAG_TIMEOUT``, default 10). ``download_timeout``: for a file
    body (``HF_HUB_DOWNLOAD_TIMEOUT``, default 10). ``max_wait``: total seconds
    one logical call may spend waiting on retries (``LMSCOPE_HUB_MAX_WAIT``,
    default 30). ``max_attempts``: tries per call (``LMSCOPE_HUB_RETRIES`` + 1).
    """

    endpoint: str
    cache_dir: str
    offline: bool
    timeout: float = 10.0
    download_timeout: float = 10.0
    max_wait: float = 30.0
    max_attempts: int = 5
    base_delay: float = 0.5
    max_delay: float = 8.0


def _truthy(value: str | None) -> bool:
    return (value or "").strip().lower() in ("1", "true", "yes", "on")


def _env_float(names: tuple[str, ...], default: float) -> float:
    for name in names:
        raw = os.environ.get(name)
        if raw:
            try:
                value = float(raw)
            except ValueError:
                continue
            if value > 0:
                return value
    return default


def default_cache_dir() -> str:
    """The standard HF hub cache folder, as ``huggingface_hub`` computes it, from the current environment."""
    if os.environ.get("HF_HUB_CACHE"):
        return os.path.expanduser(os.environ["HF_HUB_CACHE"])
    if os.environ.get("HUGGINGFACE_HUB_CACHE"):
        return os.path.expanduser(os.environ["HUGGINGFACE_HUB_CACHE"])
    home = os.environ.get("HF_HOME") or os.path.join(
        os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache"), "huggingface"
    )
    return os.path.join(os.path.expanduser(home), "hub")


def env_offline() -> bool:
    """Whether offline mode is on: ``HF_HUB_OFFLINE``/``TRANSFORMERS_OFFLINE`` now, or at library import."""
    if _truthy(os.environ.get("HF_HUB_OFFLINE")) or _truthy(os.environ.get("TRANSFORMERS_OFFLINE")):
        return True
    import sys

    constants = sys.modules.get("huggingface_hub.constants")
    return bool(getattr(constants, "HF_HUB_OFFLINE", False)) if constants is not None else False


def hub_settings(*, offline: bool = False) -> HubSettings:
    """The settings for a call starting now (environment read at call time)."""
    retries = int(_env_float(("LMSCOPE_HUB_RETRIES",), 4))
    return HubSettings(
        endpoint=(os.environ.get("HF_ENDPOINT") or DEFAULT_ENDPOINT).rstrip("/"),
        cache_dir=default_cache_dir(),
        offline=offline or env_offline(),
        timeout=_env_float(("LMSCOPE_HUB_TIMEOUT", "HF_HUB_ETAG_TIMEOUT"), 10.0),
        download_timeout=_env_float(("LMSCOPE_HUB_TIMEOUT", "HF_HUB_DOWNLOAD_TIMEOUT"), 10.0),
        max_wait=_env_float(("LMSCOPE_HUB_MAX_WAIT",), 30.0),
        max_attempts=max(1, retries + 1),
    )


_configured = False


def hf():
    """``huggingface_hub``, imported on first use and told to keep quiet.

    Progress bars and retry warnings would scribble over the TUI and the
    CLI's one-line errors; ``LMSCOPE_HUB_DEBUG=1`` keeps the library's logs.
    """
    global _configured
    import huggingface_hub

    if not _configured:
        _configured = True
        keep_shared_session_on_retry(huggingface_hub)
        if not _truthy(os.environ.get("LMSCOPE_HUB_DEBUG")):
            try:
                huggingface_hub.utils.disable_progress_bars()
                huggingface_hub.utils.logging.set_verbosity_error()
            except Exception:  # noqa: BLE001 - cosmetics only
                pass
    return huggingface_hub


# ---------------------------------------------------------------------------
# The library's shared HTTP client
# ---------------------------------------------------------------------------
#
# huggingface_hub sends every request through one process-global ``httpx2.Client``
# (``get_session()``), and its retry loop (``_http_backoff_base``, behind
# ``hf_hub_download`` and friends) calls ``close_session()`` whenever *any* request
# gets an ``httpx2.ConnectError`` (meant to drop stale SSL state). That closes the
# shared connection pool, i.e. the sockets other threads are reading at that very
# moment -- their reads fail with ``[Errno 9] Bad file descriptor``
# (``httpx2.ReadError``) -- and, since ``close_session`` sets the global to None
# without the lock ``get_session`` reads it under, another thread's
# ``get_session()`` can even return None (``'NoneType' object has no attribute
# 'get'``). lmscope has several threads on that client at once: the header reads'
# pool, concurrent config downloads, and :func:`run_bounded` calls abandoned after
# their budget, which keep retrying in the background (the library sleeps
# Retry-After + 1 s between tries). One thread's connection error -- e.g. an
# abandoned call retrying against a Hub that has gone away -- broke unrelated
# requests in flight.
#
# :func:`keep_shared_session_on_retry` therefore makes that one call site leave
# the shared client alone. Nothing is lost: a failed connect leaves no connection
# in the pool, and the SSL context would be rebuilt from the same settings.
# ``close_session()`` called anywhere else (``set_client_factory``, an
# application, at exit or fork) behaves as before.

_RETRY_LOOP = "_http_backoff_base"


def keep_shared_session_on_retry(huggingface_hub) -> None:
    """Stop the library's retry loop from closing the client other threads are using (see above).

    Patches the module-level ``close_session`` name that ``huggingface_hub.utils._http``
    looks up at call time; without it (another library version) nothing changes.
    """
    try:
        from huggingface_hub.utils import _http
    except ImportError:  # pragma: no cover - other library layouts
        return
    original = getattr(_http, "close_session", None)
    if original is None or not hasattr(_http, _RETRY_LOOP) or getattr(original, "_lmscope_wrapped", False):
        return

    def close_session() -> None:
        if sys._getframe(1).f_code.co_name == _RETRY_LOOP:
            return  # a ConnectError in one thread: keep the pool the others are reading from
        original()

    close_session._lmscope_wrapped = True  # type: ignore[attr-defined]
    close_session.__doc__ = original.__doc__
    _http.close_session = close_session


def api(settings: HubSettings):
    """An ``HfApi`` bound to the endpoint of ``settings``."""
    return hf().HfApi(endpoint=settings.endpoint, library_name="lmscope")


def token_arg(token: str | None) -> str | bool:
    """What to pass as ``token=``: ours, or False so the library does not look one up again."""
    return token if token else False


# ---------------------------------------------------------------------------
# Classifying failures
# ---------------------------------------------------------------------------


def _chain(exc: BaseException | None):
    seen: set[int] = set()
    while exc is not None and id(exc) not in seen:
        seen.add(id(exc))
        yield exc
        exc = exc.__cause__ or exc.__context__


def _status(exc: BaseException) -> int | None:
    response = getattr(exc, "response", None)
    return getattr(response, "status_code", None) if response is not None else None


def _is_ssl(exc: BaseException) -> bool:
    import ssl

    for e in _chain(exc):
        if isinstance(e, ssl.SSLError):
            return True
        text = str(e)
        if "CERTIFICATE_VERIFY_FAILED" in text or "SSLError" in text or "[SSL" in text:
            return True
    return False


def classify(exc: BaseException) -> str:
    """One word for a failure: gated, not_found, revision, entry, rate, server, timeout, ssl, connect, offline, cache_miss, format, auth, other."""
    import huggingface_hub.errors as e

    try:
        import httpx2 as httpx  # the HTTP client huggingface_hub >= 1.x uses
    except ImportError:  # pragma: no cover - older huggingface_hub versions
        try:
            import httpx  # type: ignore[no-redef]
        except ImportError:
            httpx = None  # type: ignore[assignment]

    if isinstance(exc, e.GatedRepoError):
        return "gated"
    if isinstance(exc, e.RevisionNotFoundError):
        return "revision"
    if isinstance(exc, e.RepositoryNotFoundError):
        return "not_found"
    if isinstance(exc, (e.RemoteEntryNotFoundError,)) or type(exc).__name__ == "EntryNotFoundError":
        return "entry"
    if isinstance(exc, e.OfflineModeIsEnabled):
        return "offline"
    if isinstance(exc, e.LocalEntryNotFoundError):
        return "cache_miss"
    if isinstance(exc, getattr(e, "SafetensorsParsingError", ())) or isinstance(exc, getattr(e, "NotASafetensorsRepoError", ())):
        return "format"
    if isinstance(exc, e.HfHubHTTPError) or _status(exc) is not None:
        status = _status(exc) or 0
        if status == 429:
            return "rate"
        if status >= 500 or status == 408:
            return "server"
        if status == 401:
            return "auth"
        return "other"
    if httpx is not None:
        if isinstance(exc, httpx.TimeoutException):
            return "timeout"
        if isinstance(exc, (httpx.ConnectError, httpx.NetworkError, httpx.RemoteProtocolError, httpx.ProxyError)):
            return "ssl" if _is_ssl(exc) else "connect"
    if isinstance(exc, TimeoutError):
        return "timeout"
    if isinstance(exc, (ConnectionError, OSError)) and _is_ssl(exc):
        return "ssl"
    if isinstance(exc, ConnectionError):
        return "connect"
    return "other"


def retry_after_seconds(exc: BaseException) -> float | None:
    """The ``Retry-After`` (seconds) the Hub sent with a 429/5xx, if any."""
    response = getattr(exc, "response", None)
    headers = getattr(response, "headers", None)
    if not headers:
        return None
    value = headers.get("Retry-After") or headers.get("retry-after")
    if value is None:
        return None
    try:
        return max(0.0, float(str(value).strip()))
    except ValueError:
        return None


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    return shown(text[0], 200) if text else type(exc).__name__


def to_hub_error(
    exc: BaseException,
    *,
    what: str,
    repo_id: str | None = None,
    filename: str | None = None,
    revision: str | None = None,
    settings: HubSettings | None = None,
    token: str | None = None,
) -> LmscopeError:
    """A one-line, token-free :class:`HubError` (or :class:`FileFormatError`) for ``exc``."""
    if isinstance(exc, LmscopeError):
        return exc
    kind = classify(exc)
    endpoint = settings.endpoint if settings else DEFAULT_ENDPOINT
    repo = repo_id or "the repo"
    page = f"{DEFAULT_ENDPOINT}/{repo_id}" if repo_id else DEFAULT_ENDPOINT
    status = _status(exc)
    if kind == "gated":
        if token:
            msg = (
                f"{repo} is a gated model and your token has no access yet: accept its licence at {page} "
                "with the account the token belongs to, then try again"
            )
        else:
            msg = f"{repo} is a gated model: accept its licence at {page}, then {TOKEN_HELP}"
        cls: type[HubError] = HubGatedError
    elif kind == "not_found":
        hint = "check the id, or your token cannot see it" if token else f"if it is private, {TOKEN_HELP}"
        msg, cls = f"{repo} was not found on the Hub or is private ({hint})", HubNotFoundError
    elif kind == "revision":
        msg, cls = f"revision {shown(revision or '?', 60)} was not found in {repo}", HubNotFoundError
    elif kind == "entry":
        msg = f"{shown(filename or 'the file')} was not found in {repo}" + (f" at {shown(revision, 60)}" if revision else "")
        cls = HubNotFoundError
    elif kind == "offline":
        msg = f"offline mode (--offline or HF_HUB_OFFLINE=1): {what} is not in the local cache"
        cls = HubUnreachableError
    elif kind == "cache_miss":
        msg = f"{what} is not in the local cache and the Hub could not be reached"
        cls = HubUnreachableError
    elif kind == "format":
        return FileFormatError(redact(f"{what}: {_first_line(exc)}"))
    elif kind == "rate":
        msg = f"the Hub is rate-limiting requests (HTTP 429) for {what}; wait a few minutes, or {TOKEN_HELP} for higher limits"
        cls = HubRateLimitError
    elif kind == "server":
        msg, cls = f"the Hub answered HTTP {status} for {what}; try again later or use --offline", HubError
    elif kind == "auth":
        msg, cls = (
            f"the Hub rejected the credentials for {what} (HTTP 401): the token is invalid or expired; "
            f"create a new one at {DEFAULT_ENDPOINT}/settings/tokens",
            HubError,
        )
    elif kind == "timeout" and isinstance(exc, BoundedTimeout):
        msg = (
            f"the Hub ({endpoint}) did not finish {what} in time ({exc}; slow, or rate-limiting); "
            "try again later, raise LMSCOPE_HUB_MAX_WAIT, or use --offline"
        )
        cls = HubUnreachableError
    elif kind == "timeout":
        secs = f" within {settings.timeout:g} s" if settings else ""
        msg = f"the Hub ({endpoint}) did not answer{secs} for {what}; check your connection, raise LMSCOPE_HUB_TIMEOUT, or use --offline"
        cls = HubUnreachableError
    elif kind == "ssl":
        msg = (
            f"SSL certificate verification failed for {endpoint}: point SSL_CERT_FILE (or SSL_CERT_DIR) at your CA "
            "bundle (huggingface_hub now uses httpx, which does not read REQUESTS_CA_BUNDLE), check HTTPS_PROXY, "
            "or use --offline"
        )
        cls = HubUnreachableError
    elif kind == "connect":
        msg = f"cannot reach the Hub at {endpoint} ({_first_line(exc)}); use --offline to work from the local cache"
        cls = HubUnreachableError
    elif status is not None:
        msg, cls = f"the Hub answered HTTP {status} for {what}: {_first_line(exc)}", HubError
    else:
        msg, cls = f"Hub request for {what} failed: {type(exc).__name__}: {_first_line(exc)}", HubError
    return cls(redact(msg))


# ---------------------------------------------------------------------------
# Calling with bounded retries
# ---------------------------------------------------------------------------

RETRYABLE = ("rate", "server")


class BoundedTimeout(TimeoutError):
    """A bounded library call did not finish in time (slow answers, or the library's own retries)."""


def run_bounded(fn: Callable[[], T], seconds: float) -> T:
    """``fn()`` in a daemon thread; raise ``TimeoutError`` if it has not finished after ``seconds``.

    For library calls with their own unbounded waits. The abandoned thread
    keeps running in the background (it cannot be killed) but nobody waits on it.
    """
    box: dict[str, object] = {}

    def target() -> None:
        try:
            box["value"] = fn()
        except BaseException as exc:  # noqa: BLE001 - handed back to the caller
            box["error"] = exc

    thread = threading.Thread(target=target, name="lmscope-hub-call", daemon=True)
    thread.start()
    thread.join(max(0.0, seconds))
    if thread.is_alive():
        raise BoundedTimeout(f"no answer within {seconds:.1f} s")
    if "error" in box:
        raise box["error"]  # type: ignore[misc]
    return box["value"]  # type: ignore[return-value]


def retry_sleep(seconds: float) -> None:
    """The pause between two tries of :func:`call` (a module attribute, so tests can record the waits asked for)."""
    time.sleep(seconds)


def call(
    fn: Callable[[], T],
    *,
    what: str,
    settings: HubSettings,
    repo_id: str | None = None,
    filename: str | None = None,
    revision: str | None = None,
    token: str | None = None,
    bounded: bool = False,
    sleep: Callable[[float], None] | None = None,
) -> T:
    """``fn()`` with retries on 429/5xx (``Retry-After`` honoured, bounded) and every failure mapped.

    ``bounded=True`` also caps the wall time of each attempt (for library
    calls that wait or retry internally without a bound).
    """
    start = time.monotonic()
    delay = settings.base_delay
    attempt = 0
    while True:
        attempt += 1
        try:
            if bounded:
                remaining = settings.max_wait - (time.monotonic() - start)
                return run_bounded(fn, max(remaining, 0.0) + settings.timeout)
            return fn()
        except LmscopeError:
            raise
        except Exception as exc:  # noqa: BLE001 - every failure becomes one line
            kind = classify(exc)
            if kind not in RETRYABLE:
                raise to_hub_error(
                    exc, what=what, repo_id=repo_id, filename=filename, revision=revision, settings=settings, token=token
                ) from exc
            elapsed = time.monotonic() - start
            asked = retry_after_seconds(exc)
            wait = asked if asked is not None else delay
            delay = min(delay * 2, settings.max_delay)
            if attempt >= settings.max_attempts or elapsed + wait > settings.max_wait:
                base = to_hub_error(exc, what=what, repo_id=repo_id, settings=settings, token=token)
                detail = f"gave up after {attempt} tries in {elapsed:.1f} s"
                if asked is not None and elapsed + wait > settings.max_wait:
                    detail += f" (the Hub asked to wait {asked:g} s more; LMSCOPE_HUB_MAX_WAIT is {settings.max_wait:g} s)"
                raise type(base)(redact(f"{base} — {detail}")) from exc
            (sleep or retry_sleep)(wait)


def cached_file(repo_id: str, filename: str, *, revision: str | None, settings: HubSettings) -> str | None:
    """The path of ``filename`` in the local HF cache (no network), or None."""
    try:
        found = hf().try_to_load_from_cache(repo_id, filename, cache_dir=settings.cache_dir, revision=revision)
    except Exception:  # noqa: BLE001 - a cache we cannot read is a cache miss
        return None
    return found if isinstance(found, str) and Path(found).is_file() else None
