"""Config-only fetch into the standard HF cache, cache fallbacks and offline mode, against the mock Hub."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from mockhub import HUB_FIXTURES, QWEN, TINY_LLAMA, safetensors_params

from lmscope.core.errors import ConfigError, HubError
from lmscope.core.hub.client import HubNotFoundError, HubUnreachableError
from lmscope.core.hub.fetch import fetch_config_files, fetch_model, load_json_file, model_source

FIXTURE = HUB_FIXTURES / TINY_LLAMA


def _file_requests(hub, suffix: str = ""):
    return [r for r in hub.requests if "/resolve/" in r.path and r.path.endswith(suffix)]


def test_fetch_downloads_description_files_only(mock_hub, hub_env):
    files, meta, note = fetch_config_files(TINY_LLAMA)
    assert note == ""
    assert files.config == json.loads((FIXTURE / "config.json").read_text())
    assert files.tokenizer_config == json.loads((FIXTURE / "tokenizer_config.json").read_text())
    assert files.generation_config == json.loads((FIXTURE / "generation_config.json").read_text())
    index = json.loads(mock_hub.repos[TINY_LLAMA].files["model.safetensors.index.json"])
    assert files.safetensors_index == index
    assert files.tokenizer_json_path
    assert Path(files.tokenizer_json_path).read_bytes() == (FIXTURE / "tokenizer.json").read_bytes()
    assert files.quantize_config is None
    # into the standard cache layout under HF_HOME
    assert files.tokenizer_json_path.startswith(str(hub_env / "hub" / "models--lmscope-test--tiny-llama" / "snapshots"))
    # metadata came with it
    assert meta.repo_id == TINY_LLAMA and meta.sha == mock_hub.repos[TINY_LLAMA].sha and meta.downloads == 1234
    # never a weight byte: no request touched a .safetensors file, no 404 probes for absent files
    assert _file_requests(mock_hub, ".safetensors") == []
    assert all(r.status in (200, 206) for r in mock_hub.requests)
    assert not any("quant" in r.path for r in mock_hub.requests)


def test_second_fetch_is_served_from_the_cache(mock_hub):
    fetch_config_files(TINY_LLAMA)
    mock_hub.reset_counters()
    files, meta, _ = fetch_config_files(TINY_LLAMA)
    assert files.config["hidden_size"] == 64 and meta is not None
    assert _file_requests(mock_hub) == []  # one metadata request, nothing downloaded again
    assert len(mock_hub.requests_for("^/api/models/")) == 1


def test_offline_flag_uses_cache_only_and_says_so(mock_hub):
    fetch_config_files(TINY_LLAMA)
    mock_hub.reset_counters()
    files, meta, note = fetch_config_files(TINY_LLAMA, offline=True)
    assert files.config["num_hidden_layers"] == 2 and meta is None
    assert "offline" in note and "cache" in note
    assert mock_hub.requests == []


def test_hf_hub_offline_env_uses_cache_only(mock_hub, monkeypatch):
    fetch_config_files(TINY_LLAMA)
    mock_hub.reset_counters()
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    files, meta, note = fetch_config_files(TINY_LLAMA)
    assert files.tokenizer_config is not None and meta is None and "offline" in note
    assert mock_hub.requests == []


def test_offline_and_not_cached_is_one_clear_line(mock_hub):
    with pytest.raises(HubUnreachableError) as err:
        fetch_config_files(QWEN, offline=True)
    msg = str(err.value)
    assert "offline" in msg and "not in the local Hugging Face cache" in msg and "\n" not in msg
    assert mock_hub.requests == []


def test_unreachable_hub_falls_back_to_cache_with_a_note(mock_hub, monkeypatch):
    fetch_config_files(TINY_LLAMA)
    monkeypatch.setenv("HF_ENDPOINT", "http://127.0.0.1:9")  # nothing listens there
    files, meta, note = fetch_config_files(TINY_LLAMA)
    assert files.config["hidden_size"] == 64 and meta is None
    assert "could not be used" in note and "cached copy" in note


def test_slow_hub_times_out_then_falls_back_to_cache(mock_hub, monkeypatch):
    fetch_config_files(TINY_LLAMA)
    monkeypatch.setenv("LMSCOPE_HUB_TIMEOUT", "0.3")
    mock_hub.delay_s = 2.0
    files, meta, note = fetch_config_files(TINY_LLAMA)
    assert files.config["vocab_size"] == 256 and meta is None
    assert "did not answer" in note and "cached copy" in note
    assert mock_hub.client_gave_up.wait(timeout=10)  # the client stopped waiting before the mock's answer was due


def test_slow_hub_and_nothing_cached_is_an_error(mock_hub, monkeypatch):
    monkeypatch.setenv("LMSCOPE_HUB_TIMEOUT", "0.3")
    mock_hub.delay_s = 2.0
    with pytest.raises(HubUnreachableError) as err:
        fetch_config_files(TINY_LLAMA)
    assert "did not answer" in str(err.value) and "not in the local Hugging Face cache" in str(err.value)
    assert mock_hub.client_gave_up.wait(timeout=10)


def test_rate_limited_metadata_is_retried(mock_hub):
    mock_hub.rate_limit_first = 1
    mock_hub.retry_after = "0"
    files, meta, _ = fetch_config_files(TINY_LLAMA)
    assert meta is not None and files.config["model_type"] == "llama"


def test_missing_repo(mock_hub):
    with pytest.raises(HubNotFoundError) as err:
        fetch_config_files("nobody/nothing")
    assert "not found" in str(err.value)


def test_listed_but_missing_file_is_entry_not_found(mock_hub):
    mock_hub.repos[QWEN].extra_siblings["tokenizer_config.json"] = 1000  # listed, never served
    with pytest.raises(HubNotFoundError) as err:
        fetch_config_files(QWEN)
    assert "tokenizer_config.json was not found in Qwen/Qwen3-0.6B" in str(err.value)


def test_huge_tokenizer_json_is_skipped_with_a_note(mock_hub):
    mock_hub.repos[QWEN].extra_siblings["tokenizer.json"] = 60_000_000
    files, _, note = fetch_config_files(QWEN)
    assert files.tokenizer_json_path is None and "tokenizer.json skipped" in note
    assert not any(r.path.endswith("tokenizer.json") for r in mock_hub.requests)


def test_quant_config_is_fetched(mock_hub):
    repo = mock_hub.repos[QWEN]
    repo.files["quantize_config.json"] = json.dumps({"bits": 4, "group_size": 128, "desc_act": False}).encode()
    files, _, _ = fetch_config_files(QWEN)
    assert files.quantize_config == {"bits": 4, "group_size": 128, "desc_act": False}


def test_repo_without_config_json(mock_hub):
    from mockhub import MockRepo

    mock_hub.add_repo(MockRepo("someone/gguf-only", files={"model-Q4_K_M.gguf": b"GGUF" + b"\0" * 60}))
    with pytest.raises(HubError) as err:
        fetch_config_files("someone/gguf-only")
    assert "no config.json" in str(err.value) and "gguf" in str(err.value)


@pytest.mark.parametrize(
    "payload, words",
    [(b"{not json", "not valid JSON"), (b"[1, 2]", "not a JSON object"), (b"\xff\xfe\x00", "not UTF-8"), (b"[" * 100_000, "")],
)
def test_malformed_config_is_one_line_config_error(mock_hub, payload, words):
    mock_hub.repos[QWEN].files["config.json"] = payload
    with pytest.raises(ConfigError) as err:
        fetch_config_files(QWEN)
    assert words in str(err.value) and "\n" not in str(err.value) and "config.json" in str(err.value)


def test_load_json_file_checks_size_before_reading(tmp_path):
    path = tmp_path / "config.json"
    path.write_text(json.dumps({"a": "x" * 2000}))
    with pytest.raises(ConfigError) as err:
        load_json_file(str(path), name="config.json", repo_id="r/r", cap=1000)
    assert "more than the 1,000" in str(err.value)


def test_model_source_with_headers(mock_hub):
    src = model_source(TINY_LLAMA, headers=True)
    assert src.kind == "hub" and src.model_id == TINY_LLAMA and src.revision == mock_hub.repos[TINY_LLAMA].sha
    assert src.metadata is not None and src.stored is not None
    served = mock_hub.repos[TINY_LLAMA].files
    expected = sum(sum(safetensors_params(data).values()) for name, data in served.items() if name.endswith(".safetensors"))
    assert src.stored.total_params == expected
    assert src.location and src.files.config["model_type"] == "llama"


def test_model_source_without_safetensors_notes_it(mock_hub):
    src = model_source(QWEN, headers=True)  # lists model.safetensors but the mock does not serve it
    assert src.stored is None and any("headers not read" in n for n in src.notes)


def test_fetch_model_result_fields(mock_hub):
    result = fetch_model(TINY_LLAMA)
    assert result.location.endswith(mock_hub.repos[TINY_LLAMA].sha)
    assert result.revision == mock_hub.repos[TINY_LLAMA].sha and result.from_cache_only is False


def test_rate_limited_file_download_is_retried_by_the_library(mock_hub):
    mock_hub.rate_limit_pattern = "/resolve/"
    mock_hub.rate_limit_first = 1
    mock_hub.retry_after = "0"
    files, meta, _ = fetch_config_files(TINY_LLAMA)
    assert files.config["hidden_size"] == 64 and meta is not None
    assert [r.status for r in mock_hub.requests if "/resolve/" in r.path].count(429) == 1


def test_file_downloads_rate_limited_forever_are_bounded(mock_hub, monkeypatch):
    monkeypatch.setenv("LMSCOPE_HUB_MAX_WAIT", "0.5")
    monkeypatch.setenv("LMSCOPE_HUB_TIMEOUT", "1")
    mock_hub.rate_limit_pattern = "/resolve/"
    mock_hub.rate_limit_first = 10_000
    mock_hub.retry_after = "0"
    with pytest.raises(HubUnreachableError) as err:
        fetch_config_files(TINY_LLAMA)
    msg = str(err.value)  # "did not finish": the bound (LMSCOPE_HUB_MAX_WAIT + timeout) cut the library's own retries
    assert "did not finish" in msg and "rate-limiting" in msg and "not in the local Hugging Face cache" in msg
    assert "\n" not in msg
