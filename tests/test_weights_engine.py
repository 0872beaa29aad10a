"""The streaming engine: events, cancel, filters, experts, embeddings, device fallback, bounded memory."""

from __future__ import annotations

import threading
import tracemalloc
from pathlib import Path

import numpy as np
import pytest

from lmscope.core.weights import WeightsOptions, analyze_weights, engine, spectra
from lmscope.core.weights import device as devices
from lmscope.core.weights.classify import kind_matches, layer_index, module_kind
from lmscope.core.weights.device import DeviceError, select_device


def _save(path: Path, arrays: dict[str, np.ndarray]) -> Path:
    from safetensors.numpy import save_file

    save_file(arrays, path)
    return path


@pytest.fixture(scope="module")
def tiny_model(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict[str, np.ndarray]]:
    rng = np.random.default_rng(0)
    arrays: dict[str, np.ndarray] = {"model.embed_tokens.weight": rng.standard_normal((64, 16)).astype(np.float32)}
    for i in range(3):
        p = f"model.layers.{i}."
        arrays[p + "input_layernorm.weight"] = np.ones(16, np.float32)
        arrays[p + "self_attn.q_proj.weight"] = rng.standard_normal((16, 16)).astype(np.float32)
        arrays[p + "self_attn.k_proj.weight"] = rng.standard_normal((8, 16)).astype(np.float32)
        arrays[p + "mlp.up_proj.weight"] = rng.standard_normal((40, 16)).astype(np.float32)
        arrays[p + "mlp.down_proj.weight"] = rng.standard_normal((16, 40)).astype(np.float32)
    arrays["model.layers.0.mlp.experts.gate_up_proj"] = rng.standard_normal((4, 16, 24)).astype(np.float32)
    arrays["lm_head.weight"] = rng.standard_normal((64, 16)).astype(np.float32)
    folder = tmp_path_factory.mktemp("tiny")
    _save(folder / "model.safetensors", arrays)
    return folder, arrays


def _run(path: Path, **kw: object) -> tuple[list, object]:
    events = list(analyze_weights(path, WeightsOptions(**kw)))  # type: ignore[arg-type]
    assert events[-1].summary is not None
    assert all(e.result is not None for e in events[:-1])
    return [e.result for e in events[:-1]], events[-1].summary


def test_stream_matches_numpy_oracle(tiny_model: tuple[Path, dict[str, np.ndarray]]) -> None:
    folder, arrays = tiny_model
    events = list(analyze_weights(folder, WeightsOptions(keep_singular_values=True)))
    results = [e.result for e in events[:-1]]
    assert [e.index for e in events[:-1]] == list(range(1, len(arrays) + 1))
    assert events[-2].bytes_done == events[-2].bytes_total == sum(a.nbytes for a in arrays.values())
    assert events[-2].eta_seconds == pytest.approx(0.0)
    for r in results:
        ref = arrays[r.name].astype(np.float64)
        assert r.shape == ref.shape and r.numel == ref.size and r.nbytes == arrays[r.name].nbytes
        assert r.mean == pytest.approx(ref.mean(), rel=1e-12, abs=1e-15)
        assert r.std == pytest.approx(ref.std(), rel=1e-12, abs=1e-15)
        assert (r.min, r.max) == (ref.min(), ref.max())
        if ref.ndim == 2:
            (sp,) = r.spectra
            sv = np.linalg.svd(ref, compute_uv=False)
            np.testing.assert_allclose(sp.singular_values, sv, rtol=1e-10, atol=1e-14 * sv[0])
            assert (sp.rows, sp.cols) == ref.shape
        elif ref.ndim == 3:
            assert len(r.spectra) == 4
            for e, sp in enumerate(r.spectra):
                assert sp.expert == e
                sv = np.linalg.svd(ref[e], compute_uv=False)
                np.testing.assert_allclose(sp.singular_values, sv, rtol=1e-10, atol=1e-14 * sv[0])
        else:
            assert r.spectra == ()
    summary = events[-1].summary
    assert summary.tensors_done == summary.tensors_total == len(arrays)
    assert not summary.cancelled
    kinds = {k.kind: k for k in summary.by_kind}
    assert kinds["attention_q"].tensors == 3 and kinds["experts"].matrices == 4
    assert sum(k.params for k in summary.by_kind) == sum(a.size for a in arrays.values())
    (emb,) = summary.embeddings
    assert emb.name == "model.embed_tokens.weight" and 2 <= emb.best_k <= 12
    norms = np.linalg.norm(arrays["model.embed_tokens.weight"].astype(np.float64), axis=1)
    assert dict(emb.norm_quantiles)[0.5] == pytest.approx(np.quantile(norms, 0.5), rel=1e-12)


