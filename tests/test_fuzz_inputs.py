"""Property-based fuzz of everything lmscope reads from files: only one-line LmscopeErrors may escape.

Hypothesis generates config fields, safetensors headers, GGUF headers, ONNX
initializers, tokenizer side files and safetensors indexes — valid ones,
plausible lies (negative, zero, huge, fractional, wrong-typed values) and
arbitrary JSON — and each property asserts the promise at the library level:
the call either succeeds or raises a :class:`LmscopeError` whose message is
one bounded line. Any other exception (``OverflowError``, ``RecursionError``,
``KeyError``...) is a bug.

Settings keep CI reproducible and cheap: ``derandomize=True`` (the same
examples every run, no example database), a few dozen to a couple of hundred
examples per property, and a generous per-example deadline (a hang guard,
not a speed test: each example takes milliseconds).
"""

from __future__ import annotations

import json
import os
import struct
import tempfile
from datetime import timedelta
from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from lmscope.core.architecture import ConfigFiles
from lmscope.core.errors import LmscopeError


def fuzz(examples: int) -> settings:
    """Reproducible, bounded settings: ``examples`` fixed examples, no database, a hang guard per example."""
    return settings(
        max_examples=examples,
        derandomize=True,
        database=None,
        deadline=timedelta(seconds=20),
        suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
    )
MAX_MESSAGE = 700


def _one_line(err: LmscopeError) -> None:
    message = str(err)
    assert message and "\n" not in message and len(message) <= MAX_MESSAGE, message[:300]


# ------------------------------------------------------------------------------------ value strategies

_huge = st.sampled_from([2**31, 2**53 + 1, 2**63, 10**30, 10**400, -(10**400)])
_weird_numbers = st.one_of(
    st.integers(min_value=-(2**70), max_value=2**70),
    _huge,
    st.floats(allow_nan=True, allow_infinity=True),
    st.sampled_from([0, -1, 1, 0.5, 1e308, -0.0, True, False]),
)
_scalars = st.one_of(st.none(), st.booleans(), _weird_numbers, st.text(max_size=12))
_json = st.recursive(
    _scalars,
    lambda inner: st.one_of(st.lists(inner, max_size=4), st.dictionaries(st.text(max_size=8), inner, max_size=4)),
    max_leaves=12,
)
# values that have broken parsers before, drawn far more often than chance would draw them
_edge = st.sampled_from([0, -1, -128, 1, 2, 3, 7, 4097, 10**400, -(10**400), 2**63, 1e308, -1e308, float("inf"),
                         float("-inf"), float("nan"), 0.5, -0.0, True, False, None, "8", "", [], {}, [0], [1, 2]])
_field_value = st.one_of(_edge, _edge, _weird_numbers, _scalars, st.lists(st.one_of(_edge, _weird_numbers), max_size=4), _json)

TINY = json.loads((Path(__file__).parent / "fixtures" / "tiny_llama_config.json").read_text())
# fields estimates use, fields they ignore, and nested configs that have crashed parsers before
CONFIG_FIELDS = [
    *TINY, "head_dim", "rope_theta", "rms_norm_eps", "sliding_window", "rope_scaling", "num_local_experts",
    "num_experts", "num_experts_per_tok", "moe_intermediate_size", "shared_expert_intermediate_size",
    "kv_lora_rank", "q_lora_rank", "qk_rope_head_dim", "qk_nope_head_dim", "v_head_dim", "layer_types",
    "torch_dtype", "quantization_config", "partial_rotary_factor", "text_config", "time_step_limit",
    "attention_bias", "first_k_dense_replace", "n_routed_experts", "n_shared_experts", "decoder_sparse_step",
    "rope_parameters",
]
MODEL_TYPES = ["llama", "qwen2", "qwen3_moe", "mixtral", "deepseek_v3", "gemma2", "gemma3_text", "phi3", "gpt2",
               "falcon_h1", "nemotron_h", "mamba", "t5", "bert", "qwen", "chatglm", "unknown_type"]
