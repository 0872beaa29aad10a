"""Model sources: local folders, config paths, the HF cache, GGUF and ONNX files.

Oracles: the ``safetensors`` library's own reader for headers, ``gguf.GGUFReader``
for GGUF tensor tables, and the ``onnx`` arrays we built for ONNX initializers —
never our own output pasted back.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest

from lmscope.core.errors import FileFormatError, SourceError
from lmscope.core.sources.resolve import resolve, split_revision

CONFIGS = Path(__file__).parent / "fixtures" / "configs"
GPT2 = CONFIGS / "openai-community--gpt2"


def _model_dir(tmp_path: Path, name: str = "model", config: Path = GPT2) -> Path:
    folder = tmp_path / name
    folder.mkdir()
    shutil.copy(config / "config.json", folder / "config.json")
    return folder


# --------------------------------------------------------------------------- local folders


def test_local_folder_reads_safetensors_headers_like_the_library(tmp_path):
    from safetensors import safe_open
    from safetensors.numpy import save_file

    folder = _model_dir(tmp_path)
    arrays = {
        "a.weight": np.zeros((3, 4), dtype=np.float32),
        "b.bias": np.zeros((5,), dtype=np.float16),
        "c": np.zeros((2, 3, 7), dtype=np.int8),
    }
    save_file(arrays, str(folder / "model.safetensors"), metadata={"format": "pt"})
    source = resolve(str(folder))
    assert source.kind == "local"
    assert source.stored is not None and source.stored.source == "safetensors-header"
    with safe_open(str(folder / "model.safetensors"), framework="numpy") as f:
        expected = {k: tuple(f.get_slice(k).get_shape()) for k in f.keys()}
    assert {t.name: t.shape for t in source.stored.tensors} == expected
    assert source.stored.total_params == sum(a.size for a in arrays.values())
    assert source.stored.total_bytes == sum(a.nbytes for a in arrays.values())
    assert source.stored.params_by_dtype() == {"F32": 12, "F16": 5, "I8": 42}


def test_sharded_checkpoint_with_index(tmp_path):
    from safetensors.numpy import save_file

    folder = _model_dir(tmp_path)
    save_file({"x": np.ones((4, 4), dtype=np.float32)}, str(folder / "model-00001-of-00002.safetensors"))
    save_file({"y": np.ones((8,), dtype=np.float32)}, str(folder / "model-00002-of-00002.safetensors"))
    index = {"metadata": {"total_size": 96}, "weight_map": {"x": "model-00001-of-00002.safetensors", "y": "model-00002-of-00002.safetensors"}}
    (folder / "model.safetensors.index.json").write_text(json.dumps(index))
    source = resolve(str(folder))
    assert source.files.safetensors_index == index
    assert source.stored.total_params == 24 and source.stored.total_bytes == 96


def test_partial_shards_are_not_counted(tmp_path):
    from safetensors.numpy import save_file

    folder = _model_dir(tmp_path)
    save_file({"x": np.ones((4,), dtype=np.float32)}, str(folder / "a.safetensors"))
    index = {"weight_map": {"x": "a.safetensors", "y": "b.safetensors"}}
    (folder / "model.safetensors.index.json").write_text(json.dumps(index))
    source = resolve(str(folder))
    assert source.stored is None
    assert any("1 of 2" in n for n in source.notes)


def test_folder_reads_small_files_and_chat_template(tmp_path):
    folder = _model_dir(tmp_path)
    (folder / "tokenizer_config.json").write_text(json.dumps({"tokenizer_class": "GPT2Tokenizer"}))
    (folder / "generation_config.json").write_text(json.dumps({"max_new_tokens": 5}))
    (folder / "quantize_config.json").write_text(json.dumps({"bits": 4, "group_size": 128}))
    (folder / "tokenizer.json").write_text(json.dumps({"model": {"type": "BPE", "vocab": {"a": 0}}}))
    (folder / "chat_template.jinja").write_text("{% for m in messages %}{{ m.content }}{% endfor %}")
    files = resolve(str(folder)).files
    assert files.tokenizer_config == {"tokenizer_class": "GPT2Tokenizer"}
    assert files.generation_config == {"max_new_tokens": 5}
    assert files.quantize_config == {"bits": 4, "group_size": 128}
    assert files.tokenizer_json_path == str(folder / "tokenizer.json")
    assert "messages" in files.extra["chat_template"]
    assert files.config == json.loads((GPT2 / "config.json").read_text())


def test_config_path(tmp_path):
    folder = _model_dir(tmp_path)
    source = resolve(str(folder / "config.json"))
    assert source.kind == "config"
    assert source.files.config["model_type"] == "gpt2"


def test_missing_path_and_folder_without_config(tmp_path):
    with pytest.raises(SourceError, match="no such file"):
        resolve(str(tmp_path / "nope" / "config.json"))
    (tmp_path / "empty").mkdir()
    with pytest.raises(SourceError, match="no config.json"):
        resolve(str(tmp_path / "empty"))


def test_split_revision():
    assert split_revision("org/name@v1.0") == ("org/name", "v1.0")
    assert split_revision("org/name") == ("org/name", None)


# --------------------------------------------------------------------------- Hub ids: cache, catalog, offline


def _fake_cache(root: Path, repo_id: str, config_dir: Path, sha: str = "a" * 40) -> Path:
    repo = root / ("models--" + repo_id.replace("/", "--"))
    snapshot = repo / "snapshots" / sha
    snapshot.mkdir(parents=True)
    (repo / "refs").mkdir()
    (repo / "refs" / "main").write_text(sha)
    shutil.copy(config_dir / "config.json", snapshot / "config.json")
    return snapshot


@pytest.fixture
def isolated_hf(tmp_path, monkeypatch):
    cache = tmp_path / "hf_cache"
    cache.mkdir()
    for name in ("HF_HOME", "HUGGINGFACE_HUB_CACHE", "HF_TOKEN"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("HF_HUB_CACHE", str(cache))
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    return cache


def test_cache_comes_before_catalog(isolated_hf):
    # a cached "meta-llama/Llama-3.1-8B" whose config is really gpt2: the cache must win
    snapshot = _fake_cache(isolated_hf, "meta-llama/Llama-3.1-8B", GPT2)
    source = resolve("meta-llama/Llama-3.1-8B")
    assert source.kind == "cache"
    assert source.location == str(snapshot)
    assert source.revision == "a" * 40
    assert source.files.config["model_type"] == "gpt2"


def test_cache_revision_pinned(isolated_hf):
    _fake_cache(isolated_hf, "someone/tiny", GPT2, sha="b" * 40)
    assert resolve("someone/tiny@" + "b" * 40).kind == "cache"
    with pytest.raises(SourceError, match="offline"):
        resolve("someone/tiny@" + "c" * 40)


def test_catalog_when_not_cached(isolated_hf):
    source = resolve("meta-llama/Llama-3.1-8B")
    assert source.kind == "catalog"
    assert source.files.config == json.loads((CONFIGS / "meta-llama--Llama-3.1-8B" / "config.json").read_text())


def test_short_name_matches_catalog(isolated_hf):
    assert resolve("gpt2").model_id == "openai-community/gpt2"
    assert resolve("llama-2-7b").model_id == "meta-llama/Llama-2-7b-hf"


def test_unknown_id_offline_is_one_line(isolated_hf):
    with pytest.raises(SourceError) as info:
        resolve("nobody/nothing-here")
    message = str(info.value)
    assert "offline" in message and "\n" not in message


def test_offline_flag_without_env(isolated_hf, monkeypatch):
    monkeypatch.delenv("HF_HUB_OFFLINE")
    with pytest.raises(SourceError, match="offline"):
        resolve("nobody/nothing-here", offline=True)


def test_hub_source_used_when_online(isolated_hf, monkeypatch):
    """Not cached, not in the catalog, online: the Hub layer is asked (mocked here)."""
    from lmscope.core.architecture import ConfigFiles
    from lmscope.core.sources.base import ModelSource

    monkeypatch.delenv("HF_HUB_OFFLINE")
    calls = []

    def fake_model_source(repo_id, revision=None, token=None, offline=False, **kwargs):
        calls.append((repo_id, revision, offline))
        return ModelSource(model_id=repo_id, kind="hub", files=ConfigFiles(config={"model_type": "gpt2"}))

    import lmscope.core.hub.fetch as fetch

    monkeypatch.setattr(fetch, "model_source", fake_model_source)
    source = resolve("someone/remote@dev")
    assert source.kind == "hub" and calls == [("someone/remote", "dev", False)]


def test_hub_source_end_to_end_with_mock_hub(mock_hub):
    """Not cached, not in the catalog: the real Hub layer fetches it from the loopback mock Hub."""
    import sys

    sys.path.insert(0, str(Path(__file__).parent))
    try:
        from mockhub import TINY_LLAMA
    finally:
        sys.path.pop(0)
    source = resolve(TINY_LLAMA)
    assert source.kind == "hub"
    assert source.metadata is not None and source.metadata.downloads == 1234
    expected = json.loads(mock_hub.repos[TINY_LLAMA].files["config.json"])
    assert source.files.config == expected
    assert source.stored is not None and source.stored.total_params > 0
    # second time: the files are in the HF cache now, no Hub needed
    assert resolve(TINY_LLAMA, offline=True).kind == "cache"


# --------------------------------------------------------------------------- GGUF


def _write_gguf(path: Path, *, quantized: bool = True, vocab: int = 96) -> None:
    import gguf

    writer = gguf.GGUFWriter(str(path), "llama")
    writer.add_name("tiny-llama")
    writer.add_block_count(2)
    writer.add_embedding_length(64)
    writer.add_head_count(4)
    writer.add_head_count_kv(2)
    writer.add_feed_forward_length(128)
    writer.add_context_length(2048)
    writer.add_rope_freq_base(10000.0)
    writer.add_layer_norm_rms_eps(1e-5)
    writer.add_file_type(7 if quantized else 0)
    writer.add_tokenizer_model("llama")
    writer.add_token_list([f"tok{i}".encode() for i in range(vocab)])
    writer.add_chat_template("{% for m in messages %}{{ m['content'] }}{% endfor %}")
    rng = np.random.default_rng(0)
    writer.add_tensor("token_embd.weight", rng.standard_normal((vocab, 64)).astype(np.float32))
    weight = rng.standard_normal((64, 64)).astype(np.float32)
    if quantized:
        q8 = gguf.quants.quantize(weight, gguf.GGMLQuantizationType.Q8_0)
        writer.add_tensor("blk.0.attn_q.weight", q8, raw_dtype=gguf.GGMLQuantizationType.Q8_0)
        q4 = gguf.quants.quantize(weight, gguf.GGMLQuantizationType.Q4_0)
        writer.add_tensor("blk.0.attn_k.weight", q4, raw_dtype=gguf.GGMLQuantizationType.Q4_0)
    else:
        writer.add_tensor("blk.0.attn_q.weight", weight)
    writer.add_tensor("output_norm.weight", np.ones(64, dtype=np.float32))
    writer.write_header_to_file()
    writer.write_kv_data_to_file()
    writer.write_tensors_to_file()
    writer.close()


def test_gguf_tensor_table_matches_gguf_reader(tmp_path):
    import gguf

    path = tmp_path / "tiny.gguf"
    _write_gguf(path)
    source = resolve(str(path))
    assert source.kind == "gguf" and source.model_id == "tiny"
    assert source.file_facts["name"] == "tiny-llama"
    reader = gguf.GGUFReader(str(path))
    expected = {t.name: (t.tensor_type.name, tuple(int(d) for d in reversed(t.shape)), int(t.n_bytes)) for t in reader.tensors}
    got = {t.name: (t.dtype, t.shape, t.nbytes) for t in source.stored.tensors}
    assert got == expected
    assert got["blk.0.attn_q.weight"][0] == "Q8_0" and got["blk.0.attn_k.weight"][0] == "Q4_0"
    assert source.file_facts["gguf_version"] == reader.fields["GGUF.version"].parts[-1][0]
    assert source.file_facts["tensor_count"] == len(reader.tensors)
    assert source.file_facts["file_type"] == "Q8_0"
    assert source.files.tokenizer_config["chat_template"].startswith("{% for")


def test_gguf_architecture_from_metadata(tmp_path):
    path = tmp_path / "tiny.gguf"
    _write_gguf(path, vocab=96)
    arch = resolve(str(path)).architecture
    assert arch is not None
    assert (arch.hidden_size, arch.num_layers, arch.num_heads, arch.num_kv_heads) == (64, 2, 4, 2)
    assert arch.intermediate_size == 128 and arch.vocab_size == 96
    assert arch.max_position_embeddings == 2048
    assert arch.tied_embeddings  # no output.weight tensor
    assert arch.quantization is not None and arch.quantization.method == "gguf"
    stored = resolve(str(path)).stored
    assert arch.quantization.bits == pytest.approx(stored.total_bytes * 8 / stored.total_params, abs=1e-3)


def test_unquantized_gguf_has_no_quantization(tmp_path):
    path = tmp_path / "f32.gguf"
    _write_gguf(path, quantized=False)
    arch = resolve(str(path)).architecture
    assert arch.quantization is None and arch.torch_dtype == "float32"


# --------------------------------------------------------------------------- ONNX


def _write_onnx(path: Path, *, external: bool = False) -> dict[str, np.ndarray]:
    import onnx
    from onnx import TensorProto, helper, numpy_helper

    weights = {"W": np.ones((16, 8), dtype=np.float32), "B": np.zeros((8,), dtype=np.float16)}
    inits = [numpy_helper.from_array(a, name) for name, a in weights.items()]
    nodes = [
        helper.make_node("MatMul", ["x", "W"], ["h"]),
        helper.make_node("Cast", ["B"], ["b32"], to=TensorProto.FLOAT),
        helper.make_node("Add", ["h", "b32"], ["y"]),
        helper.make_node("Relu", ["y"], ["z"]),
        helper.make_node("Relu", ["z"], ["out"]),
    ]
    graph = helper.make_graph(
        nodes,
        "tiny",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, ["batch", 16])],
        [helper.make_tensor_value_info("out", TensorProto.FLOAT, ["batch", 8])],
        initializer=inits,
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    if external:
        onnx.save_model(model, str(path), save_as_external_data=True, all_tensors_to_one_file=True, location="weights.bin", size_threshold=0)
    else:
        onnx.save_model(model, str(path))
    return weights


@pytest.mark.parametrize("external", [False, True])
def test_onnx_graph_facts(tmp_path, external):
    path = tmp_path / "tiny.onnx"
    weights = _write_onnx(path, external=external)
    source = resolve(str(path))
    assert source.kind == "onnx" and source.architecture is None
    facts = source.file_facts
    assert facts["opset"] == 17
    assert facts["op_counts"] == {"Relu": 2, "MatMul": 1, "Cast": 1, "Add": 1}
    assert facts["inputs"] == [{"name": "x", "dtype": "F32", "shape": ["batch", 16]}]
    assert {t.name: (t.shape, t.nbytes) for t in source.stored.tensors} == {k: (a.shape, a.nbytes) for k, a in weights.items()}
    assert source.stored.total_params == sum(a.size for a in weights.values())
    assert any("no config.json" in n for n in source.notes)
    if external:
        assert facts["external_initializers"] == 2


@pytest.mark.parametrize("external", [False, True])
def test_onnx_structure_is_onnx_load_without_the_weights(tmp_path, external):
    """load_onnx_structure keeps every field onnx.load reads but the initializers' data (the oracle: onnx.load
    itself), and reports each inline initializer's raw_data length."""
    import onnx

    from lmscope.core.sources.onnx_wire import load_onnx_structure

    path = tmp_path / "tiny.onnx"
    _write_onnx(path, external=external)
    full = onnx.load(str(path), load_external_data=False)
    stripped, raw = load_onnx_structure(path)
    for t in full.graph.initializer:
        t.ClearField("raw_data")
    assert stripped == full
    expected = [None if t.data_location == 1 else len(t.raw_data) for t in onnx.load(str(path), load_external_data=False).graph.initializer]
    assert raw == expected


