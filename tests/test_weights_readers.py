"""Weight readers against the libraries that wrote the files (safetensors, torch, gguf) and hostile files."""

from __future__ import annotations

import json
import struct
from pathlib import Path

import numpy as np
import pytest

from lmscope.core.errors import FileFormatError, SourceError
from lmscope.core.weights import open_weights

FIXTURES = Path(__file__).parent / "fixtures" / "bad"


def _st_file(path: Path, header: dict, data: bytes) -> Path:
    blob = json.dumps(header).encode()
    path.write_bytes(struct.pack("<Q", len(blob)) + blob + data)
    return path


# ---------------------------------------------------------------- safetensors
def test_safetensors_values_match_safe_open(tmp_path: Path) -> None:
    from safetensors import safe_open
    from safetensors.numpy import save_file

    rng = np.random.default_rng(0)
    arrays = {
        "a.weight": rng.standard_normal((7, 5)).astype(np.float32),
        "b.weight": rng.standard_normal((3, 4)).astype(np.float16),
        "c.ids": np.arange(6, dtype=np.int64).reshape(2, 3),
        "d.scalar": np.array(2.5, dtype=np.float64),
    }
    save_file(arrays, tmp_path / "m.safetensors")
    col = open_weights(tmp_path / "m.safetensors")
    assert col.format == "safetensors"
    got = {t.name: t for t in col.tensors}
    with safe_open(tmp_path / "m.safetensors", framework="numpy") as f:
        for name in f.keys():
            ref = f.get_tensor(name)
            t = got[name]
            assert t.shape == ref.shape
            assert t.nbytes == ref.nbytes
            np.testing.assert_array_equal(t[()] if ref.ndim == 0 else t[:], ref.astype(np.float64))
    assert got["c.ids"].floating is False and got["a.weight"].floating is True
    np.testing.assert_array_equal(got["a.weight"][2:5], arrays["a.weight"][2:5].astype(np.float64))


def test_bf16_and_fp8_match_torch(tmp_path: Path) -> None:
    import torch
    from safetensors.torch import save_file

    g = torch.Generator().manual_seed(0)
    bf = torch.randn(6, 9, generator=g).to(torch.bfloat16)
    all_bytes = torch.arange(256, dtype=torch.uint8)
    e4 = all_bytes.clone().view(torch.float8_e4m3fn).reshape(16, 16)
    e5 = all_bytes.clone().view(torch.float8_e5m2).reshape(16, 16)
    e8 = all_bytes.clone().view(torch.float8_e8m0fnu).reshape(16, 16)
    save_file({"bf": bf, "e4": e4, "e5": e5, "e8": e8}, str(tmp_path / "m.safetensors"))
    got = {t.name: t for t in open_weights(tmp_path / "m.safetensors").tensors}
    assert got["bf"].dtype == "BF16" and got["e8"].dtype == "F8_E8M0"
    np.testing.assert_array_equal(got["bf"][:], bf.to(torch.float64).numpy())
    for name, ref in (("e4", e4), ("e5", e5), ("e8", e8)):
        np.testing.assert_array_equal(got[name][:], ref.to(torch.float64).numpy())  # NaN == NaN here


def test_sharded_index(tmp_path: Path) -> None:
    from safetensors.numpy import save_file

    rng = np.random.default_rng(1)
    shard1 = {"model.layers.0.mlp.up_proj.weight": rng.standard_normal((8, 4)).astype(np.float32)}
    shard2 = {"model.layers.1.mlp.up_proj.weight": rng.standard_normal((8, 4)).astype(np.float32),
              "lm_head.weight": rng.standard_normal((10, 4)).astype(np.float32)}
    save_file(shard1, tmp_path / "model-00001-of-00002.safetensors")
    save_file(shard2, tmp_path / "model-00002-of-00002.safetensors")
    weight_map = {k: "model-00001-of-00002.safetensors" for k in shard1} | {k: "model-00002-of-00002.safetensors" for k in shard2}
    (tmp_path / "model.safetensors.index.json").write_text(json.dumps({"metadata": {}, "weight_map": weight_map}))
    col = open_weights(tmp_path)
    assert len(col.files) == 2
    assert sorted(t.name for t in col.tensors) == sorted(weight_map)
    ref = shard2 | shard1
    for t in col.tensors:
        np.testing.assert_array_equal(t[:], ref[t.name].astype(np.float64))
    # the index file itself is accepted as MODEL too
    assert len(open_weights(tmp_path / "model.safetensors.index.json").tensors) == 3


def test_index_with_missing_shard_or_tensor(tmp_path: Path) -> None:
    from safetensors.numpy import save_file

    save_file({"a": np.zeros((2, 2), np.float32)}, tmp_path / "s1.safetensors")
    index = tmp_path / "model.safetensors.index.json"
    index.write_text(json.dumps({"weight_map": {"a": "s1.safetensors", "b": "s2.safetensors"}}))
    with pytest.raises(SourceError, match="s2.safetensors is missing"):
        open_weights(tmp_path)
    index.write_text(json.dumps({"weight_map": {"a": "s1.safetensors", "zz": "s1.safetensors"}}))
    with pytest.raises(FileFormatError, match="does not hold"):
        open_weights(tmp_path)
    index.write_text(json.dumps({"weight_map": {"a": "../escape.safetensors"}}))
    with pytest.raises(FileFormatError, match="unsafe"):
        open_weights(tmp_path)
    index.write_text("[1, 2]")
    with pytest.raises(FileFormatError, match="weight_map"):
        open_weights(tmp_path)