def test_embedding_clusters_do_not_depend_on_the_thread_count(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The k candidates run side by side in threads; each is seeded on its own, so the scores,
    the chosen k, sizes, inertia and representatives equal those of one k after another."""
    rng = np.random.default_rng(5)
    centres = rng.standard_normal((6, 24)) * 4.0
    emb = (centres[rng.integers(0, 6, 3000)] + rng.standard_normal((3000, 24))).astype(np.float32)
    path = _save(tmp_path / "model.safetensors", {"model.embed_tokens.weight": emb})
    monkeypatch.setattr(engine, "_cpus", lambda: 4)
    (threaded,) = _run(path, spectra=False)[1].embeddings
    monkeypatch.setattr(engine, "KMEANS_THREADS", 1)
    (serial,) = _run(path, spectra=False)[1].embeddings
    assert threaded == serial
    assert [k for k, _ in serial.scores] == list(range(2, 13)) and serial.best_k == 6
    assert serial.sample_rows == 2048 and sum(serial.cluster_sizes) == 2048


def test_small_chunks_give_the_same_answers(tiny_model: tuple[Path, dict[str, np.ndarray]], monkeypatch: pytest.MonkeyPatch) -> None:
    folder, _ = tiny_model
    big, _ = _run(folder, embeddings=False)
    monkeypatch.setattr(engine, "CHUNK_ELEMENTS", 50)  # several chunks per tensor, wide and tall
    small, _ = _run(folder, embeddings=False)
    for a, b in zip(big, small):
        assert a.mean == pytest.approx(b.mean, rel=1e-12, abs=1e-15)
        assert a.std == pytest.approx(b.std, rel=1e-12)
        for sa, sb in zip(a.spectra, b.spectra):
            assert sa.spectral_norm == pytest.approx(sb.spectral_norm, rel=1e-12)
            assert sa.min_singular_value == pytest.approx(sb.min_singular_value, rel=1e-9, abs=1e-13 * sa.spectral_norm)


def test_filters(tiny_model: tuple[Path, dict[str, np.ndarray]]) -> None:
    folder, _ = tiny_model
    results, summary = _run(folder, tensors=("*.q_proj.*",), spectra=False)
    assert [r.name for r in results] == [f"model.layers.{i}.self_attn.q_proj.weight" for i in range(3)]
    results, _ = _run(folder, kinds=("attention",), spectra=False)
    assert {r.kind for r in results} == {"attention_q", "attention_k"}
    results, _ = _run(folder, kinds=("mlp_down", "norm"), spectra=False)
    assert {r.kind for r in results} == {"mlp_down", "norm"}
    results, summary = _run(folder, max_tensors=2, spectra=False)
    assert len(results) == 2 and summary.tensors_total == 2
    results, summary = _run(folder, tensors=("nothing*",))
    assert results == [] and summary.tensors_total == 0


def test_cancel_between_tensors(tiny_model: tuple[Path, dict[str, np.ndarray]]) -> None:
    folder, _ = tiny_model
    cancel = threading.Event()
    gen = analyze_weights(folder, WeightsOptions(cancel=cancel, embeddings=False))
    first = next(gen)
    second = next(gen)
    cancel.set()
    rest = list(gen)
    assert first.index == 1 and second.index == 2
    assert len(rest) == 1 and rest[0].summary is not None
    s = rest[0].summary
    assert s.cancelled and s.tensors_done == 2 and s.tensors_total > 2
    assert "cancelled" in s.notes[0]


def test_cancel_between_experts(tiny_model: tuple[Path, dict[str, np.ndarray]], monkeypatch: pytest.MonkeyPatch) -> None:
    folder, _ = tiny_model
    cancel = threading.Event()
    real = engine.spectrum_of
    calls = []

    def spectrum_then_cancel(*args, **kwargs):  # type: ignore[no-untyped-def]
        out = real(*args, **kwargs)
        if args[2] is not options:  # another run's call (a thread left by an earlier test): not counted
            return out
        calls.append(kwargs.get("expert"))
        if len(calls) == 2:
            cancel.set()  # after expert 1: the check before expert 2 stops the loop
        return out

    monkeypatch.setattr(engine, "spectrum_of", spectrum_then_cancel)
    options = WeightsOptions(tensors=("*experts*",), cancel=cancel)
    events = list(analyze_weights(folder, options))
    (r,) = [e.result for e in events if e.result]
    assert calls == [0, 1]
    assert len(r.spectra) == 2 and "cancelled after 2 of 4 experts" in r.notes
    assert events[-1].summary.cancelled


def _without_timing(results: list) -> list:  # type: ignore[type-arg]
    import dataclasses

    return [dataclasses.replace(r, seconds=0.0) for r in results]


def test_small_tensors_side_by_side_equal_one_at_a_time(tiny_model: tuple[Path, dict[str, np.ndarray]],
                                                         monkeypatch: pytest.MonkeyPatch) -> None:
    """Small tensors run on several threads (one BLAS thread each); the events come in file order and
    every record and the summary equal those of a serial run, bit for bit (timings aside)."""
    folder, arrays = tiny_model
    monkeypatch.setattr(engine, "_cpus", lambda: 4)
    assert engine._tensor_workers("cpu") == 4
    parallel, p_summary = _run(folder, keep_singular_values=True)
    monkeypatch.setattr(engine, "TENSOR_THREADS", 1)
    assert engine._tensor_workers("cpu") == 1
    serial, s_summary = _run(folder, keep_singular_values=True)
    from lmscope.core.weights.readers import open_weights

    in_file = [t.name for t in open_weights(folder).tensors]
    assert [r.name for r in parallel] == in_file == [r.name for r in serial] and len(in_file) == len(arrays)
    assert _without_timing(parallel) == _without_timing(serial)
    assert p_summary.embeddings == s_summary.embeddings and p_summary.by_kind == s_summary.by_kind


def test_large_matrices_run_alone_small_ones_together() -> None:
    """What may run beside other tensors: nothing with a side ≥ SMALL_K (its BLAS uses every core),
    nothing over LIGHT_BYTES in float64 (the direct SVD would hold it whole once per thread)."""
    from lmscope.core.weights.readers import LazyTensor

    def lazy(shape: tuple[int, ...]) -> LazyTensor:
        n = int(np.prod(shape))
        return LazyTensor(name="w", dtype="F32", shape=shape, nbytes=4 * n, file="x.safetensors", floating=True,
                          _read=lambda index: np.zeros(1))

    k = spectra.SMALL_K
    assert engine._light(lazy((k - 1, 4 * k))) and engine._light(lazy((4096,)))
    assert not engine._light(lazy((k, k))) and not engine._light(lazy((8, k, 2 * k)))
    assert engine._light(lazy((8, k - 1, 2 * k)))
    rows = engine.LIGHT_BYTES // 8 // 64
    assert engine._light(lazy((rows, 64))) and not engine._light(lazy((rows + 1, 64)))


def test_cancel_with_tensors_side_by_side_starts_nothing_more(tiny_model: tuple[Path, dict[str, np.ndarray]],
                                                              monkeypatch: pytest.MonkeyPatch) -> None:
    """Two tensors in progress on two threads when the cancel comes: the queued tensors never start,
    and nothing but the summary (cancelled, 0 done) is reported — as in a serial run."""
    folder, _ = tiny_model
    monkeypatch.setattr(engine, "_cpus", lambda: 2)
    cancel, go = threading.Event(), threading.Event()
    started: list[str] = []
    two = threading.Semaphore(0)
    real = engine.analyze_tensor

    def blocked(t, device, opts):  # type: ignore[no-untyped-def]
        started.append(t.name)
        two.release()
        go.wait(30)
        return real(t, device, opts)

    monkeypatch.setattr(engine, "analyze_tensor", blocked)
    events: list = []
    runner = threading.Thread(target=lambda: events.extend(analyze_weights(folder, WeightsOptions(cancel=cancel, embeddings=False))))
    runner.start()
    assert two.acquire(timeout=30) and two.acquire(timeout=30)  # both threads are inside a tensor
    cancel.set()
    go.set()
    runner.join(30)
    assert not runner.is_alive() and len(started) == 2
    assert [e.result for e in events] == [None] and events[0].summary.cancelled and events[0].summary.tensors_done == 0


def test_cancel_between_row_chunks_drops_the_tensor(tiny_model: tuple[Path, dict[str, np.ndarray]], monkeypatch: pytest.MonkeyPatch) -> None:
    """A cancel inside a tensor stops at the next row chunk; the half-read tensor is not reported."""
    folder, _ = tiny_model
    cancel = threading.Event()
    monkeypatch.setattr(engine, "CHUNK_ELEMENTS", 64)  # many small chunks per tensor
    monkeypatch.setattr(engine, "TENSOR_THREADS", 1)  # one tensor at a time: the first is done before the cancel
    real = engine.element_stats
    seen = []

    me = threading.current_thread()  # the serial run is consumed here: calls from any other thread are not ours

    def stats_that_cancel(chunks):  # type: ignore[no-untyped-def]
        if threading.current_thread() is not me:
            return real(chunks)
        seen.append(1)
        if len(seen) == 2:
            def cancelling():  # type: ignore[no-untyped-def]
                for i, c in enumerate(chunks()):
                    if i == 1:
                        cancel.set()
                    yield c
            return real(cancelling)
        return real(chunks)

    monkeypatch.setattr(engine, "element_stats", stats_that_cancel)
    events = list(analyze_weights(folder, WeightsOptions(cancel=cancel, embeddings=False, spectra=False)))
    results = [e.result for e in events if e.result]
    assert len(results) == 1 and len(seen) == 2
    assert events[-1].summary.cancelled and events[-1].summary.tensors_done == 1


def test_integer_tensors_get_stats_but_no_spectrum(tmp_path: Path) -> None:
    p = _save(tmp_path / "q.safetensors", {"model.layers.0.mlp.down_proj.qweight": np.arange(12, dtype=np.int32).reshape(3, 4)})
    (r,), _ = _run(p)
    assert r.spectra == () and r.mean == pytest.approx(5.5)
    assert "no spectrum" in r.notes[0]


def test_bf16_storage_is_upcast_exactly(tmp_path: Path) -> None:
    import torch
    from safetensors.torch import save_file

    w = torch.randn(30, 20, generator=torch.Generator().manual_seed(0)).to(torch.bfloat16)
    save_file({"model.layers.0.self_attn.o_proj.weight": w}, str(tmp_path / "b.safetensors"))
    (r,), _ = _run(tmp_path / "b.safetensors", keep_singular_values=True)
    ref = w.double().numpy()
    assert r.dtype == "BF16" and r.mean == pytest.approx(ref.mean(), rel=1e-12)
    sv = np.linalg.svd(ref, compute_uv=False)
    np.testing.assert_allclose(r.spectra[0].singular_values, sv, rtol=1e-10)


# ---------------------------------------------------------------- device selection and fallback
def test_device_selection(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(devices, "cuda_available", lambda: False)
    assert select_device("cpu") == "cpu"
    assert select_device("auto") == "cpu"
    with pytest.raises(DeviceError, match="no CUDA"):
        select_device("cuda")
    with pytest.raises(DeviceError):
        select_device("tpu")
    monkeypatch.setattr(devices, "cuda_available", lambda: True)
    assert select_device("auto") == "cuda"
    assert select_device("cuda") == "cuda"
    assert select_device("cpu") == "cpu"


class OutOfMemoryError(RuntimeError):
    """Same class name as torch.cuda.OutOfMemoryError."""


def test_cuda_oom_falls_back_to_cpu_per_tensor(tiny_model: tuple[Path, dict[str, np.ndarray]], monkeypatch: pytest.MonkeyPatch) -> None:
    folder, arrays = tiny_model
    calls: list[tuple[int, int]] = []

    def fake_cuda(chunks, shape, tol):  # type: ignore[no-untyped-def]
        calls.append(shape)
        if shape[1] >= 16 and shape[0] >= 40:  # the big ones "do not fit"
            raise OutOfMemoryError("CUDA out of memory. Tried to allocate 2.00 GiB")
        return spectra.SingularValues(spectra.singular_values(chunks, shape, tol).values, "cuda-gram")

    monkeypatch.setattr(devices, "cuda_available", lambda: True)
    monkeypatch.setattr(devices, "cuda_singular_values", fake_cuda)
    monkeypatch.setattr(devices, "describe", lambda d: "cuda (mock)")
    results, summary = _run(folder, device="cuda", embeddings=False, kinds=("mlp", "attention"))
    assert calls
    for r in results:
        sp = r.spectra[0]
        sv = np.linalg.svd(arrays[r.name].astype(np.float64), compute_uv=False)
        assert sp.spectral_norm == pytest.approx(sv[0], rel=1e-12)
        if max(r.shape) >= 40:
            assert sp.device == "cpu" and any("CUDA out of memory" in n for n in r.notes)
        else:
            assert sp.device == "cuda" and sp.method == "cuda-gram" and not r.notes
    assert summary.device == "cuda (mock)"


def test_other_cuda_failures_also_fall_back(monkeypatch: pytest.MonkeyPatch) -> None:
    def broken(chunks, shape, tol):  # type: ignore[no-untyped-def]
        raise RuntimeError("cusolver error")

    monkeypatch.setattr(devices, "cuda_singular_values", broken)
    w = np.random.default_rng(0).standard_normal((20, 10))
    sv, note = devices.singular_values_on("cuda", spectra.row_chunks(w), (20, 10), 1e-10)
    np.testing.assert_allclose(sv.values, np.linalg.svd(w, compute_uv=False), rtol=1e-10)
    assert note is not None and "CUDA failed (RuntimeError)" in note
    assert devices.is_out_of_memory(OutOfMemoryError("x")) and devices.is_out_of_memory(RuntimeError("CUDA out of memory"))


@pytest.mark.parametrize("name", ["tall", "square", "low-rank"])
def test_torch_implementation_of_the_cuda_path_runs_on_cpu(name: str) -> None:
    import torch  # noqa: F401
    rng = np.random.default_rng(3)
    w = {"tall": rng.standard_normal((300, 80)), "square": rng.standard_normal((150, 150)),
         "low-rank": rng.standard_normal((120, 4)) @ rng.standard_normal((4, 90))}[name]
    a = spectra.orient(w)
    got = devices.cuda_singular_values(spectra.row_chunks(a, chunk_elements=a.shape[1] * 37), a.shape, 1e-10, where="cpu")
    assert got.method == {"tall": "cuda-gram", "square": "cuda-gram+refine", "low-rank": "cuda-svd"}[name]
    ref = np.linalg.svd(w, compute_uv=False)
    assert np.max(np.abs(got.values - ref) / (1e-10 * ref + 1e-14 * ref[0])) <= 1


def test_cuda_path_on_a_real_gpu_matches_cpu() -> None:
    if not devices.cuda_available():
        pytest.skip("this machine has no CUDA GPU (the CPU run of the same code is the test above)")
    w = np.random.default_rng(0).standard_normal((300, 200))
    got = devices.cuda_singular_values(spectra.row_chunks(w), (300, 200), 1e-10)
    ref = np.linalg.svd(w, compute_uv=False)
    assert np.max(np.abs(got.values - ref) / (1e-10 * ref + 1e-14 * ref[0])) <= 1


# ---------------------------------------------------------------- classification
@pytest.mark.parametrize(("name", "kind", "layer"), [
    ("model.layers.3.self_attn.q_proj.weight", "attention_q", 3),
    ("transformer.h.7.attn.c_attn.weight", "attention_qkv", 7),
    ("transformer.h.7.mlp.c_proj.weight", "mlp_down", 7),
    ("blk.2.attn_output.weight", "attention_o", 2),
    ("encoder.layer.1.attention.self.value.weight", "attention_v", 1),
    ("encoder.layer.1.intermediate.dense.weight", "mlp_up", 1),
    ("encoder.layer.1.output.dense.weight", "mlp_down", 1),
    ("encoder.layer.1.attention.output.LayerNorm.weight", "norm", 1),
    ("model.layers.0.block_sparse_moe.experts.5.w1.weight", "experts", 0),
    ("model.layers.4.mlp.experts.gate_up_proj", "experts", 4),
    ("model.layers.4.mlp.shared_experts.down_proj.weight", "shared_experts", 4),
    ("model.layers.4.mlp.gate.weight", "router", 4),
    ("blk.4.ffn_gate_inp.weight", "router", 4),
    ("model.layers.4.mlp.gate_proj.weight", "mlp_gate", 4),
    ("backbone.layers.9.mixer.in_proj.weight", "mamba_in", 9),
    ("backbone.layers.9.mixer.conv1d.weight", "mamba_conv", 9),
    ("backbone.layers.9.mixer.out_proj.weight", "mamba_out", 9),
    ("model.embed_tokens.weight", "embedding", None),
    ("token_embd.weight", "embedding", None),
    ("lm_head.weight", "lm_head", None),
    ("output.weight", "lm_head", None),
    ("model.norm.weight", "norm", None),
    ("vision_tower.encoder.layers.0.self_attn.q_proj.weight", "vision", 0),
    ("embeddings.position_ids", "buffer", None),
])
def test_module_kind(name: str, kind: str, layer: int | None) -> None:
    assert module_kind(name) == kind
    assert layer_index(name) == layer


def test_kind_families() -> None:
    assert kind_matches("attention_q", ("attention",)) and kind_matches("mlp_up", ("mlp",))
    assert not kind_matches("norm", ("attention", "mlp")) and kind_matches("norm", ())


# ---------------------------------------------------------------- HF cache and memory
def test_hub_id_resolves_to_cached_snapshot(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from lmscope.core.errors import SourceError
    from lmscope.core.weights.locate import locate_weights

    cache = tmp_path / "hub"
    repo = cache / "models--acme--tiny"
    snap = repo / "snapshots" / ("a" * 40)
    snap.mkdir(parents=True)
    (repo / "refs").mkdir()
    (repo / "refs" / "main").write_text("a" * 40)
    _save(snap / "model.safetensors", {"w": np.ones((2, 2), np.float32)})
    monkeypatch.setenv("HF_HUB_CACHE", str(cache))
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    assert locate_weights("acme/tiny") == snap
    (r,), _ = _run(Path(locate_weights("acme/tiny")))
    assert r.name == "w"
    with pytest.raises(SourceError, match="--download"):
        locate_weights("acme/absent")


def test_peak_memory_with_small_chunks(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    rng = np.random.default_rng(1)
    w = rng.standard_normal((16384, 64)).astype(np.float32)
    p = _save(tmp_path / "big.safetensors", {"model.layers.0.mlp.up_proj.weight": w})
    del w
    monkeypatch.setattr(engine, "CHUNK_ELEMENTS", 1 << 14)  # 128 KiB float64 chunks
    tracemalloc.start()
    try:
        list(analyze_weights(p, WeightsOptions(embeddings=False)))
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    whole64 = 16384 * 64 * 8  # 8 MiB
    # a few chunk-sized temporaries (stats) plus the 64×64 Gram, never the 8 MiB float64 tensor
    assert peak < whole64 / 4, f"peak {peak} bytes: the tensor was materialised"


def test_model_source_objects_are_accepted(tiny_model: tuple[Path, dict[str, np.ndarray]], tmp_path: Path) -> None:
    from lmscope.core.architecture import ConfigFiles
    from lmscope.core.errors import SourceError
    from lmscope.core.sources.base import ModelSource

    folder, arrays = tiny_model
    files = ConfigFiles(config={})
    src = ModelSource(model_id="acme/tiny", kind="local", files=files, location=str(folder))
    events = list(analyze_weights(src, WeightsOptions(spectra=False, max_tensors=2)))
    assert events[-1].summary.model == "acme/tiny" and events[-1].summary.tensors_done == 2
    (tmp_path / "config.json").write_text("{}")
    cfg = ModelSource(model_id="cfg", kind="config", files=files, location=str(tmp_path / "config.json"))
    with pytest.raises(SourceError, match="no weights found"):
        list(analyze_weights(cfg))


def test_stacked_tensor_stats_are_chunked_within_an_expert(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    w = np.random.default_rng(4).standard_normal((3, 10, 7)).astype(np.float32)
    p = _save(tmp_path / "e.safetensors", {"model.layers.0.mlp.experts.up_proj": w})
    monkeypatch.setattr(engine, "CHUNK_ELEMENTS", 20)  # smaller than one expert (70 elements)
    seen: list[int] = []
    t = next(iter(engine.open_weights(p).tensors))
    for c in engine._leading_chunks(t)():
        seen.append(c.size)
    assert max(seen) <= 20 and sum(seen) == w.size
    (r,), _ = _run(p)
    assert r.mean == pytest.approx(w.astype(np.float64).mean(), rel=1e-12)
    assert r.std == pytest.approx(w.astype(np.float64).std(), rel=1e-12)
    assert len(r.spectra) == 3


def test_non_finite_values_skip_the_spectrum(tmp_path: Path) -> None:
    w = np.ones((4, 3), np.float32)
    w[1, 2] = np.nan
    p = _save(tmp_path / "n.safetensors", {"model.layers.0.mlp.up_proj.weight": w})
    (r,), summary = _run(p)
    assert r.spectra == () and "non-finite" in r.notes[0]
    from lmscope.core.weights import report

    assert '"mean": "nan"' in report.to_json([r], summary)


def test_the_allocator_is_tuned_once_on_glibc() -> None:
    """tune_allocator sets glibc's mmap/trim thresholds (one ctypes call each, once per process);
    elsewhere it says it did nothing. The effect on speed is a benchmark's (bench_spectra.py)."""
    import platform

    from lmscope.core.weights import parallel

    applied = parallel.tune_allocator()
    assert parallel.tune_allocator() is applied  # cached: the process is tuned once
    assert applied == (platform.system() == "Linux" and platform.libc_ver()[0] == "glibc")