def test_onnx_initializer_whose_inline_data_lies_is_refused(tmp_path):
    import onnx
    from onnx import TensorProto, helper

    weight = TensorProto(name="W", data_type=TensorProto.FLOAT, dims=[4, 4], raw_data=b"\0" * 12)  # 16 floats, 12 bytes
    graph = helper.make_graph([helper.make_node("Relu", ["W"], ["y"])], "g", [],
                              [helper.make_tensor_value_info("y", TensorProto.FLOAT, [4, 4])], initializer=[weight])
    path = tmp_path / "lying.onnx"
    onnx.save_model(helper.make_model(graph), str(path))
    with pytest.raises(FileFormatError, match="holds 12 bytes"):
        resolve(str(path))


def test_onnx_with_config_beside_it(tmp_path):
    folder = tmp_path / "exported"
    folder.mkdir()
    _write_onnx(folder / "model.onnx")
    shutil.copy(GPT2 / "config.json", folder / "config.json")
    source = resolve(str(folder / "model.onnx"))
    assert source.files.config["model_type"] == "gpt2"


def test_folder_with_single_gguf(tmp_path):
    folder = tmp_path / "ggufdir"
    folder.mkdir()
    _write_gguf(folder / "m.gguf")
    assert resolve(str(folder)).kind == "gguf"


