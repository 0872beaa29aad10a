"""Sort and filter rules of the Weights table (core/weights/table.py) and resume after a cancel.

Oracles: the sorted order is checked against the records' own fields sorted by Python's
``sorted`` on values computed here from the spectra (not by the module's metric functions);
a resumed run is checked against an uninterrupted run of the same checkpoint (every field but
the timings equal).
"""

from __future__ import annotations

import math
import threading
from pathlib import Path

import numpy as np
import pytest

from lmscope.core.errors import UsageError
from lmscope.core.weights import Resume, WeightsOptions, analyze_weights, report, table


@pytest.fixture(scope="module")
def checkpoint(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from safetensors.numpy import save_file

    rng = np.random.default_rng(3)
    arrays: dict[str, np.ndarray] = {"model.embed_tokens.weight": rng.standard_normal((48, 16)).astype(np.float32)}
    for i in range(4):
        p = f"model.layers.{i}."
        arrays[p + "input_layernorm.weight"] = (1 + 0.1 * rng.standard_normal(16)).astype(np.float32)
        arrays[p + "self_attn.q_proj.weight"] = (rng.standard_t(3 + i, (16, 16)) * (i + 1)).astype(np.float32)
        arrays[p + "mlp.up_proj.weight"] = rng.standard_normal((40, 16)).astype(np.float32)
    arrays["model.layers.1.mlp.experts.gate_up_proj"] = rng.standard_normal((3, 16, 24)).astype(np.float32)
    arrays["lm_head.weight"] = rng.standard_normal((48, 16)).astype(np.float32)
    folder = tmp_path_factory.mktemp("table")
    save_file(arrays, str(folder / "model.safetensors"))
    return folder


def _results(folder: Path, **kw):  # type: ignore[no-untyped-def]
    events = list(analyze_weights(folder, WeightsOptions(device="cpu", **kw)))
    return [e.result for e in events if e.result], events[-1].summary, events


def test_sort_by_any_metric_matches_an_independent_sort(checkpoint: Path) -> None:
    results, _, _ = _results(checkpoint)

    def mean_alpha(t):  # type: ignore[no-untyped-def]
        a = [s.alpha for s in t.spectra if s.alpha is not None]
        return sum(a) / len(a) if a else None

    order = table.view(results, "alpha", descending=True)
    with_alpha = [i for i, t in enumerate(results) if mean_alpha(t) is not None]
    expected = sorted(with_alpha, key=lambda i: -mean_alpha(results[i]))
    assert order[: len(expected)] == expected
    assert set(order[len(expected):]) == set(range(len(results))) - set(with_alpha)  # no α: last
    asc = table.view(results, "std")
    assert [results[i].std for i in asc] == sorted(t.std for t in results)
    by_layer = table.view(results, "report")
    assert [results[i].name for i in by_layer] == [t.name for t in report.ordered(results)]
    assert table.view(results, "arrival") == list(range(len(results)))
    # every sort key works and keeps every row
    for key, _label in table.SORTS:
        assert sorted(table.view(results, key)) == list(range(len(results)))
    # the experts tensor: its stable rank is the mean over its experts
    experts = next(t for t in results if t.kind == "experts")
    metric = table.METRIC_BY_KEY["stable_rank"].value(experts)
    assert metric == pytest.approx(np.mean([s.stable_rank for s in experts.spectra]))


def test_filters_by_kind_layer_metric_and_name(checkpoint: Path) -> None:
    results, _, _ = _results(checkpoint)

    def names(expr: str) -> set[str]:
        return {results[i].name for i in table.view(results, where=table.parse_filter(expr))}

    assert names("kind:mlp") == {t.name for t in results if t.kind.startswith("mlp")}
    assert names("kind:norm,lm_head") == {t.name for t in results if t.kind in ("norm", "lm_head")}
    assert names("layer:1-2") == {t.name for t in results if t.layer in (1, 2)}
    assert names("layer:none") == {"model.embed_tokens.weight", "lm_head.weight"}
    high = {t.name for t in results if t.spectra and np.mean([s.stable_rank for s in t.spectra]) > 5}
    assert names("stable_rank>5") == high and high
    assert names("q_proj layer:3") == {"model.layers.3.self_attn.q_proj.weight"}
    assert names("zeros<=0%") == {t.name for t in results if t.zero_fraction == 0}
    assert names("") == {t.name for t in results}
    for bad in ("kind:nonsense", "layer:x", "alpha>>3", "bogus>1"):
        with pytest.raises(UsageError):
            table.parse_filter(bad)


def test_kind_cycle_and_sort_cycle(checkpoint: Path) -> None:
    results, _, _ = _results(checkpoint)
    kinds = table.kinds_present(results)
    seen, k = [], None
    for _ in range(len(kinds) + 1):
        k = table.next_kind(k, results)
        seen.append(k)
    assert seen == [*kinds, None]
    keys, key = [], "arrival"
    for _ in table.SORTS:
        key = table.next_sort(key)
        keys.append(key)
    assert keys[-1] == "arrival" and len(set(keys)) == len(table.SORTS)


def _comparable(rows):  # type: ignore[no-untyped-def]
    return [{k: v for k, v in r.to_dict(singular_values=True).items() if k != "seconds"} for r in report.ordered(rows)]


def test_resume_after_cancel_equals_an_uninterrupted_run(checkpoint: Path) -> None:
    full, full_summary, _ = _results(checkpoint, keep_singular_values=True)
    cancel = threading.Event()
    gen = analyze_weights(checkpoint, WeightsOptions(device="cpu", keep_singular_values=True, cancel=cancel))
    first = [next(gen) for _ in range(3)]  # the embedding (with its clusters) and two more
    cancel.set()
    rest = list(gen)
    assert rest[-1].summary.cancelled
    done = [e.result for e in first + rest if e.result]
    clusters = [c for e in first for c in e.clusters]
    assert [c.name for c in clusters] == ["model.embed_tokens.weight"]  # they travel with their tensor
    seen: list[str] = []

    def counting(t, device, opts):  # type: ignore[no-untyped-def]
        seen.append(t.name)
        return real(t, device, opts)

    from lmscope.core.weights import engine

    real = engine.analyze_tensor
    engine.analyze_tensor = counting  # type: ignore[assignment]
    try:
        events = list(analyze_weights(checkpoint, WeightsOptions(device="cpu", keep_singular_values=True),
                                      resume=Resume(tuple(done), tuple(clusters), 1.5)))
    finally:
        engine.analyze_tensor = real  # type: ignore[assignment]
    assert not set(seen) & {t.name for t in done}  # nothing done twice
    progress = [e for e in events if e.result]
    assert progress[0].index == len(done) + 1 and progress[-1].index == full_summary.tensors_total
    assert progress[-1].bytes_done == full_summary.bytes_total
    summary = events[-1].summary
    resumed = done + [e.result for e in progress]
    assert _comparable(resumed) == _comparable(full)
    assert summary.tensors_done == summary.tensors_total == full_summary.tensors_total
    assert summary.by_kind == full_summary.by_kind and summary.embeddings == full_summary.embeddings
    assert summary.params_done == full_summary.params_done and not summary.cancelled
    assert summary.seconds >= 1.5 and any("resumed" in n for n in summary.notes)
    assert math.isfinite(summary.seconds)
