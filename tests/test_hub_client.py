"""The Hub client layer: token order, error mapping, bounded 429 retries, timeouts, SSL, redaction.

Everything runs against the loopback mock Hub (tests/mockhub.py); no network.
"""

from __future__ import annotations

import ssl

import pytest
from mockhub import GATED, PRIVATE, TINY_LLAMA, VALID_TOKEN

from lmscope.core.errors import HubError, LmscopeError
from lmscope.core.hub import client
from lmscope.core.hub.client import (
    HubGatedError,
    HubNotFoundError,
    HubRateLimitError,
    HubUnreachableError,
    hub_settings,
)
from lmscope.core.hub.info import model_metadata
from lmscope.core.hub.token import resolve_token, token_source
from lmscope.core.redact import redact

SECRET = "hf_SecretTokenForRedactionTests0123456789"


# --------------------------------------------------------------------- tokens


def test_token_order_explicit_env_stored(hub_env, monkeypatch):
    (hub_env / "token").write_text("hf_StoredLoginToken00000000000000000\n")
    assert resolve_token(None) == "hf_StoredLoginToken00000000000000000"
    assert token_source(None) == "stored login"
    monkeypatch.setenv("HF_TOKEN", "hf_EnvToken0000000000000000000000")
    assert resolve_token(None) == "hf_EnvToken0000000000000000000000"
    assert token_source(None) == "HF_TOKEN"
    assert resolve_token("  hf_Explicit000000000000000000000000 ") == "hf_Explicit000000000000000000000000"
    assert token_source("x") == "--token"


def test_no_token_anywhere(hub_env):
    assert resolve_token(None) is None
    assert resolve_token("   ") is None
    assert token_source(None) == "none"


def test_resolved_token_is_registered_for_redaction(hub_env):
    odd = "not-token-shaped-secret-value"  # would not match the hf_ pattern on its own
    resolve_token(odd)
    assert odd not in redact(f"failed with {odd}")


# ------------------------------------------------------------- error mapping


def test_missing_repo_one_line(mock_hub):
    with pytest.raises(HubNotFoundError) as err:
        model_metadata("nobody/does-not-exist")
    msg = str(err.value)
    assert "nobody/does-not-exist" in msg and "not found" in msg and "private" in msg and "token" in msg
    assert "\n" not in msg


def test_private_repo_needs_token(mock_hub):
    with pytest.raises(HubNotFoundError):
        model_metadata(PRIVATE)
    meta = model_metadata(PRIVATE, token=VALID_TOKEN)
    assert meta.private is True
    sent = mock_hub.requests_for(f"/api/models/{PRIVATE}$")
    assert sent[-1].authorization == f"Bearer {VALID_TOKEN}"


def test_gated_message_links_licence_and_token_options(mock_hub):
    from lmscope.core.hub.fetch import fetch_config_files

    with pytest.raises(HubGatedError) as err:
        fetch_config_files(GATED)
    msg = str(err.value)
    assert "gated" in msg and f"https://huggingface.co/{GATED}" in msg
    assert "--token" in msg and "HF_TOKEN" in msg and "hf auth login" in msg
    assert "\n" not in msg
    # with an accepted token the same repo works
    files, meta, _ = fetch_config_files(GATED, token=VALID_TOKEN)
    assert files.config["model_type"] == "llama" and meta.gated == "manual"


def test_gated_with_unaccepted_token_says_accept_licence(mock_hub):
    from lmscope.core.hub.fetch import fetch_config_files

    with pytest.raises(HubGatedError) as err:
        fetch_config_files(GATED, token=SECRET)
    assert "licence" in str(err.value) and SECRET not in str(err.value)


def test_rejected_token_says_invalid_or_expired(mock_hub):
    mock_hub.rejected_tokens.add(SECRET)
    with pytest.raises(HubError) as err:
        model_metadata(TINY_LLAMA, token=SECRET)
    msg = str(err.value)
    assert "invalid or expired" in msg and SECRET not in msg and "\n" not in msg


# ------------------------------------------------------------------ retries


def test_429_then_success_honours_retry_after(mock_hub, retry_waits):
    mock_hub.rate_limit_first = 1
    mock_hub.retry_after = "1"
    meta = model_metadata(TINY_LLAMA)
    assert meta.repo_id == TINY_LLAMA
    calls = mock_hub.requests_for(f"/api/models/{TINY_LLAMA}$")
    assert [r.status for r in calls] == [429, 200]
    assert retry_waits == [1.0]  # exactly the Retry-After the mock sent, once


