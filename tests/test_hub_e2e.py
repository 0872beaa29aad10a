"""End to end: `lmscope report <mock repo id> --format json` resolves through the Hub layer.

The expected numbers come from the tiny Llama the mock serves: its parameter
count is the number of elements in the arrays the fixture wrote (a standard
Llama with untied embeddings and no biases stores exactly its parameters).
"""

from __future__ import annotations

import json

from mockhub import TINY_LLAMA, tiny_llama_tensors


def _oracle_total(mock_hub) -> int:
    config = json.loads(mock_hub.repos[TINY_LLAMA].files["config.json"])
    return sum(a.size for shard in tiny_llama_tensors(config, shards=2) for a in shard.values())


def test_report_json_from_the_mock_hub(hub_cli_env, mock_hub, lmscope_cli):
    proc = lmscope_cli(["report", TINY_LLAMA, "--format", "json", "--no-exact"], env=hub_cli_env)
    assert proc.returncode == 0, proc.stderr
    doc = json.loads(proc.stdout)
    assert doc["model_id"] == TINY_LLAMA and doc["source"] == "hub"
    assert doc["parameters"]["total"] == _oracle_total(mock_hub)
    assert doc["metadata"]["downloads"] == mock_hub.repos[TINY_LLAMA].downloads
    assert doc["metadata"]["license"] == "apache-2.0"
    # config-only: weights were never downloaded, only ranged header reads
    for r in mock_hub.requests:
        if r.path.endswith(".safetensors"):
            assert r.method == "GET" and r.range and r.status == 206


def test_report_missing_repo_is_one_line(hub_cli_env, lmscope_cli):
    proc = lmscope_cli(["report", "meta-llama/Llama-3.2-1B-does-not-exist", "--format", "json"], env=hub_cli_env)
    assert proc.returncode == 1 and len(proc.stderr.strip().splitlines()) == 1
    assert "not found" in proc.stderr and "Traceback" not in proc.stderr


def test_report_offline_after_online_uses_the_cache(hub_cli_env, mock_hub, lmscope_cli):
    first = lmscope_cli(["report", TINY_LLAMA, "--format", "json", "--no-exact"], env=hub_cli_env)
    assert first.returncode == 0, first.stderr
    mock_hub.reset_counters()
    again = lmscope_cli(["report", TINY_LLAMA, "--format", "json", "--offline", "--no-exact"], env=hub_cli_env)
    assert again.returncode == 0, again.stderr
    assert json.loads(again.stdout)["parameters"]["total"] == _oracle_total(mock_hub)
    assert mock_hub.requests == []
