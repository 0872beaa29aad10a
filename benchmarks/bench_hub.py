"""The Hub layer against a slow mock Hub: request counts and wall time, sequential vs bounded pool.

A synthetic 64-shard repo (tiny real safetensors shards plus the index) is
served by the loopback mock Hub (tests/mockhub.py) with an added latency per
request (default 50 ms, like a far-away CDN). Measured in the same run:

1. config-only analysis (``fetch_model``, cold cache): requests and wall time;
2. the safetensors header scan: ``max_workers=1`` (the sequential baseline),
   then our bounded pool (8 and 16 workers), and huggingface_hub's own
   ``get_safetensors_metadata`` for reference — printed as ratios to the
   sequential scan.

Run: python benchmarks/bench_hub.py [--shards 64] [--latency 0.05]
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests"))

from mockhub import MockHub, MockRepo, add_sharded_safetensors  # noqa: E402

REPO = "bench/many-shards"


def build_hub(shards: int) -> MockHub:
    import numpy as np

    hub = MockHub()
    repo = hub.add_repo(MockRepo(REPO, tags=["text-generation"], pipeline_tag="text-generation"))
    config = json.loads((ROOT / "tests" / "fixtures" / "hub" / "lmscope-test" / "tiny-llama" / "config.json").read_text())
    config["num_hidden_layers"] = shards
    repo.files["config.json"] = json.dumps(config).encode()
    repo.files["generation_config.json"] = b'{"do_sample": true}'
    repo.files["tokenizer_config.json"] = b'{"model_max_length": 2048}'
    arrays = [
        {f"model.layers.{k}.mlp.{n}.weight": np.zeros((64, 64), np.float16) for n in ("gate_proj", "up_proj", "down_proj")}
        for k in range(shards)
    ]
    add_sharded_safetensors(repo, arrays)
    return hub


def weight_bytes(hub: MockHub) -> int:
    """Bytes the mock sent from .safetensors files (header reads plus whatever weight data came with them)."""
    return sum(r.body_bytes for r in hub.requests if r.path.endswith(".safetensors"))


def timed(fn):
    start = time.perf_counter()
    value = fn()
    return value, time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--shards", type=int, default=64)
    parser.add_argument("--latency", type=float, default=0.05, help="seconds added to every mock answer")
    args = parser.parse_args()

    hub = build_hub(args.shards).start()
    home = tempfile.mkdtemp(prefix="lmscope-bench-hub-")
    os.environ.update(HF_ENDPOINT=hub.url, HF_HOME=home, HF_HUB_DISABLE_TELEMETRY="1", HF_HUB_DISABLE_PROGRESS_BARS="1")
    for name in ("HF_TOKEN", "HF_HUB_OFFLINE", "HF_HUB_CACHE"):
        os.environ.pop(name, None)
    import huggingface_hub.constants as constants

    constants.HF_HUB_DISABLE_TELEMETRY = True
    from lmscope.core.hub.client import hf
    from lmscope.core.hub.fetch import fetch_model
    from lmscope.core.hub.headers import remote_safetensors_headers

    hf()  # import and quiet the library outside the timings
    hub.delay_s = args.latency
    try:
        result, t_fetch = timed(lambda: fetch_model(REPO))
        n_fetch = len(hub.requests)
        print(f"mock Hub: {args.shards} shards, {args.latency * 1000:.0f} ms per request")
        print(f"config-only fetch (cold cache): {n_fetch} requests, {t_fetch:.2f} s")
        hub.reset_counters()
        _, t_warm = timed(lambda: fetch_model(REPO))
        print(f"config-only fetch (warm cache): {len(hub.requests)} requests, {t_warm:.2f} s")

        rows = []
        for workers in (1, 8, 16):
            hub.reset_counters()
            stored, seconds = timed(
                lambda w=workers: remote_safetensors_headers(
                    REPO, max_workers=w, metadata=result.metadata, index=result.files.safetensors_index
                )
            )
            assert len(stored.tensors) == 3 * args.shards
            rows.append((f"lmscope header scan, max_workers={workers}", len(hub.requests), hub.max_in_flight, weight_bytes(hub), seconds))
        hub.reset_counters()
        api = hf().HfApi(endpoint=hub.url)
        meta, seconds = timed(lambda: api.get_safetensors_metadata(REPO, token=False))
        assert len(meta.files_metadata) == args.shards
        rows.append(("huggingface_hub get_safetensors_metadata", len(hub.requests), hub.max_in_flight, weight_bytes(hub), seconds))

        base = rows[0][-1]
        print(f"{'header scan':<44} {'requests':>8} {'in flight':>9} {'shard bytes':>11} {'wall s':>7} {'vs sequential':>13}")
        for name, requests, in_flight, nbytes, seconds in rows:
            print(f"{name:<44} {requests:>8} {in_flight:>9} {nbytes:>11,} {seconds:>7.2f} {base / seconds:>12.1f}x")
    finally:
        hub.stop()


if __name__ == "__main__":
    main()