_quant = st.fixed_dictionaries(
    {"quant_method": st.sampled_from(["gptq", "awq", "fp8", "bitsandbytes", "compressed-tensors", "mxfp4", "x"])},
    optional={"bits": st.one_of(_edge, _weird_numbers), "group_size": st.one_of(_edge, _weird_numbers),
              "weight_block_size": st.one_of(st.lists(_edge, min_size=2, max_size=2), st.lists(_weird_numbers, max_size=3)),
              "load_in_4bit": st.booleans(), "config_groups": _json},
)


@fuzz(250)
@given(
    changes=st.dictionaries(st.sampled_from(CONFIG_FIELDS), _field_value, min_size=1, max_size=3),
    model_type=st.sampled_from(MODEL_TYPES),
    quant=st.one_of(st.none(), _quant),
)
def test_config_fields_only_raise_lmscope_errors(changes, model_type, quant):
    """The parser and every estimate built on it: a hostile field is a ConfigError line, never a crash."""
    from lmscope.core.report import build_report
    from lmscope.core.results import Settings
    from lmscope.core.sources.base import ModelSource

    config = {**TINY, "model_type": model_type, **changes}
    if quant is not None:
        config["quantization_config"] = quant
    source = ModelSource(model_id="fuzz", kind="config", files=ConfigFiles(config=config))
    try:
        build_report(source, Settings(), exact=False)
    except LmscopeError as err:
        _one_line(err)


@fuzz(200)
@given(quant=_quant, model_type=st.sampled_from(["llama", "qwen3_moe", "deepseek_v3"]))
def test_quantization_config_only_raises_lmscope_errors(quant, model_type):
    """Bits, group and block sizes feed the memory figures: impossible ones are refused, not reported."""
    from lmscope.core.report import build_report
    from lmscope.core.results import Settings
    from lmscope.core.sources.base import ModelSource

    source = ModelSource(model_id="fuzz", kind="config", files=ConfigFiles(config={**TINY, "model_type": model_type, "quantization_config": quant}))
    try:
        report = build_report(source, Settings(), exact=False)
    except LmscopeError as err:
        _one_line(err)
        return
    quantization = report.architecture.quantization if report.architecture is not None else None
    if quantization is not None:
        assert quantization.bits is None or quantization.bits > 0
        assert quantization.group_size is None or quantization.group_size > 0


# ------------------------------------------------------------------------------------ safetensors headers

_DTYPES = ["F32", "F16", "BF16", "I8", "U8", "F8_E4M3", "F4", "F6_E2M3", "I64", "ZZ9", "f32", "", "BOOL"]
_dims = st.lists(st.one_of(st.integers(min_value=-2, max_value=2**50), _huge, st.sampled_from([0, 1, 2.0, True])), max_size=18)
_entry = st.one_of(
    st.fixed_dictionaries(
        {"dtype": st.one_of(st.sampled_from(_DTYPES), st.text(max_size=20)), "shape": st.one_of(_dims, _json)},
        optional={"data_offsets": st.one_of(st.lists(st.one_of(st.integers(min_value=-5, max_value=2**62), _huge), max_size=3), _json)},
    ),
    _json,
)
_header = st.one_of(
    st.dictionaries(st.text(max_size=30), _entry, max_size=5),
    st.builds(lambda h, m: {**h, "__metadata__": m}, st.dictionaries(st.text(max_size=10), _entry, max_size=3), _json),
    _json,
)


