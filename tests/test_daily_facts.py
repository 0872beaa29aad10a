"""Facts said the same way everywhere (issue 16): context overflow in every format, encoders at a
length they support, one figure per label, search JSON with the app's parameter count.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from lmscope.main import main

CONFIGS = Path(__file__).parent / "fixtures" / "configs"


@pytest.fixture(autouse=True)
def offline(tmp_path, monkeypatch):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setenv("HF_HOME", str(tmp_path / "hf"))
    monkeypatch.setenv("LMSCOPE_NO_EXACT", "1")


def cli(capsys, *argv: str) -> str:
    assert main(list(argv)) == 0
    return capsys.readouterr().out


@pytest.mark.parametrize("fmt", ["text", "json", "markdown", "yaml"])
def test_a_length_past_the_context_is_said_in_every_format(capsys, fmt):
    context = json.loads((CONFIGS / "Qwen--Qwen3-8B" / "config.json").read_text())["max_position_embeddings"]
    out = cli(capsys, "report", "Qwen/Qwen3-8B", "--offline", "--seq-len", "1000000", "--format", fmt)
    assert "exceeds the model's context length" in out and f"{context:,}" in out
    if fmt in ("text", "markdown"):  # up front, not in a note at the end
        assert out.index("exceeds") < out.index("Memory")
    within = cli(capsys, "report", "Qwen/Qwen3-8B", "--offline", "--seq-len", str(context), "--format", fmt)
    assert "exceeds the model's context length" not in within


def test_compare_says_which_model_is_past_its_context(capsys):
    out = cli(capsys, "compare", "Qwen/Qwen3-8B", "meta-llama/Llama-3.1-8B", "--offline", "--seq-len", "65536")
    warned = [line for line in out.splitlines() if "exceeds" in line]
    assert len(warned) == 1 and "Qwen/Qwen3-8B" in warned[0]


def test_an_encoder_defaults_to_a_length_it_supports_and_has_no_decode(capsys):
    positions = json.loads((CONFIGS / "google-bert--bert-base-uncased" / "config.json").read_text())["max_position_embeddings"]
    d = json.loads(cli(capsys, "report", "google-bert/bert-base-uncased", "--offline", "--format", "json"))
    assert d["settings"]["seq_len"] == positions == 512
    assert not any("exceeds" in n for n in d["notes"])
    text = cli(capsys, "report", "google-bert/bert-base-uncased", "--offline")
    assert "decode" not in text and "512 tokens" in text
    # asked for explicitly, a longer length is honoured and warned about
    text = cli(capsys, "report", "google-bert/bert-base-uncased", "--offline", "--seq-len", "4096")
    assert "4,096 tokens" in text and "exceeds the model's context length 512" in text
    # a decoder keeps the usual default
    assert json.loads(cli(capsys, "report", "Qwen/Qwen3-8B", "--offline", "--format", "json"))["settings"]["seq_len"] == 4096


def test_one_figure_per_label_for_an_mlx_4bit_checkpoint(capsys):
    """The total uses the checkpoint's real bytes; its label must not name the generic int4 row."""
    from lmscope.core.units import human_bytes

    d = json.loads(cli(capsys, "report", "mlx-community/Qwen3-8B-4bit", "--offline", "--format", "json"))
    mem = d["memory"]
    assert mem["weights_bytes_selected"] == mem["weights_bytes"]["checkpoint"] != mem["weights_bytes"]["int4"]
    text = cli(capsys, "report", "mlx-community/Qwen3-8B-4bit", "--offline")
    rows = {line.rsplit("  ", 1)[0].strip(): line.rsplit("  ", 1)[1].strip() for line in text.splitlines() if "  " in line.strip()}
    total_label = next(k for k in rows if k.startswith("inference total"))
    assert "checkpoint" in total_label
    assert rows["weights checkpoint"] == human_bytes(mem["weights_bytes"]["checkpoint"])
    int4_row = next(k for k in rows if k.startswith("weights int4") and "naive" not in k)
    assert rows[int4_row] == human_bytes(mem["weights_bytes"]["int4"])


def test_search_json_has_the_parameter_count_the_report_has(capsys):
    found = json.loads(cli(capsys, "search", "qwen3-8b", "--offline", "--format", "json"))["results"]
    counts = {r["id"]: r["parameters"] for r in found}
    report = json.loads(cli(capsys, "report", "Qwen/Qwen3-8B", "--offline", "--format", "json"))
    assert counts["Qwen/Qwen3-8B"] == report["parameters"]["total"]
    assert all(isinstance(v, int) for v in counts.values())


def test_quantization_details_read_as_key_equals_value():
    from lmscope.tui.widgets.facts import show

    assert show((("activation_scheme", "dynamic"), ("fmt", "e4m3"))) == "activation_scheme = dynamic, fmt = e4m3"
    assert show(["a", "b"]) == "a, b"
