"""The Ray executor on a local Ray cluster (one per module, 2 CPUs): same report as a local run,
cancel stops the pending tasks, a failing shard is retried once and otherwise reported alone.

The oracle for "same report" is the local engine on the same checkpoint (itself tested against
numpy/LAPACK in test_weights_spectra.py / test_weights_engine.py); every field but the timings
must be equal.
"""

from __future__ import annotations

import json
import threading
from pathlib import Path

import numpy as np
import pytest
import ray  # the optional extra lmscope[ray]; in the dev extra, so the suite runs it

from lmscope.core.weights import WeightsOptions, analyze_weights, distributed, report


@pytest.fixture(scope="module")
def worker_hub():
    """A loopback mock Hub for the whole module: Ray's workers are started once, with its address."""
    import sys

    sys.path.insert(0, str(Path(__file__).parent))
    try:
        from mockhub import MockHub
    finally:
        sys.path.pop(0)
    hub = MockHub().start()
    yield hub
    hub.stop()


@pytest.fixture(scope="module")
def worker_home(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The workers' own HF_HOME (their cache), apart from the driver's."""
    return tmp_path_factory.mktemp("worker_hf_home")


@pytest.fixture(scope="module")
def ray_cluster(worker_hub, worker_home):
    import os

    # a loaded CI machine can take longer than Ray's default to start the raylet
    os.environ.setdefault("RAY_raylet_start_wait_time_s", "180")
    # the workers' environment: their own cache, the mock Hub, online, no telemetry (no network at all)
    env = {"HF_HOME": str(worker_home), "HF_ENDPOINT": worker_hub.url, "HF_HUB_OFFLINE": "0",
           "HF_HUB_DISABLE_TELEMETRY": "1", "HF_TOKEN_PATH": str(worker_home / "token")}
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False, configure_logging=False,
             runtime_env={"env_vars": env})
    yield
    ray.shutdown()


@pytest.fixture(scope="module")
def sharded(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Three seeded shards and their index: embeddings in the first, layers 0–3, norm and head in the last."""
    from safetensors.numpy import save_file

    rng = np.random.default_rng(15)
    shards: list[dict[str, np.ndarray]] = [{}, {}, {}]
    shards[0]["model.embed_tokens.weight"] = rng.standard_normal((64, 16)).astype(np.float32)
    for layer in range(4):
        shard = shards[min(layer // 2 + (1 if layer else 0), 2)]
        p = f"model.layers.{layer}."
        shard[p + "self_attn.q_proj.weight"] = rng.standard_normal((16, 16)).astype(np.float32)
        shard[p + "mlp.up_proj.weight"] = rng.standard_normal((24, 16)).astype(np.float32)
        shard[p + "input_layernorm.weight"] = (1 + 0.1 * rng.standard_normal(16)).astype(np.float32)
    shards[2]["model.norm.weight"] = np.ones(16, np.float32)
    shards[2]["lm_head.weight"] = rng.standard_normal((64, 16)).astype(np.float32)
    folder = tmp_path_factory.mktemp("sharded")
    weight_map = {}
    for i, tensors in enumerate(shards, 1):
        name = f"model-0000{i}-of-00003.safetensors"
        save_file(tensors, str(folder / name))
        weight_map.update({t: name for t in tensors})
    (folder / "model.safetensors.index.json").write_text(json.dumps({"metadata": {}, "weight_map": weight_map}))
    return folder


def _run(folder: Path, **kw):  # type: ignore[no-untyped-def]
    events = list(analyze_weights(folder, WeightsOptions(device="cpu", **kw)))
    return [e.result for e in events if e.result], events[-1].summary, events


def _without_timings(rows):  # type: ignore[no-untyped-def]
    return [{k: v for k, v in r.to_dict(singular_values=True).items() if k != "seconds"} for r in report.ordered(rows)]


def test_ray_run_equals_local_run(ray_cluster, sharded: Path) -> None:
    local, local_summary, _ = _run(sharded)
    remote, summary, events = _run(sharded, ray="auto")
    assert _without_timings(remote) == _without_timings(local)
    assert report.to_csv(remote) == report.to_csv(local)
    assert summary.by_kind == local_summary.by_kind and summary.embeddings == local_summary.embeddings
    assert summary.tensors_done == summary.tensors_total == local_summary.tensors_total
    assert summary.executor.name == "ray" and summary.executor.tasks == 3 and summary.executor.failed_tasks == 0
    assert local_summary.executor.name == "local"
    # progress events stream in as tasks finish: 1..N with growing bytes, the same total as a local run
    progress = [e for e in events if e.result]
    assert [e.index for e in progress] == list(range(1, len(local) + 1))
    assert progress[-1].bytes_done == local_summary.bytes_total
    doc = json.loads(report.to_json(remote, summary))
    assert doc["summary"]["executor"]["name"] == "ray" and doc["summary"]["executor"]["tasks"] == 3


def test_failing_shard_is_retried_once_then_reported_alone(ray_cluster, sharded: Path, tmp_path: Path,
                                                            monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(distributed, "FAULT_DIR", str(tmp_path))
    (tmp_path / "model-00002-of-00003.safetensors.fail").write_text("1")  # fails once: Ray's retry succeeds
    results, summary, _ = _run(sharded, ray="auto", embeddings=False)
    assert (tmp_path / "model-00002-of-00003.safetensors.fail").read_text() == "0"
    assert summary.tensors_done == summary.tensors_total and summary.executor.failed_tasks == 0
    (tmp_path / "model-00003-of-00003.safetensors.fail").write_text("2")  # fails on the retry too
    results, summary, _ = _run(sharded, ray="auto", embeddings=False)
    assert summary.executor.failed_tasks == 1
    assert {r.file for r in results} == {"model-00001-of-00003.safetensors", "model-00002-of-00003.safetensors"}
    assert any("model-00003-of-00003.safetensors" in n and "failed twice" in n for n in summary.notes)
    assert not summary.cancelled


def test_cancel_stops_the_pending_tasks(ray_cluster, sharded: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(distributed, "FAULT_DIR", str(tmp_path))
    for i in (2, 3):  # the later shards are slow, so they are still running when the cancel comes
        (tmp_path / f"model-0000{i}-of-00003.safetensors.sleep").write_text("60")
    cancel = threading.Event()
    gen = analyze_weights(sharded, WeightsOptions(device="cpu", ray="auto", embeddings=False, cancel=cancel))
    first = next(gen)
    assert first.result is not None and first.result.file == "model-00001-of-00003.safetensors"
    cancel.set()
    rest = list(gen)
    summary = rest[-1].summary
    assert summary.cancelled and summary.executor.cancelled_tasks == 2
    assert summary.tensors_done < summary.tensors_total
    assert all(r.result.file == "model-00001-of-00003.safetensors" for r in rest if r.result)


def test_plan_splits_huge_shards_and_resolves_addresses(sharded: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from lmscope.core.weights import open_weights

    tensors = open_weights(sharded).tensors
    assert len(distributed.plan_tasks(tensors)) == 3
    small = distributed.plan_tasks(tensors, max_task_bytes=2048)
    assert len(small) > 3 and sorted(n for t in small for n in t.names) == sorted(t.name for t in tensors)
    assert all(t.nbytes <= 2048 or len(t.names) == 1 for t in small)
    monkeypatch.delenv("RAY_ADDRESS", raising=False)
    assert distributed.resolve_address(None) == "local" and distributed.resolve_address("") == "local"
    monkeypatch.setenv("RAY_ADDRESS", "ray://head:10001")
    assert distributed.resolve_address("") == "ray://head:10001"
    assert distributed.resolve_address("auto") == "auto"


def test_worker_fetches_from_the_hub_when_the_path_is_not_visible(monkeypatch: pytest.MonkeyPatch, sharded: Path) -> None:
    calls = []

    def fake_download(repo_id, filename, revision=None):  # type: ignore[no-untyped-def]
        calls.append((repo_id, filename, revision))
        return str(sharded / filename)

    import huggingface_hub

    monkeypatch.setattr(huggingface_hub, "hf_hub_download", fake_download)
    task = distributed.ShardTask(file="/not/on/this/worker/model-00001-of-00003.safetensors",
                                 filename="model-00001-of-00003.safetensors", names=("model.embed_tokens.weight",),
                                 nbytes=4096, repo_id="acme/tiny", revision="main")
    result = distributed.run_task(task, WeightsOptions(device="cpu", embeddings=False))
    assert calls == [("acme/tiny", "model-00001-of-00003.safetensors", "main")] and result.source == "hub"
    assert [r.name for r in result.results] == ["model.embed_tokens.weight"]


def test_hub_model_not_cached_each_worker_downloads_its_own_shard(ray_cluster, worker_hub, worker_home, hub_env,
                                                                  monkeypatch: pytest.MonkeyPatch, sharded: Path) -> None:
    """--ray on a Hub id that is not in the local cache: the driver reads the safetensors headers
    (ranged requests) and plans one task per shard; every worker downloads its shard through
    huggingface_hub into its own cache. Oracle: the local engine on the same files."""
    import sys

    from safetensors.numpy import load_file

    sys.path.insert(0, str(Path(__file__).parent))
    try:
        from mockhub import MockRepo, add_sharded_safetensors
    finally:
        sys.path.pop(0)
    names = sorted(p.name for p in sharded.glob("*.safetensors"))
    repo = MockRepo("acme/ray-tiny")
    add_sharded_safetensors(repo, [load_file(str(sharded / n)) for n in names])
    assert sorted(f for f in repo.files if f.endswith(".safetensors")) == names
    worker_hub.add_repo(repo)
    monkeypatch.setenv("HF_ENDPOINT", worker_hub.url)
    worker_hub.reset_counters()

    local, local_summary, _ = _run(sharded)
    remote, summary, events = _run_id("acme/ray-tiny")
    assert _without_timings(remote) == _without_timings(local)
    assert summary.by_kind == local_summary.by_kind and summary.embeddings == local_summary.embeddings
    assert summary.tensors_done == summary.tensors_total == local_summary.tensors_total
    assert summary.executor.name == "ray" and summary.executor.tasks == 3 and summary.executor.address
    doc = json.loads(report.to_json(remote, summary))
    assert doc["summary"]["executor"]["name"] == "ray" and doc["summary"]["executor"]["tasks"] == 3
    assert doc["summary"]["executor"]["address"] == summary.executor.address
    # no weight byte through the driver: its cache holds no shard, the workers' cache holds all three
    assert not list(hub_env.rglob("*.safetensors"))
    assert sorted(p.name for p in worker_home.rglob("*.safetensors")) == names
    # the driver's reads of the shards were ranged (headers); each shard was fetched whole once, by a worker
    shard_gets = [r for r in worker_hub.requests_for(r"\.safetensors$", "GET")]
    whole = [r for r in shard_gets if not r.range]
    assert sorted(r.path.rsplit("/", 1)[-1] for r in whole) == names
    assert all(r.range for r in shard_gets if r not in whole)


def _run_id(model_id: str):  # type: ignore[no-untyped-def]
    events = list(analyze_weights(model_id, WeightsOptions(device="cpu", ray="auto")))
    return [e.result for e in events if e.result], events[-1].summary, events
