"""Remote safetensors headers via ranged reads, checked against the arrays the fixture wrote.

The oracle is independent of our parser: the numpy arrays ``tests/mockhub.py``
serialised with ``safetensors.numpy`` (names, dtypes, shapes, byte sizes).
"""

from __future__ import annotations

import json
import struct

import numpy as np
import pytest
from mockhub import TINY_LLAMA, MockRepo, add_sharded_safetensors, safetensors_bytes, tiny_llama_tensors

from lmscope.core.errors import FileFormatError, HubError
from lmscope.core.hub.headers import (
    PROBE_BYTES,
    bytes_by_dtype,
    layer_storage,
    remote_safetensors_headers,
)
from lmscope.core.hub.info import model_metadata
from lmscope.core.sources.safetensors_header import MAX_HEADER_BYTES, dtype_nbytes
from lmscope.core.tensor_names import layer_index

NUMPY_TO_SAFETENSORS = {np.dtype("float16"): "F16", np.dtype("float32"): "F32", np.dtype("int8"): "I8", np.dtype("int32"): "I32"}


def _oracle(mock_hub):
    config = json.loads(mock_hub.repos[TINY_LLAMA].files["config.json"])
    arrays: dict[str, np.ndarray] = {}
    for shard in tiny_llama_tensors(config, shards=2):
        arrays.update(shard)
    return arrays


def test_sharded_headers_match_the_arrays_written(mock_hub):
    stored = remote_safetensors_headers(TINY_LLAMA)
    arrays = _oracle(mock_hub)
    got = {t.name: t for t in stored.tensors}
    assert set(got) == set(arrays)
    for name, arr in arrays.items():
        t = got[name]
        assert t.shape == arr.shape and t.dtype == NUMPY_TO_SAFETENSORS[arr.dtype] and t.nbytes == arr.nbytes
    assert stored.total_params == sum(a.size for a in arrays.values())
    by_dtype: dict[str, int] = {}
    for arr in arrays.values():
        by_dtype[NUMPY_TO_SAFETENSORS[arr.dtype]] = by_dtype.get(NUMPY_TO_SAFETENSORS[arr.dtype], 0) + arr.size
    assert stored.params_by_dtype() == by_dtype
    assert bytes_by_dtype(stored)["I8"] == sum(a.nbytes for a in arrays.values() if a.dtype == np.int8)
    assert stored.source == "safetensors-header" and "no weight file downloaded" in stored.notes[0]


def test_only_ranged_header_reads_touch_weight_files(mock_hub):
    remote_safetensors_headers(TINY_LLAMA)
    weight_requests = [r for r in mock_hub.requests if r.path.endswith(".safetensors")]
    assert len(weight_requests) == 2  # one read per shard: the probe held the whole header
    files = mock_hub.repos[TINY_LLAMA].files
    for r in weight_requests:
        assert r.method == "GET" and r.range is not None and r.range.startswith("bytes=0-")
        (n,) = struct.unpack("<Q", files[r.path.rsplit("/", 1)[1]][:8])
        # sized from the index's tensor count: the whole header, and at most 8 KiB of weight data
        assert r.status == 206 and 8 + n <= r.body_bytes <= 8 + n + 8 * 1024


def test_per_layer_storage(mock_hub):
    stored = remote_safetensors_headers(TINY_LLAMA)
    layers = layer_storage(stored)
    arrays = _oracle(mock_hub)
    assert [l.layer for l in layers] == [0, 1, None]
    for entry in layers[:2]:
        mine = [a for n, a in arrays.items() if f".layers.{entry.layer}." in n]
        assert entry.params == sum(a.size for a in mine) and entry.nbytes == sum(a.nbytes for a in mine)
        assert entry.precision == "F16"
    assert layers[2].params == sum(a.size for n, a in arrays.items() if ".layers." not in n)


def test_layer_index_from_names():
    assert layer_index("model.layers.12.mlp.up_proj.weight") == 12
    assert layer_index("transformer.h.3.attn.c_attn.weight") == 3
    assert layer_index("backbone.layers.0.mixer.A_log") == 0
    assert layer_index("model.embed_tokens.weight") is None
    assert layer_index("lm_head.weight") is None