@fuzz(300)
@given(header=_header, slack=st.integers(min_value=-64, max_value=256), size_known=st.booleans())
def test_safetensors_header_only_raises_file_format_errors(header, slack, size_known):
    from lmscope.core.errors import FileFormatError
    from lmscope.core.sources.safetensors_header import DTYPE_BITS, parse_safetensors_header

    raw = json.dumps(header).encode("utf-8", "surrogatepass")
    file_size = 8 + len(raw) + max(0, slack) if size_known else None
    try:
        tensors = parse_safetensors_header(raw, filename="fuzz.safetensors", file_size=file_size)
    except FileFormatError as err:
        _one_line(err)
        return
    data_size = None if file_size is None else file_size - 8 - len(raw)
    for t in tensors:  # what is accepted is consistent: sizes match dtypes, ranges lie in the file
        begin, end = t.data_offsets
        assert 0 <= begin <= end and t.nbytes == end - begin
        if data_size is not None:
            assert end <= data_size
        if t.dtype in DTYPE_BITS:
            assert t.nbytes == (t.numel * DTYPE_BITS[t.dtype] + 7) // 8
        else:
            assert t.numel <= 8 * t.nbytes <= 256 * t.numel


@fuzz(150)
@given(data=st.binary(max_size=300), claimed=st.one_of(st.integers(min_value=0, max_value=400), _huge.filter(lambda n: 0 <= n < 2**64)))
def test_safetensors_file_bytes_only_raise_lmscope_errors(data, claimed):
    from lmscope.core.sources.safetensors_header import read_safetensors_header

    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "model.safetensors"
        path.write_bytes(struct.pack("<Q", claimed) + data)
        try:
            read_safetensors_header(path)
        except LmscopeError as err:
            _one_line(err)


# ------------------------------------------------------------------------------------ GGUF headers

def _gguf_str(text: bytes) -> bytes:
    return struct.pack("<Q", len(text)) + text


_gguf_value = st.one_of(
    st.tuples(st.just(4), st.integers(min_value=0, max_value=2**32 - 1)).map(lambda t: struct.pack("<II", *t)),
    st.tuples(st.just(10), st.integers(min_value=0, max_value=2**64 - 1)).map(lambda t: struct.pack("<IQ", *t)),
    st.tuples(st.just(6), st.floats(width=32)).map(lambda t: struct.pack("<If", *t)),
    st.binary(max_size=20).map(lambda b: struct.pack("<I", 8) + _gguf_str(b)),
    st.tuples(st.sampled_from([4, 8, 9, 99]), st.integers(min_value=0, max_value=2**64 - 1), st.binary(max_size=24)).map(
        lambda t: struct.pack("<IIQ", 9, t[0], t[1]) + t[2]),
    st.tuples(st.integers(min_value=0, max_value=2**32 - 1), st.binary(max_size=12)).map(lambda t: struct.pack("<I", t[0]) + t[1]),
)
_GGUF_KEYS = [b"general.architecture", b"general.alignment", b"llama.block_count", b"llama.embedding_length",
              b"llama.attention.head_count", b"llama.attention.head_count_kv", b"llama.context_length",
              b"llama.feed_forward_length", b"llama.expert_count", b"llama.expert_used_count", b"tokenizer.ggml.tokens",
              b"tokenizer.chat_template", b"general.file_type", b"k"]
_gguf_kv = st.tuples(st.sampled_from(_GGUF_KEYS), _gguf_value).map(lambda t: _gguf_str(t[0]) + t[1])
_gguf_tensor = st.tuples(
    st.binary(min_size=1, max_size=24),
    st.lists(st.one_of(st.integers(min_value=0, max_value=4096), st.integers(min_value=0, max_value=2**64 - 1)), max_size=9),
    st.one_of(st.sampled_from([0, 1, 2, 8, 12, 30]), st.integers(min_value=0, max_value=2**32 - 1)),
    st.one_of(st.integers(min_value=0, max_value=256), st.integers(min_value=0, max_value=2**64 - 1)),
).map(lambda t: _gguf_str(t[0]) + struct.pack("<I", len(t[1])) + b"".join(struct.pack("<Q", d) for d in t[1]) + struct.pack("<IQ", t[2], t[3]))