def test_429_without_retry_after_backs_off_exponentially():
    settings = client.HubSettings(endpoint="http://x", cache_dir="/nonexistent", offline=False, max_wait=100, max_attempts=4)
    waits: list[float] = []

    def fail():
        import httpx2
        from huggingface_hub.errors import HfHubHTTPError

        response = httpx2.Response(429, request=httpx2.Request("GET", "http://x/api/models"))
        raise HfHubHTTPError("429 Too Many Requests", response=response)

    with pytest.raises(HubRateLimitError) as err:
        client.call(fail, what="a test", settings=settings, sleep=waits.append)
    assert waits == [0.5, 1.0, 2.0]  # three sleeps between four attempts, doubling
    assert "gave up after 4 tries" in str(err.value)


def test_429_forever_gives_up_clearly_and_bounded(mock_hub, monkeypatch, retry_waits):
    monkeypatch.setenv("LMSCOPE_HUB_MAX_WAIT", "1.5")
    mock_hub.rate_limit_first = 10_000
    mock_hub.retry_after = "1"
    with pytest.raises(HubRateLimitError) as err:
        model_metadata(TINY_LLAMA)
    msg = str(err.value)
    assert "rate-limiting" in msg and "429" in msg and "gave up" in msg and "\n" not in msg
    assert sum(retry_waits) <= 1.5  # the budget (LMSCOPE_HUB_MAX_WAIT) bounds the waiting, whatever the machine
    assert len(mock_hub.requests_for(f"/api/models/{TINY_LLAMA}$")) == len(retry_waits) + 1 <= 3


def test_retry_after_beyond_budget_gives_up_at_once(mock_hub, monkeypatch, retry_waits):
    monkeypatch.setenv("LMSCOPE_HUB_MAX_WAIT", "5")
    mock_hub.rate_limit_first = 10_000
    mock_hub.retry_after = "3600"
    with pytest.raises(HubRateLimitError) as err:
        model_metadata(TINY_LLAMA)
    assert retry_waits == []  # a wait past the budget is not started at all
    assert len(mock_hub.requests_for(f"/api/models/{TINY_LLAMA}$")) == 1
    assert "3600" in str(err.value)


def test_search_429_retries_are_bounded(mock_hub, monkeypatch, retry_waits):
    from lmscope.core.hub.search import search_models

    monkeypatch.setenv("LMSCOPE_HUB_MAX_WAIT", "1")
    mock_hub.rate_limit_first = 10_000
    mock_hub.retry_after = "0"
    with pytest.raises(HubRateLimitError) as err:
        search_models("llama")
    assert retry_waits == [0.0] * 4  # Retry-After: 0 honoured between five tries, then it stops
    assert len(mock_hub.requests_for("^/api/models$")) == 5
    assert "\n" not in str(err.value) and "gave up after 5 tries" in str(err.value)


def test_search_429_then_success(mock_hub):
    from lmscope.core.hub.search import search_models

    mock_hub.rate_limit_first = 2
    mock_hub.retry_after = "0"
    assert [r.model_id for r in search_models("tiny-llama")] == [TINY_LLAMA]
    assert [r.status for r in mock_hub.requests_for("^/api/models$")] == [429, 429, 200]


# ---------------------------------------------------------- timeouts, SSL, offline


def test_slow_answer_times_out_one_line(mock_hub, monkeypatch):
    monkeypatch.setenv("LMSCOPE_HUB_TIMEOUT", "0.3")
    mock_hub.delay_s = 2.0
    with pytest.raises(HubUnreachableError) as err:
        model_metadata(TINY_LLAMA)
    assert "did not answer" in str(err.value) and "--offline" in str(err.value)
    # the mock saw the client hang up while it was still holding the answer back
    assert mock_hub.client_gave_up.wait(timeout=10)
    assert all(r.gave_up for r in mock_hub.requests_for(f"/api/models/{TINY_LLAMA}$"))


def test_connection_refused_says_unreachable(hub_env):
    with pytest.raises(HubUnreachableError) as err:
        model_metadata(TINY_LLAMA)
    assert "cannot reach the Hub" in str(err.value) and "--offline" in str(err.value)


def test_ssl_failure_names_the_remedies_httpx_supports():
    import httpx2

    try:
        try:
            raise ssl.SSLCertVerificationError(1, "[SSL: CERTIFICATE_VERIFY_FAILED] certificate verify failed")
        except ssl.SSLError as inner:
            raise httpx2.ConnectError("[SSL: CERTIFICATE_VERIFY_FAILED]") from inner
    except httpx2.ConnectError as exc:
        err = client.to_hub_error(exc, what="x", settings=hub_settings())
    assert isinstance(err, HubUnreachableError)
    assert "SSL_CERT_FILE" in str(err) and "REQUESTS_CA_BUNDLE" in str(err)


