"""Report rendering (JSON/CSV/Markdown/text) and the atomic writer, in process."""

from __future__ import annotations

import csv
import io
import json
import os
from pathlib import Path

import numpy as np
import pytest

from lmscope.core.errors import SourceError
from lmscope.core.weights import WeightsOptions, analyze_weights, report
from lmscope.core.weights.engine import spectrum_stats
from lmscope.core.weights.records import TensorStats


@pytest.fixture(scope="module")
def run(tmp_path_factory: pytest.TempPathFactory):  # type: ignore[no-untyped-def]
    from safetensors.numpy import save_file

    rng = np.random.default_rng(5)
    arrays = {f"model.layers.{i}.self_attn.o_proj.weight": rng.standard_normal((20, 20)).astype(np.float32) for i in range(3)}
    arrays["model.layers.0.mlp.experts.down_proj"] = rng.standard_normal((2, 8, 12)).astype(np.float32)
    arrays["model.norm.weight"] = np.ones(20, np.float32)
    d = tmp_path_factory.mktemp("report")
    save_file(arrays, d / "model.safetensors")
    events = list(analyze_weights(d, WeightsOptions(keep_singular_values=True)))
    return [e.result for e in events[:-1]], events[-1].summary


def test_json_round_trip_and_infinities(run) -> None:  # type: ignore[no-untyped-def]
    results, summary = run
    doc = json.loads(report.to_json(results, summary, singular_values=True))
    assert doc["schema_version"] == 1 and len(doc["tensors"]) == len(results)
    assert "singular_values" in doc["tensors"][0]["spectra"][0]
    assert "singular_values" not in json.loads(report.to_json(results, summary))["tensors"][0]["spectra"][0]
    rank_one = TensorStats("x", "other", None, (2, 2), "F32", 4, 16, 0, 0, 0, 0, 0, 0, 0,
                           spectra=(spectrum_stats(np.array([1.0, 0.0]), 2, 2, "test"),))
    text = report.to_json([rank_one], None)  # allow_nan=False would raise on a bare inf
    assert json.loads(text)["tensors"][0]["spectra"][0]["condition_number"] == "inf"


def test_csv_has_one_row_per_expert(run) -> None:  # type: ignore[no-untyped-def]
    results, _ = run
    rows = list(csv.DictReader(io.StringIO(report.to_csv(results))))
    experts = [r for r in rows if r["name"] == "model.layers.0.mlp.experts.down_proj"]
    assert [r["expert"] for r in experts] == ["0", "1"]
    assert all(r["design_rank"] == "8" for r in experts)
    norm = [r for r in rows if r["name"] == "model.norm.weight"][0]
    assert norm["design_rank"] == "" and float(norm["mean"]) == 1.0


def test_markdown_and_text(run) -> None:  # type: ignore[no-untyped-def]
    results, summary = run
    md = report.to_markdown(results, summary)
    assert "power-law exponent α by layer" in md and "singular value spectra" in md
    assert "\x1b[" not in md, "no terminal colour codes in the report"
    assert "| attention_o |" in md
    text = report.to_text(results, summary)
    assert "model.layers.0.mlp.experts.down_proj" in text and "done: 5/5 tensors" in text


def test_atomic_writer_replaces_or_leaves_old_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    target = tmp_path / "out.json"
    target.write_text("old")
    report.write_output(target, "new")
    assert target.read_text() == "new" and os.listdir(tmp_path) == ["out.json"]

    def boom(src, dst):  # type: ignore[no-untyped-def]
        raise OSError("disk full")

    monkeypatch.setattr(os, "replace", boom)
    with pytest.raises(SourceError):  # export.write_atomic: the OSError as a one-line SourceError
        report.write_output(target, "newer")
    assert target.read_text() == "new" and os.listdir(tmp_path) == ["out.json"]