@fuzz(300)
@given(
    version=st.sampled_from([2, 3, 3, 1, 4]),
    kvs=st.lists(_gguf_kv, max_size=6),
    tensors=st.lists(_gguf_tensor, max_size=3),
    lie_counts=st.booleans(),
    tail=st.binary(max_size=96),
    cut=st.one_of(st.none(), st.integers(min_value=0, max_value=400)),
    arch=st.sampled_from([b"llama", b"qwen3moe", b"deepseek2", b"mamba", b"nonsense"]),
)
def test_gguf_header_only_raises_lmscope_errors(version, kvs, tensors, lie_counts, tail, cut, arch):
    """The bounded GGUF reader, then the translation of its metadata into a config and an Architecture."""
    from lmscope.core.sources.gguf_source import source_from_gguf

    kvs = [_gguf_str(b"general.architecture") + struct.pack("<I", 8) + _gguf_str(arch), *kvs]
    counts = (len(tensors) + 7, len(kvs) + 3) if lie_counts else (len(tensors), len(kvs))
    data = b"GGUF" + struct.pack("<IQQ", version, *counts) + b"".join(kvs) + b"".join(tensors) + tail
    if cut is not None:
        data = data[:cut]
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "model.gguf"
        path.write_bytes(data)
        try:
            source_from_gguf(path)
        except LmscopeError as err:
            _one_line(err)


# ------------------------------------------------------------------------------------ ONNX bytes

def _onnx_model(dims: list[int], data_type: int, external: dict[str, str] | None, raw: bytes | None) -> bytes:
    from onnx import TensorProto, helper

    t = TensorProto(name="W", data_type=data_type, dims=dims)
    if external is not None:
        t.data_location = TensorProto.EXTERNAL
        for key, value in external.items():
            t.external_data.add(key=key, value=value)
    elif raw is not None:
        t.raw_data = raw
    graph = helper.make_graph([helper.make_node("Identity", ["W"], ["y"])], "g", [],
                              [helper.make_tensor_value_info("y", TensorProto.FLOAT, None)], initializer=[t])
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)]).SerializeToString()


_onnx_number = st.one_of(st.integers(min_value=0, max_value=10**6).map(str), st.sampled_from(["", "-1", "\u00b2", "\u0663", "1e3", "0x10", "9" * 40]))


@fuzz(200)
@given(
    dims=st.lists(st.integers(min_value=-3, max_value=2**62), max_size=18),
    data_type=st.one_of(st.sampled_from([1, 10, 16, 21, 8]), st.integers(min_value=0, max_value=200)),
    external=st.one_of(st.none(), st.dictionaries(st.sampled_from(["location", "length", "offset", "checksum"]), _onnx_number, max_size=3)),
    raw=st.one_of(st.none(), st.binary(max_size=64)),
    flips=st.lists(st.tuples(st.integers(min_value=0, max_value=10**6), st.integers(min_value=0, max_value=255)), max_size=3),
    cut=st.one_of(st.none(), st.integers(min_value=0, max_value=300)),
)
def test_onnx_bytes_only_raise_lmscope_errors(dims, data_type, external, raw, flips, cut):
    from lmscope.core.sources.onnx_source import source_from_onnx

    data = bytearray(_onnx_model(dims, data_type, external, raw))
    for position, value in flips:
        data[position % len(data)] = value
    if cut is not None:
        data = data[:cut]
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "model.onnx"
        path.write_bytes(bytes(data))
        try:
            source = source_from_onnx(path)
        except LmscopeError as err:
            _one_line(err)
            return
        for t in source.stored.tensors:
            assert 0 <= t.nbytes and t.numel <= 1 << 50


# ------------------------------------------------------------------------------------ tokenizer side files

