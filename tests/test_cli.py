"""`lmscope report` and `lmscope compare` as a user runs them: a subprocess, offline, in a tmp HF_HOME.

Checks the CONTRACT.md JSON keys, exit codes (0 ok, 1 user error on one
stderr line, 2 usage) and --output's atomic write.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

CONFIGS = Path(__file__).parent / "fixtures" / "configs"
TOP_KEYS = {
    "schema_version", "model_id", "source", "family", "model_type", "architecture_class", "settings", "parameters",
    "memory", "flops", "attention", "moe", "tokenizer", "quantization", "capabilities", "metadata",
}


@pytest.fixture
def env(tmp_path):
    out = {k: v for k, v in os.environ.items() if not k.startswith(("HF_", "HUGGING"))}
    out.update(HF_HUB_OFFLINE="1", HF_HOME=str(tmp_path / "hf_home"), HF_HUB_DISABLE_TELEMETRY="1", PYTHONUNBUFFERED="1")
    return out


def run(env, *args: str, cwd: Path | None = None) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "lmscope", *args], capture_output=True, text=True, env=env, timeout=180, cwd=cwd
    )


def _one_line_error(proc: subprocess.CompletedProcess, code: int = 1) -> str:
    assert proc.returncode == code, (proc.returncode, proc.stderr)
    assert "Traceback" not in proc.stderr
    lines = [line for line in proc.stderr.splitlines() if line.strip()]
    assert len(lines) == 1, proc.stderr
    return lines[0]


def test_report_json_on_local_config_dir(env, tmp_path):
    folder = tmp_path / "llama"
    shutil.copytree(CONFIGS / "meta-llama--Llama-3.1-8B", folder)
    proc = run(env, "report", str(folder), "--format", "json", "--no-exact", "--seq-len", "2048", "--batch", "2")
    assert proc.returncode == 0, proc.stderr
    data = json.loads(proc.stdout)
    assert TOP_KEYS <= set(data)
    assert data["source"] == "local" and data["model_id"] == "llama"
    assert data["settings"]["seq_len"] == 2048 and data["settings"]["batch"] == 2
    config = json.loads((folder / "config.json").read_text())
    assert data["model_type"] == config["model_type"]
    assert data["architecture_class"] == config["architectures"][0]
    assert data["attention"]["num_kv_heads"] == config["num_key_value_heads"]
    assert data["parameters"]["method"] == "analytic"


def test_report_catalog_id_offline_text(env):
    proc = run(env, "report", "meta-llama/Llama-3.1-8B", "--no-exact")
    assert proc.returncode == 0, proc.stderr
    assert "meta-llama/Llama-3.1-8B" in proc.stdout and "GiB" in proc.stdout and "TFLOP" in proc.stdout


def test_report_markdown_and_yaml(env):
    md = run(env, "report", "gpt2", "--no-exact", "--format", "markdown")
    assert md.returncode == 0 and md.stdout.startswith("# openai-community/gpt2")
    yml = run(env, "report", "gpt2", "--no-exact", "--format", "yaml")
    assert yml.returncode == 0 and "schema_version: 1" in yml.stdout


def test_report_output_file(env, tmp_path):
    target = tmp_path / "out" / "report.json"
    target.parent.mkdir()
    proc = run(env, "report", "openai-community/gpt2", "--no-exact", "--format", "json", "--output", str(target), "--quiet")
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout == "" and proc.stderr == ""
    assert json.loads(target.read_text())["model_id"] == "openai-community/gpt2"
    assert [p.name for p in target.parent.iterdir()] == ["report.json"]


def test_report_unwritable_output_is_exit_1(env, tmp_path):
    line = _one_line_error(run(env, "report", "gpt2", "--no-exact", "--output", str(tmp_path / "missing" / "x.json")))
    assert "cannot write" in line


def test_output_through_symlink_keeps_the_link(env, tmp_path):
    real = tmp_path / "real.json"
    real.write_text("old")
    link = tmp_path / "link.json"
    link.symlink_to(real)
    proc = run(env, "report", "gpt2", "--no-exact", "--format", "json", "--output", str(link), "--quiet")
    assert proc.returncode == 0, proc.stderr
    assert link.is_symlink() and json.loads(real.read_text())["model_id"] == "openai-community/gpt2"


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="this OS has no named pipes (os.mkfifo)")
def test_output_into_a_named_pipe_writes_into_it(env, tmp_path):
    """--output /dev/stdout or a FIFO is written into; os.replace would swap the node for a regular file."""
    import stat
    import threading

    fifo = tmp_path / "pipe.json"
    os.mkfifo(fifo)
    received: list[str] = []
    reader = threading.Thread(target=lambda: received.append(fifo.read_text()), daemon=True)
    reader.start()
    proc = run(env, "report", "gpt2", "--no-exact", "--format", "json", "--output", str(fifo), "--quiet")
    reader.join(30)
    assert proc.returncode == 0, proc.stderr
    assert stat.S_ISFIFO(os.stat(fifo).st_mode)
    assert json.loads(received[0])["model_id"] == "openai-community/gpt2"
    assert sorted(p.name for p in tmp_path.iterdir() if p.name.endswith(".tmp")) == []


def test_unknown_model_offline_is_exit_1(env):
    line = _one_line_error(run(env, "report", "nobody/not-a-model"))
    assert line.startswith("lmscope: error:") and "offline" in line


def test_usage_errors_exit_2(env):
    assert run(env, "report").returncode == 2
    assert run(env, "report", "gpt2", "--seq-len", "zero").returncode == 2
    assert run(env, "report", "gpt2", "--format", "pdf").returncode == 2
    proc = run(env, "compare", "gpt2")
    assert proc.returncode == 2 and "Traceback" not in proc.stderr


def test_compare_json(env, tmp_path):
    folder = tmp_path / "mixtral"
    shutil.copytree(CONFIGS / "mistralai--Mixtral-8x7B-v0.1", folder)
    proc = run(env, "compare", "meta-llama/Llama-3.1-8B", str(folder), "deepseek-ai/DeepSeek-V3", "--format", "json", "--no-exact")
    assert proc.returncode == 0, proc.stderr
    data = json.loads(proc.stdout)
    assert data["schema_version"] == 1
    assert data["model_ids"] == ["meta-llama/Llama-3.1-8B", "mixtral", "deepseek-ai/DeepSeek-V3"]
    assert all(TOP_KEYS <= set(m) for m in data["models"])
    rows = {r["metric"]: r for r in data["comparison"]}
    assert rows["parameters.total"]["values"] == [m["parameters"]["total"] for m in data["models"]]
    assert rows["parameters.total"]["ratios"][0] == 1.0


def test_compare_text(env):
    proc = run(env, "compare", "meta-llama/Llama-2-7b-hf", "meta-llama/Llama-3.1-8B", "--no-exact")
    assert proc.returncode == 0, proc.stderr
    assert "(×" in proc.stdout and "Llama-2-7b-hf" in proc.stdout


def test_verbose_prints_notes(env):
    proc = run(env, "report", "deepseek-ai/DeepSeek-V3", "--no-exact", "--verbose", "--format", "json")
    assert proc.returncode == 0
    assert "note:" in proc.stderr and json.loads(proc.stdout)["attention"]["kind"] == "MLA"


def test_report_uses_hf_cache_from_hf_home(env, tmp_path):
    """A model in $HF_HOME/hub (the standard cache layout) is found offline."""
    sha = "c" * 40
    repo = Path(env["HF_HOME"]) / "hub" / "models--someone--cached-gpt2"
    (repo / "snapshots" / sha).mkdir(parents=True)
    (repo / "refs").mkdir()
    (repo / "refs" / "main").write_text(sha)
    shutil.copy(CONFIGS / "openai-community--gpt2" / "config.json", repo / "snapshots" / sha / "config.json")
    proc = run(env, "report", "someone/cached-gpt2", "--no-exact", "--format", "json")
    assert proc.returncode == 0, proc.stderr
    data = json.loads(proc.stdout)
    assert data["source"] == "cache" and data["revision"] == sha and data["model_type"] == "gpt2"


def test_report_from_mock_hub(hub_cli_env):
    """Online: a repo that is neither cached nor in the catalog comes from the (mock) Hub with its metadata."""
    sys.path.insert(0, str(Path(__file__).parent))
    try:
        from mockhub import TINY_LLAMA
    finally:
        sys.path.pop(0)
    proc = run(hub_cli_env, "report", TINY_LLAMA, "--format", "json", "--no-exact")
    assert proc.returncode == 0, proc.stderr
    data = json.loads(proc.stdout)
    assert data["source"] == "hub" and data["metadata"]["downloads"] == 1234
    assert data["stored"]["source"] == "safetensors-header"
    check = data["stored"]["check"]
    assert check["class_params"] == data["parameters"]["total"]
    assert check["difference"] == 0, check  # the mock stores exactly the class's tensors: nothing to explain


def test_token_is_never_printed(env):
    token = "hf_" + "Q" * 34
    proc = run(env, "report", "nobody/missing", "--token", token)
    assert proc.returncode == 1 and token not in proc.stderr + proc.stdout


def test_token_typed_into_a_model_id_is_masked_in_the_error(env):
    """Every error line goes through redact: a token pasted where the model id goes stays out of logs."""
    token = "hf_" + "Z" * 34
    proc = run(env, "report", f"{token}/model")
    assert proc.returncode == 1 and token not in proc.stderr + proc.stdout and "hf_***" in proc.stderr


def test_verbose_traceback_of_an_unexpected_error_is_redacted(monkeypatch, capsys):
    """--verbose shows the traceback of an unexpected error, with any token in it masked."""
    import lmscope.commands.report as report_cmd
    from lmscope.main import main

    token = "hf_" + "V" * 34

    def boom(args):
        raise RuntimeError(f"request failed with Authorization: Bearer {token}")

    monkeypatch.setattr(report_cmd, "run", boom)
    assert main(["report", "gpt2", "--verbose"]) == 1
    err = capsys.readouterr().err
    assert "Traceback" in err and "RuntimeError" in err and token not in err
    assert main(["report", "gpt2"]) == 1
    err = capsys.readouterr().err
    assert err.startswith("lmscope: internal error:") and token not in err and "\n" not in err.rstrip("\n")


def test_top_level_help_lists_the_apps_own_options(capsys):
    """Error messages tell people to use --offline/--token: `lmscope --help` must show them."""
    from lmscope.main import main

    with pytest.raises(SystemExit) as exc:
        main(["--help"])
    assert exc.value.code == 0
    out = capsys.readouterr().out
    for option in ("--offline", "--token", "--verbose", "report", "weights"):
        assert option in out
    # a command's usage is still its own (not the top-level usage lines)
    with pytest.raises(SystemExit):
        main(["report", "--help"])
    assert capsys.readouterr().out.startswith("usage: lmscope report")
