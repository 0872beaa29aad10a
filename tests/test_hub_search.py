"""Hub search (`search_models`, offline search) and `lmscope search`, against the mock Hub."""

from __future__ import annotations

import argparse
import json

import pytest
from mockhub import QWEN, TINY_LLAMA

from lmscope.core.errors import UsageError
from lmscope.core.hub.search import SearchResult, cached_repo_ids, search_models, search_offline


def test_search_filters_and_sorts_like_the_hub(mock_hub):
    results = search_models("qwen")
    assert [r.model_id for r in results] == [QWEN, "Qwen/Qwen3-8B"]  # most downloaded first
    top = results[0]
    assert isinstance(top, SearchResult) and top.source == "hub"
    repo = mock_hub.repos[QWEN]
    assert (top.downloads, top.likes) == (repo.downloads, repo.likes)
    assert top.parameters == repo.safetensors["total"]
    assert top.license == "apache-2.0"  # from cardData (no license: tag on this repo)
    assert top.last_modified.startswith("2025-07-26")
    req = mock_hub.requests_for("^/api/models$")[-1]
    assert req.query["search"] == ["qwen"] and req.query["filter"] == ["text-generation"]
    assert {"safetensors", "downloads", "likes", "gated", "lastModified", "tags"} <= set(req.query["expand"])


def test_search_sort_limit_author_filter(mock_hub):
    by_likes = search_models("", sort="likes", filter="all")
    likes = [r.likes for r in by_likes]
    public = [r for r in mock_hub.repos.values() if not r.private]
    assert likes == sorted(likes, reverse=True) and len(by_likes) == len(public)  # the private repo is never listed
    assert search_models("", filter="all", limit=2, sort="modified")[0].model_id == QWEN
    assert [r.model_id for r in search_models("", author="lmscope-test")] == [TINY_LLAMA, "lmscope-test/gated-tiny"]
    bert = search_models("bert", filter="fill-mask")
    assert [r.model_id for r in bert] == ["google-bert/bert-base-uncased"]
    assert search_models("bert") == []  # default filter: text-generation
    gated = search_models("llama-3.2")[0]
    assert gated.gated == "manual" and gated.license == "llama3.2"


def test_search_sends_the_token(mock_hub):
    search_models("qwen", token="hf_SearchToken000000000000000000000")
    assert mock_hub.requests_for("^/api/models$")[-1].authorization == "Bearer hf_SearchToken000000000000000000000"


@pytest.mark.parametrize("kwargs", [{"sort": "trending"}, {"limit": 0}, {"limit": 5000}])
def test_search_bad_arguments(hub_env, kwargs):
    with pytest.raises(UsageError):
        search_models("x", **kwargs)


def test_offline_search_uses_catalog_and_cache(hub_env, monkeypatch):
    cache = hub_env / "hub"
    (cache / "models--someone--cached-llama-7b").mkdir(parents=True)
    (cache / "datasets--someone--llama-data").mkdir(parents=True)
    assert cached_repo_ids() == ["someone/cached-llama-7b"]
    results = search_offline("llama")
    ids = [r.model_id for r in results]
    assert "someone/cached-llama-7b" in ids
    assert {r.source for r in results} <= {"catalog", "cache"}
    from lmscope.core.sources.catalog import list_catalog

    catalog_llamas = [e.model_id for e in list_catalog() if "llama" in e.model_id.lower()]
    assert 0 < len(catalog_llamas) + 1 <= 20  # every match fits under the default limit, so all must be listed
    assert set(catalog_llamas) <= set(ids)
    assert search_offline("llama", limit=1)[:1] == results[:1]


def _search_args(argv: list[str]) -> argparse.Namespace:
    from lmscope.commands import search

    parser = argparse.ArgumentParser()
    search.add_arguments(parser)
    return parser.parse_args(argv)


def test_search_command_in_process_json(mock_hub, capsys):
    from lmscope.commands import search

    assert search.run(_search_args(["qwen", "--format", "json", "--limit", "1"])) == 0
    doc = json.loads(capsys.readouterr().out)
    assert doc["schema_version"] == 1 and doc["source"] == "hub" and doc["query"] == "qwen"
    assert [r["id"] for r in doc["results"]] == [QWEN]
    assert doc["results"][0]["parameters"] == mock_hub.repos[QWEN].safetensors["total"]


def test_search_command_in_process_text_table(mock_hub, capsys):
    from lmscope.commands import search

    assert search.run(_search_args(["qwen"])) == 0
    out = capsys.readouterr().out
    from lmscope.core.units import human_count

    shown = human_count(mock_hub.repos[QWEN].safetensors["total"])  # the one formatter every view uses
    assert QWEN in out and "Qwen/Qwen3-8B" in out and shown in out and "apache-2.0" in out


def test_search_command_offline_says_so(hub_env, capsys):
    from lmscope.commands import search

    assert search.run(_search_args(["llama", "--offline"])) == 0
    captured = capsys.readouterr()
    assert "offline" in captured.err and "offline" in captured.out


def test_cli_search_subprocess(hub_cli_env, lmscope_cli):
    proc = lmscope_cli(["search", "qwen", "--format", "json", "--sort", "likes"], env=hub_cli_env)
    assert proc.returncode == 0, proc.stderr
    doc = json.loads(proc.stdout)
    assert [r["id"] for r in doc["results"]] == ["Qwen/Qwen3-8B", QWEN]
    text = lmscope_cli(["search", "tiny"], env=hub_cli_env)
    assert text.returncode == 0 and TINY_LLAMA in text.stdout


def test_cli_search_bad_usage_is_one_line(hub_cli_env, lmscope_cli):
    bad = lmscope_cli(["search", "x", "--limit", "0"], env=hub_cli_env)
    assert bad.returncode == 2 and len(bad.stderr.strip().splitlines()) == 1 and "Traceback" not in bad.stderr


def test_cli_search_unreachable_hub_falls_back_to_offline_with_a_note(hub_cli_env, lmscope_cli):
    env = {**hub_cli_env, "HF_ENDPOINT": "http://127.0.0.1:9"}
    down = lmscope_cli(["search", "qwen", "--format", "json"], env=env)
    assert down.returncode == 0 and "Traceback" not in down.stderr
    assert "cannot reach the Hub" in down.stderr and "catalog" in down.stderr
    assert len(down.stderr.strip().splitlines()) == 1
    assert json.loads(down.stdout)["source"] == "offline"


def test_cli_search_rate_limited_is_one_line_error(hub_cli_env, mock_hub, lmscope_cli):
    mock_hub.rate_limit_first = 10_000
    mock_hub.retry_after = "3600"
    proc = lmscope_cli(["search", "qwen"], env=hub_cli_env)
    assert proc.returncode == 1 and "rate-limiting" in proc.stderr
    assert len(proc.stderr.strip().splitlines()) == 1 and "Traceback" not in proc.stderr


def test_search_command_writes_output_file(mock_hub, tmp_path, capsys):
    from lmscope.commands import search

    target = tmp_path / "found.json"
    assert search.run(_search_args(["tiny-llama", "--format", "json", "--output", str(target)])) == 0
    assert json.loads(target.read_text())["results"][0]["id"] == TINY_LLAMA
    assert capsys.readouterr().out == ""


def test_search_result_to_dict_names():
    row = SearchResult(model_id="a/b", downloads=1).to_dict()
    assert list(row)[0] == "id" and row["id"] == "a/b" and row["source"] == "hub"
    assert SearchResult(model_id="a/b").id == "a/b"