def test_untrusted_certificate_then_ssl_cert_file_fixes_it(hub_env, tmp_path, monkeypatch, lmscope_cli):
    """A real TLS failure maps to the SSL message, and the remedy it names (SSL_CERT_FILE) really works."""
    import os

    from mockhub import self_signed_cert, standard_hub

    tls = self_signed_cert(tmp_path)
    if tls is None:
        pytest.skip("this machine has no openssl CLI to make a throw-away TLS certificate")
    hub = standard_hub().start(tls=tls)
    try:
        monkeypatch.setenv("HF_ENDPOINT", hub.url)
        assert hub.url.startswith("https://")
        with pytest.raises(HubUnreachableError) as err:
            model_metadata(TINY_LLAMA)
        assert "SSL certificate verification failed" in str(err.value) and "SSL_CERT_FILE" in str(err.value)
        env = {**os.environ, "SSL_CERT_FILE": tls[0], "HF_HUB_DISABLE_TELEMETRY": "1"}
        proc = lmscope_cli(["search", "tiny", "--format", "json"], env=env)
        assert proc.returncode == 0, proc.stderr
        assert TINY_LLAMA in proc.stdout
    finally:
        hub.stop()


def test_offline_mode_refuses_metadata(hub_env, monkeypatch):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    with pytest.raises(HubUnreachableError) as err:
        model_metadata(TINY_LLAMA)
    assert "offline" in str(err.value)


def test_settings_read_at_call_time(hub_env, monkeypatch):
    monkeypatch.setenv("HF_ENDPOINT", "http://127.0.0.1:1234/")
    monkeypatch.setenv("LMSCOPE_HUB_TIMEOUT", "2.5")
    s = hub_settings()
    assert s.endpoint == "http://127.0.0.1:1234" and s.timeout == 2.5
    assert s.cache_dir == str(hub_env / "hub") and s.offline is False
    monkeypatch.setenv("HF_HUB_CACHE", str(hub_env / "elsewhere"))
    assert hub_settings().cache_dir == str(hub_env / "elsewhere")


# ------------------------------------------------------------------ redaction


@pytest.mark.parametrize("repo", [GATED, PRIVATE, "nobody/missing"])
def test_token_never_in_error_text(mock_hub, repo):
    from lmscope.core.hub.fetch import fetch_config_files

    with pytest.raises(LmscopeError) as err:
        fetch_config_files(repo, token=SECRET)
    assert SECRET not in str(err.value) and SECRET not in repr(err.value.args)
    # the token was sent (the Hub needs it) ...
    assert any(r.authorization == f"Bearer {SECRET}" for r in mock_hub.requests)


def test_token_never_printed_by_cli(hub_cli_env, mock_hub, lmscope_cli):
    from mockhub import GATED_TINY

    for argv in (
        ["report", GATED_TINY, "--token", SECRET, "--format", "json", "--no-exact", "--verbose"],
        ["report", "nobody/missing", "--token", SECRET, "--format", "json"],
        ["search", "llama", "--token", SECRET, "--verbose"],
        ["search", "llama", "--token", SECRET, "--format", "json"],
    ):
        proc = lmscope_cli(argv, env=hub_cli_env)
        assert SECRET not in proc.stdout and SECRET not in proc.stderr, argv
        assert "Traceback" not in proc.stderr
    assert any(r.authorization == f"Bearer {SECRET}" for r in mock_hub.requests)  # sent, never printed


def test_token_from_env_never_in_the_exported_report(hub_cli_env, mock_hub, lmscope_cli, tmp_path):
    from mockhub import GATED_TINY

    env = {**hub_cli_env, "HF_TOKEN": VALID_TOKEN}
    out = tmp_path / "report.json"
    proc = lmscope_cli(["report", GATED_TINY, "--format", "json", "--no-exact", "--output", str(out), "--verbose"], env=env)
    assert proc.returncode == 0, proc.stderr
    assert VALID_TOKEN not in out.read_text() and VALID_TOKEN not in proc.stderr + proc.stdout
    assert mock_hub.requests_for(f"^/api/models/{GATED_TINY}$")[-1].authorization == f"Bearer {VALID_TOKEN}"
    denied = lmscope_cli(["report", GATED_TINY, "--format", "json", "--no-exact"], env={**hub_cli_env, "HF_HOME": str(tmp_path / "empty")})
    assert denied.returncode == 1 and "gated" in denied.stderr and len(denied.stderr.strip().splitlines()) == 1


def test_importing_the_hub_layer_does_not_import_huggingface_hub():
    import subprocess
    import sys

    code = (
        "import sys, lmscope.core.hub, lmscope.core.hub.client, lmscope.core.hub.token, lmscope.core.hub.search, "
        "lmscope.core.hub.info, lmscope.core.hub.fetch, lmscope.core.hub.headers, lmscope.commands.search; "
        "heavy = [m for m in ('huggingface_hub', 'httpx2', 'torch', 'transformers', 'textual') if m in sys.modules]; "
        "assert not heavy, heavy"
    )
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0, proc.stderr