@pytest.mark.parametrize("folder", sorted(p.name for p in FIXTURES.glob("safetensors-*")))
def test_hostile_safetensors_fixtures(folder: str) -> None:
    with pytest.raises(FileFormatError) as err:
        open_weights(FIXTURES / folder)
    assert "\n" not in str(err.value)


def test_lying_headers_are_rejected_before_reading(tmp_path: Path) -> None:
    good = {"w": {"dtype": "F32", "shape": [2, 2], "data_offsets": [0, 16]}}
    cases = {
        "unknown dtype": ({"w": {"dtype": "F7", "shape": [2], "data_offsets": [0, 2]}}, b"\0" * 2),
        "negative dim": ({"w": {"dtype": "F32", "shape": [-1, 2], "data_offsets": [0, 8]}}, b"\0" * 8),
        "reversed offsets": ({"w": {"dtype": "F32", "shape": [0], "data_offsets": [8, 0]}}, b"\0" * 8),
        "beyond the file": (good, b"\0" * 15),
        "not an object": ([1, 2], b""),
        "entry not an object": ({"w": 3}, b""),
        "missing offsets": ({"w": {"dtype": "F32", "shape": [2]}}, b"\0" * 8),
    }
    for label, (header, data) in cases.items():
        p = _st_file(tmp_path / f"{label.replace(' ', '_')}.safetensors", header, data)
        with pytest.raises(FileFormatError):
            open_weights(p)
    # header length larger than the file: caught from the 8-byte prefix alone
    p = tmp_path / "short.safetensors"
    p.write_bytes(struct.pack("<Q", 1000) + b"{}")
    with pytest.raises(FileFormatError, match="truncated"):
        open_weights(p)


def test_missing_and_unknown_inputs(tmp_path: Path) -> None:
    with pytest.raises(SourceError, match="no such file"):
        open_weights(tmp_path / "nope")
    (tmp_path / "x.txt").write_text("hi")
    with pytest.raises(SourceError, match="not a weights file"):
        open_weights(tmp_path / "x.txt")
    with pytest.raises(SourceError, match="no weights found"):
        open_weights(tmp_path)


# ---------------------------------------------------------------- GGUF
def test_gguf_float_and_q8_0_tensors(tmp_path: Path) -> None:
    import gguf
    rng = np.random.default_rng(2)
    q_src = rng.standard_normal((16, 64)).astype(np.float32)
    f_src = rng.standard_normal((5, 8)).astype(np.float32)
    e_src = rng.standard_normal((3, 4, 32)).astype(np.float16)
    w = gguf.GGUFWriter(str(tmp_path / "m.gguf"), "llama")
    w.add_tensor("blk.0.attn_q.weight", f_src)
    quant = gguf.quants.quantize(q_src, gguf.GGMLQuantizationType.Q8_0)
    w.add_tensor("blk.0.ffn_up.weight", quant, raw_shape=quant.shape, raw_dtype=gguf.GGMLQuantizationType.Q8_0)
    w.add_tensor("blk.0.ffn_up_exps.weight", e_src)
    w.write_header_to_file()
    w.write_kv_data_to_file()
    w.write_tensors_to_file()
    w.close()
    col = open_weights(tmp_path / "m.gguf")
    got = {t.name: t for t in col.tensors}
    assert col.format == "gguf"
    np.testing.assert_array_equal(got["blk.0.attn_q.weight"][:], f_src.astype(np.float64))
    q = got["blk.0.ffn_up.weight"]
    assert q.dtype == "Q8_0" and q.shape == (16, 64)
    deq = q[:]
    # Q8_0: blocks of 32 values share one fp16 scale d = max|x|/127; each value is off by at most d/2 (+ fp16 scale rounding)
    blocks = q_src.reshape(16, 2, 32)
    bound = np.abs(blocks).max(axis=2, keepdims=True) / 127 * 0.51 + 1e-6
    assert np.all(np.abs(deq.reshape(16, 2, 32) - blocks) <= bound)
    np.testing.assert_array_equal(q[3:7], deq[3:7])
    e = got["blk.0.ffn_up_exps.weight"]
    assert e.shape == (3, 4, 32)
    np.testing.assert_array_equal(e.expert(1)[:], e_src[1].astype(np.float64))


@pytest.mark.parametrize("name", sorted(p.name for p in FIXTURES.glob("gguf-*.gguf")))
def test_hostile_gguf_fixtures(name: str) -> None:
    with pytest.raises(FileFormatError):
        open_weights(FIXTURES / name)


# ---------------------------------------------------------------- PyTorch .bin
def test_pytorch_bin_matches_torch(tmp_path: Path) -> None:
    import torch
    g = torch.Generator().manual_seed(3)
    state = {"layers.0.mlp.down_proj.weight": torch.randn(6, 10, generator=g).to(torch.bfloat16),
             "layers.0.norm.weight": torch.ones(6), "step": torch.tensor(3)}
    torch.save(state, tmp_path / "pytorch_model.bin")
    col = open_weights(tmp_path)
    assert col.format == "bin"
    got = {t.name: t for t in col.tensors}
    np.testing.assert_array_equal(got["layers.0.mlp.down_proj.weight"][:], state["layers.0.mlp.down_proj.weight"].double().numpy())
    assert got["layers.0.mlp.down_proj.weight"].nbytes == 6 * 10 * 2
    assert got["step"].floating is False


def test_garbage_bin_is_a_file_format_error(tmp_path: Path) -> None:
    import torch  # noqa: F401
    (tmp_path / "pytorch_model.bin").write_bytes(b"definitely not a checkpoint")
    with pytest.raises(FileFormatError):
        open_weights(tmp_path)
