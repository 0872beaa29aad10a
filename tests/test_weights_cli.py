"""`lmscope weights` end to end in a subprocess: formats, exit codes, atomic output, one-line errors."""

from __future__ import annotations

import csv
import io
import json
import os
import sys
from pathlib import Path

import numpy as np
import pytest

from lmscope.core.weights.report import CSV_COLUMNS


@pytest.fixture(scope="module")
def model_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from safetensors.numpy import save_file

    rng = np.random.default_rng(0)
    arrays = {
        "model.embed_tokens.weight": rng.standard_normal((40, 12)).astype(np.float32),
        "model.layers.0.self_attn.q_proj.weight": rng.standard_normal((12, 12)).astype(np.float32),
        "model.layers.0.mlp.up_proj.weight": rng.standard_normal((30, 12)).astype(np.float32),
        "model.layers.1.self_attn.q_proj.weight": rng.standard_normal((12, 12)).astype(np.float32),
        "model.layers.1.mlp.experts.down_proj": rng.standard_normal((3, 12, 20)).astype(np.float32),
        "model.layers.1.mlp.up_proj.weight": (rng.standard_normal((30, 2)) @ rng.standard_normal((2, 12))).astype(np.float32),
        "model.norm.weight": np.ones(12, np.float32),
    }
    d = tmp_path_factory.mktemp("cli-model")
    save_file(arrays, d / "model.safetensors")
    return d


def _env(**extra: str) -> dict[str, str]:
    env = dict(os.environ)
    env.update(HF_HUB_OFFLINE="1", **extra)
    return env


def _one_line_error(proc) -> str:  # type: ignore[no-untyped-def]
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1, proc.stderr
    assert "Traceback" not in proc.stderr
    return lines[0]


def test_text_and_json(lmscope_cli, model_dir: Path) -> None:  # type: ignore[no-untyped-def]
    text = lmscope_cli(["weights", str(model_dir), "--quiet"], env=_env())
    assert text.returncode == 0, text.stderr
    assert "by module kind" in text.stdout and "done: 7/7 tensors" in text.stdout
    assert "model.layers.1.mlp.experts.down_proj" in text.stdout
    js = lmscope_cli(["weights", str(model_dir), "--format", "json", "--singular-values", "-q"], env=_env())
    assert js.returncode == 0, js.stderr
    doc = json.loads(js.stdout)
    assert doc["schema_version"] == 1
    assert doc["summary"]["tensors_done"] == 7 and not doc["summary"]["cancelled"]
    by_name = {t["name"]: t for t in doc["tensors"]}
    low_rank = by_name["model.layers.1.mlp.up_proj.weight"]["spectra"][0]
    assert low_rank["numerical_rank"] == 2 and low_rank["design_rank"] == 12
    assert len(low_rank["singular_values"]) == 12
    assert len(by_name["model.layers.1.mlp.experts.down_proj"]["spectra"]) == 3
    assert doc["summary"]["embeddings"][0]["name"] == "model.embed_tokens.weight"


def test_csv_and_filters(lmscope_cli, model_dir: Path) -> None:  # type: ignore[no-untyped-def]
    proc = lmscope_cli(["weights", str(model_dir), "--format", "csv", "--kind", "attention,mlp", "--tensors", "model.layers.*", "-q"], env=_env())
    assert proc.returncode == 0, proc.stderr
    rows = list(csv.DictReader(io.StringIO(proc.stdout)))
    assert tuple(rows[0]) == CSV_COLUMNS
    # 2 q_proj + 2 up_proj (the expert tensor is kind "experts", filtered out by --kind)
    assert sorted({r["name"] for r in rows}) == sorted([
        "model.layers.0.self_attn.q_proj.weight", "model.layers.0.mlp.up_proj.weight",
        "model.layers.1.self_attn.q_proj.weight", "model.layers.1.mlp.up_proj.weight"])
    ranks = {r["name"]: int(r["numerical_rank"]) for r in rows}
    assert ranks["model.layers.1.mlp.up_proj.weight"] == 2