def test_gguf_deepseek2_mla_and_moe_from_metadata(tmp_path):
    """llama.cpp's deepseek2 keys: key_length = nope + rope, value_length, kv/q LoRA ranks, experts."""
    import gguf

    path = tmp_path / "ds.gguf"
    writer = gguf.GGUFWriter(str(path), "deepseek2")
    writer.add_block_count(3)
    writer.add_embedding_length(64)
    writer.add_head_count(4)
    writer.add_head_count_kv(4)
    writer.add_feed_forward_length(128)
    writer.add_context_length(4096)
    writer.add_key_length(24)
    writer.add_value_length(16)
    writer.add_rope_dimension_count(8)
    writer.add_kv_lora_rank(16)
    writer.add_q_lora_rank(24)
    writer.add_expert_count(8)
    writer.add_expert_used_count(2)
    writer.add_expert_shared_count(1)
    writer.add_expert_feed_forward_length(32)
    writer.add_leading_dense_block_count(1)
    writer.add_expert_gating_func(gguf.ExpertGatingFuncType.SIGMOID)
    writer.add_token_list([b"x"] * 50)
    writer.add_tensor("token_embd.weight", np.zeros((50, 64), dtype=np.float32))
    writer.add_tensor("output.weight", np.zeros((50, 64), dtype=np.float32))
    writer.write_header_to_file()
    writer.write_kv_data_to_file()
    writer.write_tensors_to_file()
    writer.close()
    arch = resolve(str(path)).architecture
    assert arch is not None and arch.family == "DeepSeek-V3"
    assert (arch.mla.kv_lora_rank, arch.mla.q_lora_rank) == (16, 24)
    assert (arch.mla.qk_rope_head_dim, arch.mla.qk_nope_head_dim, arch.mla.v_head_dim) == (8, 24 - 8, 16)
    assert (arch.moe.num_experts, arch.moe.experts_per_token, arch.moe.num_shared_experts) == (8, 2, 1)
    assert [layer.ffn.value for layer in arch.layers] == ["dense", "moe", "moe"]
    assert not arch.tied_embeddings


