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
    assert "power-law exponent α by layer" in md.lower() and "singular-value spectra" in md.lower()
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


# ---------------------------------------------------------------- seed 001: order, columns, counts, kinds
@pytest.fixture(scope="module")
def tiny_bert_checkpoint(tmp_path_factory: pytest.TempPathFactory):  # type: ignore[no-untyped-def]
    """A 12-layer (so that layer 10 sorts after layer 2) tiny BERT from transformers, its state dict saved
    as safetensors plus a ``position_ids`` buffer; the oracle for counts is the module's own parameters."""
    import torch
    from safetensors.torch import save_file
    from transformers import BertConfig, BertModel

    torch.manual_seed(0)
    cfg = BertConfig(vocab_size=50, hidden_size=8, num_hidden_layers=12, num_attention_heads=2, intermediate_size=16,
                     max_position_embeddings=16)
    model = BertModel(cfg)
    state = {k: v.contiguous() for k, v in model.state_dict().items()}
    state["embeddings.position_ids"] = torch.arange(16).unsqueeze(0)
    d = tmp_path_factory.mktemp("bert12")
    save_file(state, str(d / "model.safetensors"))
    params = dict(model.named_parameters())
    events = list(analyze_weights(d, WeightsOptions(device="cpu", embeddings=False, model_id="acme/bert12", revision="abc123")))
    return params, [e.result for e in events[:-1]], events[-1].summary


def test_parameter_count_equals_the_modules_and_buffers_are_listed_not_counted(tiny_bert_checkpoint) -> None:  # type: ignore[no-untyped-def]
    params, results, summary = tiny_bert_checkpoint
    assert summary.params_done == sum(p.numel() for p in params.values())
    buffers = [r for r in results if not r.is_parameter]
    assert [r.name for r in buffers] == ["embeddings.position_ids"] and summary.buffers_done == 1
    assert "(+1 buffer tensor(s), not parameters)" in report.to_text(results, summary)


def test_every_bias_has_its_modules_kind(tiny_bert_checkpoint) -> None:  # type: ignore[no-untyped-def]
    from lmscope.core.weights.classify import module_kind

    params, results, _ = tiny_bert_checkpoint
    biases = [n for n in params if n.endswith(".bias")]
    assert biases
    for name in biases:
        assert module_kind(name) == module_kind(name[: -len("bias")] + "weight"), name
    for name in ("model.layers.0.self_attn.q_proj.bias", "lm_head.bias", "model.layers.1.mlp.gate.bias", "h.0.attn.c_attn.bias"):
        assert module_kind(name) == module_kind(name[: -len("bias")] + "weight"), name
    assert module_kind("h.0.attn.bias") == module_kind("h.0.attn.masked_bias") == "buffer"  # GPT-2's causal masks


def test_rows_ordered_by_layer_numerically_non_layer_last_with_seed_columns(tiny_bert_checkpoint) -> None:  # type: ignore[no-untyped-def]
    _, results, summary = tiny_bert_checkpoint
    rows = list(csv.DictReader(io.StringIO(report.to_csv(results, summary))))
    layers = [int(r["layer"]) for r in rows if r["layer"] != ""]
    assert layers == sorted(layers) and layers[-1] == 11 and 10 in layers
    first_tail = next(i for i, r in enumerate(rows) if r["layer"] == "")
    assert all(r["layer"] == "" for r in rows[first_tail:])  # embeddings, pooler… after every layer
    assert rows[0]["name"].startswith("encoder.layer.0.")
    assert {r["model_id"] for r in rows} == {"acme/bert12"} and {r["revision"] for r in rows} == {"abc123"}
    assert {r["created_at"] for r in rows} == {summary.created_at} and summary.created_at.endswith("Z")
    for r in rows:
        assert float(r["var"]) == pytest.approx(float(r["std"]) ** 2, rel=1e-12)
    doc = json.loads(report.to_json(results, summary))
    assert [t["name"] for t in doc["tensors"]] == [r["name"] for r in rows if r["expert"] in ("", "0")]
    assert doc["summary"]["model_id"] == "acme/bert12" and doc["summary"]["executor"]["name"] == "local"


def test_expert_column_for_per_expert_and_fused_expert_tensors(tmp_path: Path) -> None:
    from safetensors.numpy import save_file

    rng = np.random.default_rng(1)
    save_file({
        "model.layers.0.block_sparse_moe.experts.3.w1.weight": rng.standard_normal((6, 4)).astype(np.float32),
        "model.layers.0.block_sparse_moe.experts.12.w1.weight": rng.standard_normal((6, 4)).astype(np.float32),
        "model.layers.0.mlp.experts.gate_up_proj": rng.standard_normal((3, 4, 6)).astype(np.float32),
        "model.layers.0.mlp.shared_experts.up_proj.weight": rng.standard_normal((6, 4)).astype(np.float32),
    }, str(tmp_path / "model.safetensors"))
    events = list(analyze_weights(tmp_path, WeightsOptions(device="cpu")))
    results = [e.result for e in events[:-1]]
    rows = list(csv.DictReader(io.StringIO(report.to_csv(results, events[-1].summary))))
    by = [(r["name"].split("model.layers.0.")[1], r["expert"]) for r in rows]
    assert ("block_sparse_moe.experts.3.w1.weight", "3") in by and ("block_sparse_moe.experts.12.w1.weight", "12") in by
    assert [e for n, e in by if n == "mlp.experts.gate_up_proj"] == ["0", "1", "2"]  # fused: one row per expert
    assert [e for n, e in by if n.startswith("mlp.shared_experts")] == [""]
    # experts.3 before experts.12 (numbers compared as numbers)
    names = [n for n, _ in by]
    assert names.index("block_sparse_moe.experts.3.w1.weight") < names.index("block_sparse_moe.experts.12.w1.weight")
    md = report.to_markdown(results, events[-1].summary)
    assert "## Every column" in md and "| " + " | ".join(report.CSV_COLUMNS) + " |" in md