def test_markdown_written_atomically(lmscope_cli, model_dir: Path, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    out = tmp_path / "report.md"
    out.write_text("old contents")
    proc = lmscope_cli(["weights", str(model_dir), "--format", "markdown", "--output", str(out), "--max-tensors", "4"], env=_env())
    assert proc.returncode == 0, proc.stderr
    text = out.read_text()
    assert text.startswith("# Weights report") and "```text" in text and "singular-value spectra" in text.lower()
    assert "## By module kind" in text
    assert sorted(p.name for p in tmp_path.iterdir()) == ["report.md"], "no temp files left behind"
    assert f"wrote {out}" in proc.stderr


def test_usage_errors_exit_2(lmscope_cli, model_dir: Path) -> None:  # type: ignore[no-untyped-def]
    proc = lmscope_cli(["weights", str(model_dir), "--kind", "attention,bogus"], env=_env())
    assert proc.returncode == 2 and "bogus" in _one_line_error(proc)
    proc = lmscope_cli(["weights", str(model_dir), "--format", "yaml"], env=_env())
    assert proc.returncode == 2


def test_user_errors_are_one_line_exit_1(lmscope_cli, model_dir: Path, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    bad = tmp_path / "bad.safetensors"
    bad.write_bytes((10_000).to_bytes(8, "little") + b"{}")
    proc = lmscope_cli(["weights", str(bad)], env=_env())
    assert proc.returncode == 1 and "truncated" in _one_line_error(proc)
    proc = lmscope_cli(["weights", str(model_dir), "--output", str(tmp_path / "missing" / "x.json"), "-q"], env=_env())
    assert proc.returncode == 1 and "cannot write" in _one_line_error(proc)
    proc = lmscope_cli(["weights", "acme/not-cached"], env=_env(HF_HUB_CACHE=str(tmp_path / "empty-cache")))
    assert proc.returncode == 1 and "--download" in _one_line_error(proc)
    proc = lmscope_cli(["weights", str(model_dir), "--tensors", "nothing*"], env=_env())
    assert proc.returncode == 1 and "no tensors matched" in _one_line_error(proc)
    empty = tmp_path / "empty.safetensors"
    empty.write_bytes((2).to_bytes(8, "little") + b"{}")
    proc = lmscope_cli(["weights", str(empty)], env=_env())  # no filters given: do not blame them
    assert proc.returncode == 1 and "holds no tensors" in _one_line_error(proc)
    # inf / overflowing weights: statistics are inf/nan, stderr carries no numpy RuntimeWarning
    import numpy as np
    from safetensors.numpy import save_file

    save_file({"model.layers.0.mlp.down_proj.weight": np.full((8, 4), 1e300)}, str(tmp_path / "huge.safetensors"))
    proc = lmscope_cli(["weights", str(tmp_path / "huge.safetensors"), "-q"], env=_env())
    assert proc.returncode == 0 and "Warning" not in proc.stderr, proc.stderr


def test_device_cuda_without_gpu(lmscope_cli, model_dir: Path) -> None:  # type: ignore[no-untyped-def]
    # CUDA_VISIBLE_DEVICES="" hides every GPU from the driver, so this runs (and means the same) on a GPU machine
    proc = lmscope_cli(["weights", str(model_dir), "--device", "cuda"], env=_env(CUDA_VISIBLE_DEVICES=""))
    assert proc.returncode == 1 and "no CUDA device" in _one_line_error(proc)


def test_download_from_mock_hub(lmscope_cli, hub_cli_env, mock_hub) -> None:  # type: ignore[no-untyped-def]
    sys.path.insert(0, str(Path(__file__).parent))
    try:
        from mockhub import TINY_LLAMA
    finally:
        sys.path.pop(0)
    proc = lmscope_cli(["weights", TINY_LLAMA, "--format", "json", "--no-spectra", "--no-embeddings"], env=hub_cli_env)
    assert proc.returncode == 1 and "--download" in proc.stderr  # not cached, not asked to download
    proc = lmscope_cli(["weights", TINY_LLAMA, "--download", "--yes", "--format", "json", "--no-spectra", "--no-embeddings"], env=hub_cli_env)
    assert proc.returncode == 0, proc.stderr
    assert "to download" in proc.stderr
    doc = json.loads(proc.stdout)
    repo = mock_hub.repos[TINY_LLAMA] if hasattr(mock_hub, "repos") else None
    shards = [n for n in (repo.files if repo else {}) if n.endswith(".safetensors")]
    assert doc["summary"]["format"] == "safetensors" and len(doc["summary"]["files"]) == max(len(shards), 1)
    assert doc["summary"]["tensors_done"] > 5
    fetched = {r.path.rsplit("/", 1)[-1] for r in mock_hub.requests if "/resolve/" in r.path}
    assert fetched and all(n.endswith((".safetensors", ".index.json", "config.json")) for n in fetched), fetched
    # now cached: works offline without --download
    offline = dict(hub_cli_env, HF_HUB_OFFLINE="1")
    again = lmscope_cli(["weights", TINY_LLAMA, "--format", "csv", "--no-spectra", "--no-embeddings", "-q"], env=offline)
    assert again.returncode == 0, again.stderr


def test_ctrl_c_returns_at_once_stops_the_engine_and_writes_nothing(model_dir: Path, tmp_path: Path,
                                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    """Ctrl-C while the engine is inside an uninterruptible call (a LAPACK SVD, simulated by a blocked
    tensor): the command returns 130 without waiting for that call, writes no output file, and the
    engine, once the call returns, does not start the next tensor."""
    import _thread
    import threading

    from lmscope.core.weights import engine
    from lmscope.main import main

    started: list[str] = []
    release = threading.Event()
    real = engine.analyze_tensor

    def slow_tensor(t, device, opts):  # type: ignore[no-untyped-def]
        started.append(t.name)
        if len(started) == 2:
            _thread.interrupt_main()  # the user presses Ctrl-C during the second tensor…
            release.wait(30)  # …which is stuck in a long call that cannot see it
        return real(t, device, opts)

    monkeypatch.setattr(engine, "analyze_tensor", slow_tensor)
    # one tensor at a time, so "the next tensor" is defined (the parallel pool's cancel: test_weights_engine.py)
    monkeypatch.setattr(engine, "TENSOR_THREADS", 1)
    out = tmp_path / "report.json"
    code = main(["weights", str(model_dir), "--format", "json", "--output", str(out), "--quiet"])
    assert code == 130
    assert not release.is_set() and len(started) == 2  # returned while the engine was still busy
    assert not out.exists() and not list(tmp_path.iterdir())  # no output, no temporary file
    release.set()
    for thread in threading.enumerate():
        if thread.name == "lmscope-weights":
            thread.join(10)
    assert len(started) == 2  # the engine stopped before the next tensor


def test_ray_on_a_hub_model_that_is_not_cached(lmscope_cli, hub_cli_env, hub_env, mock_hub, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    """`lmscope weights ORG/NAME --ray local` with an empty cache: a local Ray cluster, one task per shard,
    each worker downloads its shard; the JSON records the executor, its address and the task count."""
    env = dict(hub_cli_env, RAY_raylet_start_wait_time_s="180", HF_HUB_DISABLE_TELEMETRY="1")
    proc = lmscope_cli(["weights", "lmscope-test/tiny-llama", "--ray", "local", "--device", "cpu", "--format", "json",
                        "--no-embeddings", "-q"], env=env, timeout=300)
    assert proc.returncode == 0, proc.stderr
    doc = json.loads(proc.stdout)
    executor = doc["summary"]["executor"]
    assert executor["name"] == "ray" and executor["tasks"] == 2 and executor["address"] and executor["failed_tasks"] == 0
    assert doc["summary"]["tensors_done"] == doc["summary"]["tensors_total"] > 0
    assert doc["summary"]["model_id"] == "lmscope-test/tiny-llama"
    whole = [r for r in mock_hub.requests_for(r"\.safetensors$", "GET") if not r.range]
    assert len(whole) == 2  # each shard downloaded once, by a worker; the driver read headers only


def test_the_command_leaves_without_unloading_blas_under_an_abandoned_engine() -> None:
    """`lmscope` (console()) ends with os._exit when an engine daemon thread is still running — no
    atexit handlers or library destructors under a LAPACK call (a real Ctrl-C there segfaulted
    at exit) — and exits normally otherwise. Seen by whether an atexit handler runs."""
    import subprocess
    import sys

    code = (
        "import atexit, sys, threading, time\n"
        "from lmscope.main import console\n"
        "atexit.register(lambda: print('atexit ran', flush=True))\n"
        "if sys.argv[1] == 'busy':\n"
        "    threading.Thread(target=time.sleep, args=(60,), name='lmscope-weights', daemon=True).start()\n"
        "sys.argv = ['lmscope', '--version']\n"
        "console()\n"
    )
    for state, ran in (("busy", False), ("idle", True)):
        out = subprocess.run([sys.executable, "-c", code, state], capture_output=True, text=True, timeout=60)
        assert out.returncode == 0, out.stderr
        assert ("atexit ran" in out.stdout) is ran, (state, out.stdout)
        assert "lmscope" in out.stdout  # the version line was flushed either way