def test_snapshot_folder_given_by_path_is_named_by_repo(tmp_path):
    snapshot = _fake_cache(tmp_path / "hub", "someone/tiny-gpt2", GPT2, sha="d" * 40)
    source = resolve(str(snapshot))
    assert source.kind == "local" and source.model_id == "someone/tiny-gpt2" and source.revision == "d" * 40


def test_unknown_future_dtype_is_accepted_by_byte_range(tmp_path):
    import struct

    from lmscope.core.sources.safetensors_header import read_safetensors_header

    header = json.dumps({"w": {"dtype": "F2_NEW", "shape": [8], "data_offsets": [0, 2]}}).encode()
    path = tmp_path / "m.safetensors"
    path.write_bytes(struct.pack("<Q", len(header)) + header + b"\0\0")
    (info,) = read_safetensors_header(path)
    assert (info.dtype, info.shape, info.nbytes) == ("F2_NEW", (8,), 2)


def test_a_generic_folder_name_is_replaced_by_a_telling_one(tmp_path, monkeypatch):
    """A checkpoint saved as ``…/model`` (or opened as ``.`` from inside it) is not called "model"."""
    import json

    from lmscope.core.sources.local import folder_model_name
    from lmscope.core.sources.resolve import resolve

    config = {"model_type": "llama", "architectures": ["LlamaForCausalLM"], "hidden_size": 64, "num_hidden_layers": 2,
              "num_attention_heads": 4, "intermediate_size": 128, "vocab_size": 256}
    named = tmp_path / "runs" / "llama-sft" / "model"
    named.mkdir(parents=True)
    (named / "config.json").write_text(json.dumps({**config, "_name_or_path": "meta-llama/Llama-3.2-1B"}))
    assert resolve(str(named), offline=True).model_id == "meta-llama/Llama-3.2-1B"
    monkeypatch.chdir(named)
    assert resolve(".", offline=True).model_id == "meta-llama/Llama-3.2-1B"

    # _name_or_path a path on another machine: the parent names it
    (named / "config.json").write_text(json.dumps({**config, "_name_or_path": "/scratch/user/out/model"}))
    assert folder_model_name(named, json.loads((named / "config.json").read_text())) == "llama-sft/model"
    # a telling folder name is kept as it is
    telling = tmp_path / "tiny-llama"
    telling.mkdir()
    assert folder_model_name(telling, {"_name_or_path": "something/else"}) == "tiny-llama"
    # generic all the way up: the path itself
    generic = tmp_path / "output" / "model"
    generic.mkdir(parents=True)
    assert folder_model_name(generic, {}) == str(generic.resolve())