def test_header_scan_with_known_metadata_and_index(mock_hub):
    meta = model_metadata(TINY_LLAMA)
    index = json.loads(mock_hub.repos[TINY_LLAMA].files["model.safetensors.index.json"])
    mock_hub.reset_counters()
    stored = remote_safetensors_headers(TINY_LLAMA, metadata=meta, index=index)
    assert len(stored.tensors) == len(index["weight_map"])
    assert all(r.path.endswith(".safetensors") for r in mock_hub.requests)  # no info/index requests again


def test_many_shards_bounded_concurrency(mock_hub):
    repo = mock_hub.add_repo(MockRepo("lmscope-test/many-shards"))
    shards = [{f"model.layers.{k}.w": np.full((4, 4), k, dtype=np.float32)} for k in range(24)]
    add_sharded_safetensors(repo, shards)
    meta = model_metadata(repo.repo_id)
    mock_hub.delay_s = 0.05
    mock_hub.reset_counters()
    stored = remote_safetensors_headers(repo.repo_id, max_workers=4, metadata=meta)
    assert len(stored.tensors) == 24 and stored.total_params == 24 * 16
    assert 2 <= mock_hub.max_in_flight <= 5  # 4 header reads (+ at most the index download) at once
    assert len([r for r in mock_hub.requests if r.path.endswith(".safetensors")]) == 24


def test_header_larger_than_the_probe_needs_a_second_range(mock_hub):
    repo = mock_hub.add_repo(MockRepo("lmscope-test/big-header"))
    arrays = {f"model.layers.{i}.a_rather_long_tensor_name_to_grow_the_header.weight": np.zeros(2, np.float16) for i in range(1500)}
    add_sharded_safetensors(repo, [arrays])
    stored = remote_safetensors_headers(repo.repo_id)
    assert len(stored.tensors) == 1500 and stored.total_params == 3000
    ranges = [r.range for r in mock_hub.requests if r.path.endswith(".safetensors")]
    (n,) = struct.unpack("<Q", repo.files["model.safetensors"][:8])
    assert n > PROBE_BYTES and ranges == [f"bytes=0-{PROBE_BYTES - 1}", f"bytes=8-{8 + n - 1}"]


def test_probe_size_from_the_tensor_count():
    from lmscope.core.hub.headers import probe_size

    assert probe_size(None, None) == PROBE_BYTES and probe_size(None, 100) == 100
    assert probe_size(3, None) == 8 * 1024  # floor
    assert probe_size(1000, None) == 1000 * 192 + 1024  # one request for a big shard's header
    assert probe_size(10**6, 10**12) == 1024 * 1024  # ceiling


def test_server_ignoring_range_is_not_read_to_the_end(mock_hub):
    mock_hub.honour_range = False
    stored = remote_safetensors_headers(TINY_LLAMA)
    assert stored.total_params == sum(a.size for a in _oracle(mock_hub).values())


def test_every_safetensors_dtype_size():
    raw = {
        "a": ("BF16", (3, 5), b"\0" * 30),
        "b": ("F8_E4M3", (7,), b"\0" * 7),
        "c": ("F8_E5M2", (2, 2), b"\0" * 4),
        "d": ("F4", (8,), b"\0" * 4),
        "e": ("F64", (2,), b"\0" * 16),
        "f": ("I64", (1,), b"\0" * 8),
        "g": ("BOOL", (3,), b"\0" * 3),
        "h": ("U8", (5,), b"\0" * 5),
        "i": ("I16", (2,), b"\0" * 4),
        "j": ("F6_E2M3", (4,), b"\0" * 3),
    }
    from lmscope.core.sources.safetensors_header import parse_safetensors_header as parse_header

    data = safetensors_bytes(raw)
    (n,) = struct.unpack("<Q", data[:8])
    tensors = {t.name: t for t in parse_header(data[8 : 8 + n], filename="x", file_size=len(data))}
    for name, (dtype, shape, blob) in raw.items():
        assert tensors[name].dtype == dtype and tensors[name].nbytes == len(blob) and tensors[name].shape == shape
    assert dtype_nbytes("F4", 7) == 4 and dtype_nbytes("F8_E4M3", 10) == 10 and dtype_nbytes("Q9_WEIRD", 3) is None


