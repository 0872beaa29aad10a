"""The built-in catalog: genuine configs shipped in the package, fast to load, found by id or short name."""

from __future__ import annotations

import fnmatch
import json
import tomllib
from pathlib import Path

import pytest

from lmscope.core.errors import SourceError
from lmscope.core.sources.catalog import (
    CATALOG_DIR,
    DEFAULT_MODEL,
    catalog_provenance,
    find_in_catalog,
    list_catalog,
    load_catalog_entry,
)

ROOT = Path(__file__).resolve().parents[1]
FIXTURES = ROOT / "tests" / "fixtures" / "configs"


def test_at_least_forty_models_and_default_present():
    ids = [e.model_id for e in list_catalog()]
    assert len(ids) >= 40
    assert DEFAULT_MODEL in ids
    assert len(set(i.lower() for i in ids)) == len(ids)


def test_every_fixture_config_is_shipped_verbatim():
    """The catalog holds the same genuine files as the test fixtures (no edits)."""
    for folder in FIXTURES.iterdir():
        if not folder.is_dir():
            continue
        for f in folder.iterdir():
            shipped = CATALOG_DIR / folder.name / f.name
            assert shipped.is_file(), shipped
            assert shipped.read_bytes() == f.read_bytes(), shipped


def test_every_entry_has_provenance():
    for entry in list_catalog():
        assert catalog_provenance(entry.model_id), entry.model_id


def test_catalog_files_are_package_data():
    """Every file under core/data is matched by pyproject's package-data globs (so wheels ship it)."""
    config = tomllib.loads((ROOT / "pyproject.toml").read_text())
    patterns = config["tool"]["setuptools"]["package-data"]["lmscope.core"]
    data_root = ROOT / "core"
    for path in (data_root / "data").rglob("*"):
        if path.is_file():
            rel = path.relative_to(data_root).as_posix()
            assert any(fnmatch.fnmatch(rel, p) and rel.count("/") == p.count("/") for p in patterns), rel


def test_every_entry_loads():
    """Every listed entry opens as a catalog source with its config (speed: benchmarks/bench_core.py)."""
    for model_id in [e.model_id for e in list_catalog()]:
        source = load_catalog_entry(model_id)
        assert source.kind == "catalog" and source.files.config


def test_entry_carries_its_small_files():
    source = load_catalog_entry("TheBloke/Llama-2-13B-chat-GPTQ")
    assert source.files.quantize_config["bits"] == 4
    assert load_catalog_entry("meta-llama/Llama-2-7b-hf").files.tokenizer_config["tokenizer_class"] == "LlamaTokenizer"
    assert load_catalog_entry("nvidia/Llama-3.1-70B-Instruct-FP8").files.quantize_config["quantization"]["quant_algo"] == "FP8"


def test_case_insensitive_and_short_names():
    assert find_in_catalog("META-LLAMA/llama-3.1-8b") == "meta-llama/Llama-3.1-8B"
    assert find_in_catalog("gpt2") == "openai-community/gpt2"
    assert find_in_catalog("bert-base-uncased") == "google-bert/bert-base-uncased"
    assert find_in_catalog("llama-2-7b") == "meta-llama/Llama-2-7b-hf"
    assert find_in_catalog("Qwen3-8B") == "Qwen/Qwen3-8B"  # exact name beats the -4bit variant
    assert find_in_catalog("nobody/none") is None


def test_ambiguous_short_name_lists_candidates():
    with pytest.raises(SourceError, match="several"):
        find_in_catalog("llama-3.1")


@pytest.mark.parametrize(
    "model_id, family, tags",
    [
        ("mistralai/Mixtral-8x7B-v0.1", "Mixtral", {"moe"}),
        ("deepseek-ai/DeepSeek-V3", "DeepSeek-V3", {"moe", "mla"}),
        ("Qwen/Qwen3-Next-80B-A3B-Thinking", "Qwen3-Next", {"moe", "hybrid"}),
        ("state-spaces/mamba-2.8b-hf", "Mamba", {"ssm"}),
        ("TheBloke/Llama-2-13B-chat-GPTQ", "Llama", {"quantized"}),
        ("google/gemma-3-4b-it", "Gemma-3", {"vlm", "sliding"}),
    ],
)
def test_family_and_kind_tags(model_id, family, tags):
    entry = next(e for e in list_catalog() if e.model_id == model_id)
    assert entry.family == family
    assert tags <= set(entry.kinds)


def test_every_catalog_config_parses():
    """Every shipped config must open: the TUI's model picker lists them all."""
    from lmscope.core import parse

    failures = []
    for entry in list_catalog():
        try:
            parse.architecture_from_config(load_catalog_entry(entry.model_id).files)
        except Exception as err:  # noqa: BLE001
            failures.append(f"{entry.model_id}: {err}")
    assert not failures, failures


def test_documented_overrides_are_applied_with_a_note():
    """Re-saved copies that changed torch_dtype are corrected to the Hub's value, and say so."""
    source = load_catalog_entry("meta-llama/Llama-2-7b-hf")
    raw = json.loads((CATALOG_DIR / "meta-llama--Llama-2-7b-hf" / "config.json").read_text())
    assert raw["torch_dtype"] == "float32"
    assert source.files.config["torch_dtype"] == "float16"
    assert {k: v for k, v in source.files.config.items() if k != "torch_dtype"} == {k: v for k, v in raw.items() if k != "torch_dtype"}
    assert any("float16" in n for n in source.notes)


def test_every_entry_has_a_known_family():
    assert [e.model_id for e in list_catalog() if e.family.startswith("Unknown")] == []