_token = st.one_of(st.fixed_dictionaries({}, optional={"id": _weird_numbers, "content": _scalars, "special": _scalars}), _json)
_tokenizer_json = st.one_of(
    st.fixed_dictionaries(
        {},
        optional={
            "model": st.one_of(st.fixed_dictionaries({}, optional={"type": _scalars, "vocab": st.one_of(
                st.dictionaries(st.text(max_size=6), _weird_numbers, max_size=6), st.lists(_json, max_size=4), _json),
                "byte_fallback": _scalars}), _json),
            "added_tokens": st.one_of(st.lists(_token, max_size=5), _json),
        },
    ),
    _json,
)
_tokenizer_config = st.one_of(
    st.fixed_dictionaries({}, optional={
        "bos_token": _json, "eos_token": _json, "tokenizer_class": _scalars, "model_max_length": _weird_numbers,
        "added_tokens_decoder": st.one_of(st.dictionaries(st.text(max_size=6), _json, max_size=4), _json),
        "chat_template": st.one_of(st.text(max_size=40), st.lists(_json, max_size=3), _json)}),
    _json,
)


@fuzz(250)
@given(tokenizer_json=st.one_of(st.none(), _tokenizer_json, st.binary(max_size=60)), tokenizer_config=st.one_of(st.none(), _tokenizer_config))
def test_tokenizer_side_files_never_raise(tokenizer_json, tokenizer_config):
    """Tokenizer files are optional: whatever they hold, the facts come back (with notes), never an exception."""
    from lmscope.core.tokenizer import tokenizer_facts

    with tempfile.TemporaryDirectory() as tmp:
        path = None
        if tokenizer_json is not None:
            path = os.path.join(tmp, "tokenizer.json")
            blob = tokenizer_json if isinstance(tokenizer_json, bytes) else json.dumps(tokenizer_json).encode("utf-8", "surrogatepass")
            Path(path).write_bytes(blob)
        config = tokenizer_config if isinstance(tokenizer_config, dict) else None
        facts = tokenizer_facts(ConfigFiles(config=TINY, tokenizer_config=config, tokenizer_json_path=path))
        if facts is not None:
            json.dumps(facts.to_dict())  # JSON-safe whatever went in
            assert facts.vocab_size is None or facts.vocab_size >= 0


# ------------------------------------------------------------------------------------ safetensors index

_weight_map = st.one_of(
    st.dictionaries(st.text(max_size=12), st.one_of(st.sampled_from(["model.safetensors", "a.safetensors", "../x", "", "s" * 300, "\x1b]0;x"]), _scalars), max_size=5),
    _json,
)


@fuzz(200)
@given(index=st.one_of(st.fixed_dictionaries({"weight_map": _weight_map}, optional={"metadata": _json}), _json))
def test_safetensors_index_only_raises_lmscope_errors(index):
    """The report's reader (notes for what it cannot use) and the weights engine's (one-line errors)."""
    from lmscope.core.sources.local import stored_tensors_in
    from lmscope.core.weights.readers import read_index

    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        (folder / "model.safetensors").write_bytes(struct.pack("<Q", 2) + b"{}")
        path = folder / "model.safetensors.index.json"
        path.write_text(json.dumps(index))
        if isinstance(index, dict):
            try:
                stored_tensors_in(folder, index)
            except LmscopeError as err:
                _one_line(err)
        try:
            weight_map = read_index(path)
        except LmscopeError as err:
            _one_line(err)
        else:
            assert all(isinstance(v, str) and "/" not in v and not v.startswith(".") for v in weight_map.values())


# ------------------------------------------------------------------------------------ the structure measure itself

@fuzz(200)
@given(document=_json, ascii_only=st.booleans())
def test_json_cost_is_the_same_measured_either_way(document, ascii_only):
    """Large files are measured in numpy chunks, small ones with a regular expression: both must agree."""
    from lmscope.core.sources.bounded_json import _structure_large, _structure_small

    raw = json.dumps(document, ensure_ascii=ascii_only).encode("utf-8", "surrogatepass")
    assert _structure_small(raw, 64) == _structure_large(raw, 64)