def _lying_repo(mock_hub, name: str, data: bytes) -> str:
    repo_id = f"liars/{name}"
    mock_hub.add_repo(MockRepo(repo_id, files={"config.json": b"{}", "model.safetensors": data}))
    return repo_id


def _header(entries: dict) -> bytes:
    blob = json.dumps(entries).encode()
    return struct.pack("<Q", len(blob)) + blob


@pytest.mark.parametrize(
    "name, data, words",
    [
        ("huge-claim", struct.pack("<Q", MAX_HEADER_BYTES + 1) + b"{}" * 10, "refusing"),
        ("past-eof", struct.pack("<Q", 5000) + b'{"a": 1}', "only"),
        ("wrong-bytes", _header({"w": {"dtype": "F32", "shape": [10], "data_offsets": [0, 20]}}) + b"\0" * 20, "header gives 20"),
        ("past-data", _header({"w": {"dtype": "U8", "shape": [64], "data_offsets": [0, 64]}}) + b"\0" * 8, "past the end"),
        ("not-json", struct.pack("<Q", 6) + b"{nope}", "not valid JSON"),
        ("negative", _header({"w": {"dtype": "U8", "shape": [-1], "data_offsets": [0, 0]}}), "negative"),
        ("tiny", b"\x01\x02", "too short"),
    ],
)
def test_lying_headers_are_one_line_file_format_errors(mock_hub, name, data, words):
    repo_id = _lying_repo(mock_hub, name, data)
    with pytest.raises(FileFormatError) as err:
        remote_safetensors_headers(repo_id)
    assert words in str(err.value) and "\n" not in str(err.value)
    reads = [r for r in mock_hub.requests if r.path.endswith(".safetensors")]
    assert len(reads) <= 1  # never a second read for a lying length


def test_repo_without_safetensors(mock_hub):
    mock_hub.add_repo(MockRepo("someone/bin-only", files={"config.json": b"{}", "pytorch_model.bin": b"\0" * 100}))
    with pytest.raises(HubError) as err:
        remote_safetensors_headers("someone/bin-only")
    assert "no safetensors" in str(err.value) and "bin" in str(err.value)


def test_index_naming_a_missing_shard(mock_hub):
    index = {"weight_map": {"w": "model-00009-of-00009.safetensors"}}
    mock_hub.add_repo(
        MockRepo("liars/bad-index", files={"config.json": b"{}", "model.safetensors.index.json": json.dumps(index).encode()})
    )
    with pytest.raises(FileFormatError) as err:
        remote_safetensors_headers("liars/bad-index")
    assert "model-00009-of-00009.safetensors" in str(err.value)


def test_gated_headers_need_a_token(mock_hub):
    from mockhub import GATED, VALID_TOKEN

    from lmscope.core.hub.client import HubGatedError

    repo = mock_hub.repos[GATED]
    repo.extra_siblings.clear()
    repo.files["model.safetensors"] = safetensors_bytes({"w": ("BF16", (4, 4), b"\0" * 32)})
    with pytest.raises(HubGatedError):
        remote_safetensors_headers(GATED)
    stored = remote_safetensors_headers(GATED, token=VALID_TOKEN)
    assert stored.params_by_dtype() == {"BF16": 16}


def test_headers_follow_the_cdn_redirect_without_the_token(mock_hub):
    from mockhub import VALID_TOKEN

    mock_hub.lfs_redirect = True
    stored = remote_safetensors_headers(TINY_LLAMA, token=VALID_TOKEN)
    assert stored.total_params == sum(a.size for a in _oracle(mock_hub).values())
    hub_reads = [r for r in mock_hub.requests if r.path.endswith(".safetensors")]
    cdn_reads = mock_hub.requests_for("^/_cdn/")
    assert [r.status for r in hub_reads] == [302, 302] and all(r.has_auth for r in hub_reads)
    assert len(cdn_reads) == 2 and all(r.status == 206 and r.range for r in cdn_reads)
    assert not any(r.has_auth for r in cdn_reads)  # the token never leaves the Hub's origin
