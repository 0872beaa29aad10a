"""GGUF files (llama.cpp): metadata, tensor table and an Architecture, read safely.

A GGUF file carries everything lmscope needs in its header: model
dimensions as ``{arch}.*`` keys, the tokenizer, and a table of tensors with
their quantization types (Q4_K, Q8_0, ...), from which the real stored
bytes follow. The header is parsed here by a small bounded reader instead of
``gguf.GGUFReader`` because the file is untrusted: every count, string
length and array length is checked against the bytes that remain in the
file *before* anything is allocated, so a lying file costs an error line,
not the machine's memory. Only the block sizes of the quantization types
come from the ``gguf`` package (llama.cpp's own table).

The Architecture is built by translating the metadata into the equivalent
Hugging Face config keys and handing them to the ordinary parser, so GGUF
models get the same family handling as everything else.
"""

from __future__ import annotations

import mmap
import os
import struct
from dataclasses import dataclass, replace
from pathlib import Path

from lmscope.core.architecture import Architecture, ConfigFiles, QuantSpec
from lmscope.core.errors import FileFormatError, LmscopeError, SourceError
from lmscope.core.redact import shown
from lmscope.core.sources.base import ModelSource, StoredTensors, TensorInfo

MAGIC = b"GGUF"
MAX_STRING_BYTES = 16 * 1024 * 1024
MAX_DIMS = 8
KEEP_ARRAY_ITEMS = 64  # longer arrays keep only their length (token lists are 100k+ long)
DEFAULT_ALIGNMENT = 32
# Far beyond any real file (llama.cpp writes ~40 metadata keys; DeepSeek-V3 has ~1,000 tensors), and
# what keeps the tables small: 10^7 tiny entries fit in a 100 MB file but not in memory as Python objects.
MAX_METADATA_ENTRIES = 65_536
MAX_TENSORS = 200_000
MAX_KEPT_STRING = 1024 * 1024  # a longer metadata string is skipped (kept as its length): a chat template is ~10 KB

# GGUF value type -> (struct format, size); 8 = string, 9 = array
_SCALARS: dict[int, tuple[str, int]] = {
    0: ("<B", 1),
    1: ("<b", 1),
    2: ("<H", 2),
    3: ("<h", 2),
    4: ("<I", 4),
    5: ("<i", 4),
    6: ("<f", 4),
    7: ("<?", 1),
    10: ("<Q", 8),
    11: ("<q", 8),
    12: ("<d", 8),
}
_STRING, _ARRAY = 8, 9


@dataclass(frozen=True)
class GGUFArray:
    """A long metadata array, kept as its length and element type only."""

    count: int
    item_type: int


@dataclass(frozen=True)
class GGUFLongString:
    """A metadata string longer than :data:`MAX_KEPT_STRING`, kept as its length only."""

    length: int


@dataclass(frozen=True)
class GGUFHeader:
    """What a GGUF file says about itself (metadata and tensor table, no data)."""

    version: int
    metadata: dict[str, object]
    tensors: tuple[TensorInfo, ...]
    alignment: int
    data_offset: int
    file_size: int


class _Cursor:
    """Bounds-checked little-endian reads over a memory-mapped file."""

    def __init__(self, buf: mmap.mmap | bytes, name: str) -> None:
        self.buf = buf
        self.pos = 0
        self.size = len(buf)
        self.name = name

    def fail(self, what: str) -> FileFormatError:
        return FileFormatError(f"{self.name}: {what} (truncated or corrupt GGUF file)")

    def remaining(self) -> int:
        return self.size - self.pos

    def take(self, n: int, what: str) -> bytes:
        if n < 0 or n > self.remaining():
            raise self.fail(f"{what} needs {n:,} bytes but only {self.remaining():,} remain")
        out = self.buf[self.pos : self.pos + n]
        self.pos += n
        return bytes(out)

    def scalar(self, fmt: str, size: int, what: str) -> int | float | bool:
        return struct.unpack(fmt, self.take(size, what))[0]

    def u32(self, what: str) -> int:
        return int(self.scalar("<I", 4, what))

    def u64(self, what: str) -> int:
        return int(self.scalar("<Q", 8, what))

    def string(self, what: str) -> str:
        length = self.u64(what + " length")
        if length > MAX_STRING_BYTES:
            raise self.fail(f"{what} claims {length:,} bytes")
        return self.take(length, what).decode("utf-8", errors="replace")


def _skip_strings(cur: _Cursor, count: int, key: str) -> None:
    """Skip ``count`` length-prefixed strings (token lists: hundreds of thousands) without copying them."""
    unpack = struct.Struct("<Q").unpack_from
    buf, pos, size = cur.buf, cur.pos, cur.size
    for _ in range(count):
        if pos + 8 > size:
            cur.pos = pos
            raise cur.fail(f"{key} is cut short")
        length = unpack(buf, pos)[0]
        pos += 8 + length
        if pos > size:
            cur.pos = size
            raise cur.fail(f"a string in {key} claims {length:,} bytes, more than remain")
    cur.pos = pos


def _value(cur: _Cursor, vtype: int, key: str, depth: int = 0) -> object:
    if vtype in _SCALARS:
        fmt, size = _SCALARS[vtype]
        return cur.scalar(fmt, size, key)
    if vtype == _STRING:
        if depth == 0:
            length = cur.u64(key + " length")
            if length > MAX_KEPT_STRING:
                if length > cur.remaining():
                    raise cur.fail(f"'{shown(key, 80)}' claims {length:,} bytes")
                cur.pos += length
                return GGUFLongString(length)
            cur.pos -= 8
        return cur.string(key)
    if vtype != _ARRAY:
        raise cur.fail(f"metadata '{shown(key, 80)}' has unknown value type {vtype}")
    if depth > 2:
        raise cur.fail(f"metadata '{shown(key, 80)}' nests arrays too deeply")
    item_type = cur.u32(key + " item type")
    count = cur.u64(key + " count")
    min_item = _SCALARS[item_type][1] if item_type in _SCALARS else 8  # strings/arrays need ≥ 8 bytes each
    if item_type not in _SCALARS and item_type not in (_STRING, _ARRAY):
        raise cur.fail(f"metadata '{shown(key, 80)}' has unknown array item type {item_type}")
    if count * min_item > cur.remaining():
        raise cur.fail(f"metadata '{shown(key, 80)}' claims {count:,} items, more than the file can hold")
    if count > KEEP_ARRAY_ITEMS:
        if item_type in _SCALARS:
            cur.pos += count * min_item
        elif item_type == _STRING:
            _skip_strings(cur, count, key)
        else:
            for _ in range(count):
                _value(cur, _ARRAY, key, depth + 1)
        return GGUFArray(count, item_type)
    return [_value(cur, item_type, key, depth + 1) for _ in range(count)]


def _quant_sizes() -> dict[int, tuple[str, int, int]]:
    """ggml type id -> (name, block size, bytes per block), from llama.cpp's table in ``gguf``."""
    from gguf.constants import GGML_QUANT_SIZES

    return {int(t): (t.name, block, size) for t, (block, size) in GGML_QUANT_SIZES.items()}


def read_gguf_header(path: str | os.PathLike[str]) -> GGUFHeader:
    """Parse a GGUF file's metadata and tensor table with every size checked first."""
    path = Path(path)
    try:
        with path.open("rb") as handle:
            size = os.fstat(handle.fileno()).st_size
            if size < 24:
                raise FileFormatError(f"{path.name}: too small to be a GGUF file ({size} bytes)")
            with mmap.mmap(handle.fileno(), 0, access=mmap.ACCESS_READ) as buf:
                return _parse(buf, path.name, size)
    except OSError as err:
        raise SourceError(f"cannot read {path}: {err.strerror or err}") from None


def _parse(buf: mmap.mmap, name: str, file_size: int) -> GGUFHeader:
    cur = _Cursor(buf, name)
    if cur.take(4, "magic") != MAGIC:
        raise FileFormatError(f"{name}: not a GGUF file (bad magic)")
    version = cur.u32("version")
    if version not in (2, 3):
        raise FileFormatError(f"{name}: GGUF version {version} is not supported (2 and 3 are)")
    tensor_count = cur.u64("tensor count")
    kv_count = cur.u64("metadata count")
    # each metadata pair needs ≥ 8 (key length) + 4 (type) + 1 bytes; each tensor ≥ 8 + 4 + 4 + 8
    if kv_count * 13 > cur.remaining() or kv_count > MAX_METADATA_ENTRIES:
        raise cur.fail(f"header claims {kv_count:,} metadata entries")
    if tensor_count * 24 > cur.remaining() or tensor_count > MAX_TENSORS:
        raise cur.fail(f"header claims {tensor_count:,} tensors")
    metadata: dict[str, object] = {}
    for _ in range(kv_count):
        key = cur.string("metadata key")
        vtype = cur.u32(f"type of '{shown(key, 80)}'")
        metadata[key] = _value(cur, vtype, key)
    sizes = _quant_sizes()
    raw_tensors = []
    for _ in range(tensor_count):
        tname = cur.string("tensor name")
        n_dims = cur.u32(f"dimension count of '{shown(tname, 80)}'")
        if not 0 < n_dims <= MAX_DIMS:
            raise cur.fail(f"tensor '{shown(tname, 80)}' has {n_dims} dimensions")
        dims = [cur.u64(f"shape of '{shown(tname, 80)}'") for _ in range(n_dims)]
        ttype = cur.u32(f"type of '{shown(tname, 80)}'")
        offset = cur.u64(f"offset of '{shown(tname, 80)}'")
        if ttype not in sizes:
            raise cur.fail(f"tensor '{shown(tname, 80)}' has unknown ggml type {ttype}")
        raw_tensors.append((tname, dims, ttype, offset))
    alignment = metadata.get("general.alignment", DEFAULT_ALIGNMENT)
    if not isinstance(alignment, int) or alignment <= 0 or alignment & (alignment - 1):
        raise cur.fail(f"general.alignment {alignment!r} is not a power of two")
    data_offset = -(-cur.pos // alignment) * alignment
    tensors = []
    for tname, dims, ttype, offset in raw_tensors:
        type_name, block, block_bytes = sizes[ttype]
        numel = 1
        for d in dims:
            numel *= d
        if numel > 1 << 50 or dims[0] % block:
            raise cur.fail(f"tensor '{shown(tname, 80)}' has an impossible shape {tuple(dims)} for {type_name}")
        nbytes = numel // block * block_bytes
        if data_offset + offset + nbytes > file_size:
            raise cur.fail(f"tensor '{shown(tname, 80)}' ends beyond the end of the file")
        # GGUF lists dimensions innermost first; show them in row-major (PyTorch) order
        tensors.append(TensorInfo(name=tname, dtype=type_name, shape=tuple(reversed(dims)), nbytes=nbytes))
    return GGUFHeader(version, metadata, tuple(tensors), alignment, data_offset, file_size)


# GGUF general.architecture -> Hugging Face model_type (where they differ or matter)
_ARCH_TO_MODEL_TYPE: dict[str, str] = {
    "llama": "llama",
    "mistral": "mistral",
    "qwen2": "qwen2",
    "qwen3": "qwen3",
    "qwen2moe": "qwen2_moe",
    "qwen3moe": "qwen3_moe",
    "gemma": "gemma",
    "gemma2": "gemma2",
    "gemma3": "gemma3_text",
    "phi2": "phi",
    "phi3": "phi3",
    "gpt2": "gpt2",
    "falcon": "falcon",
    "starcoder2": "starcoder2",
    "deepseek2": "deepseek_v3",
    "mamba": "mamba",
    "command-r": "cohere",
    "cohere2": "cohere2",
    "olmo": "olmo",
    "olmo2": "olmo2",
    "stablelm": "stablelm",
    "gptneox": "gpt_neox",
    "bloom": "bloom",
    "mpt": "mpt",
    "granite": "granite",
    "internlm2": "internlm2",
    "gpt-oss": "gpt_oss",
    "exaone": "exaone",
    "glm4": "glm4",
    "chatglm": "chatglm",
}

# ggml file type (general.file_type) -> the name llama.cpp gives it
_FILE_TYPES = {
    0: "F32", 1: "F16", 2: "Q4_0", 3: "Q4_1", 7: "Q8_0", 8: "Q5_0", 9: "Q5_1", 10: "Q2_K", 11: "Q3_K_S",
    12: "Q3_K_M", 13: "Q3_K_L", 14: "Q4_K_S", 15: "Q4_K_M", 16: "Q5_K_S", 17: "Q5_K_M", 18: "Q6_K",
    19: "IQ2_XXS", 20: "IQ2_XS", 21: "Q2_K_S", 22: "IQ3_XS", 23: "IQ3_XXS", 24: "IQ1_S", 25: "IQ4_NL",
    26: "IQ3_S", 27: "IQ3_M", 28: "IQ2_S", 29: "IQ2_M", 30: "IQ4_XS", 31: "IQ1_M", 32: "BF16",
}


def _first_int(value: object) -> int | None:
    """An integer metadata value; per-layer arrays give their maximum."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, list) and value and all(isinstance(v, int) and not isinstance(v, bool) for v in value):
        return max(value)
    return None


def config_from_gguf(meta: dict[str, object], tensor_names: set[str]) -> dict:
    """The Hugging Face config keys equivalent to a GGUF file's metadata."""
    arch = str(meta.get("general.architecture", ""))

    def get(key: str) -> object:
        return meta.get(f"{arch}.{key}")

    config: dict[str, object] = {"model_type": _ARCH_TO_MODEL_TYPE.get(arch, arch)}
    mapping = {
        "hidden_size": "embedding_length",
        "num_hidden_layers": "block_count",
        "num_attention_heads": "attention.head_count",
        "num_key_value_heads": "attention.head_count_kv",
        "intermediate_size": "feed_forward_length",
        "max_position_embeddings": "context_length",
        "head_dim": "attention.key_length",
        "sliding_window": "attention.sliding_window",
        "kv_lora_rank": "attention.kv_lora_rank",
        "q_lora_rank": "attention.q_lora_rank",
        "qk_rope_head_dim": "rope.dimension_count",
        "first_k_dense_replace": "leading_dense_block_count",
        "conv_kernel": "ssm.conv_kernel",
        "state_size": "ssm.state_size",
        "time_step_rank": "ssm.time_step_rank",
        "n_groups": "ssm.group_count",
    }
    for hf_key, gguf_key in mapping.items():
        value = _first_int(get(gguf_key))
        if value is not None:
            config[hf_key] = value
    experts = _first_int(get("expert_count"))
    if experts:
        config.update(num_local_experts=experts, num_experts=experts, n_routed_experts=experts)
        used = _first_int(get("expert_used_count"))
        if used:
            config["num_experts_per_tok"] = used
        expert_ff = _first_int(get("expert_feed_forward_length"))
        if expert_ff:
            config["moe_intermediate_size"] = expert_ff
        shared = _first_int(get("expert_shared_count"))
        if shared:
            config["n_shared_experts"] = shared
    if arch == "deepseek2":
        _mla_keys(config, get)
    inner = _first_int(get("ssm.inner_size"))
    if inner and config.get("hidden_size"):
        config["intermediate_size"] = inner
        config["expand"] = inner // int(config["hidden_size"])  # type: ignore[arg-type]
    theta = get("rope.freq_base")
    if isinstance(theta, (int, float)):
        config["rope_theta"] = float(theta)
    eps = get("attention.layer_norm_rms_epsilon")
    if isinstance(eps, float):
        config["rms_norm_eps"] = eps
    scaling_type = get("rope.scaling.type")
    factor = get("rope.scaling.factor")
    if isinstance(scaling_type, str) and scaling_type != "none" and isinstance(factor, (int, float)):
        scaling: dict[str, object] = {"rope_type": scaling_type, "factor": float(factor)}
        original = _first_int(get("rope.scaling.original_context_length"))
        if original:
            scaling["original_max_position_embeddings"] = original
        config["rope_scaling"] = scaling
    tokens = meta.get("tokenizer.ggml.tokens")
    vocab = _first_int(get("vocab_size"))
    if vocab is None and isinstance(tokens, GGUFArray):
        vocab = tokens.count
    elif vocab is None and isinstance(tokens, list):
        vocab = len(tokens)
    if vocab:
        config["vocab_size"] = vocab
    config["tie_word_embeddings"] = "output.weight" not in tensor_names
    return config


def _mla_keys(config: dict, get) -> None:
    """DeepSeek-V2/V3 GGUFs: key_length is the whole q/k head (nope + rope); HF names the parts."""
    rope_dim = _first_int(get("rope.dimension_count"))
    key_len = _first_int(get("attention.key_length_mla")) or _first_int(get("attention.key_length"))
    value_len = _first_int(get("attention.value_length_mla")) or _first_int(get("attention.value_length"))
    config.pop("head_dim", None)
    if get("expert_gating_func") != 2:  # llama.cpp: 1 = softmax (V2), 2 = sigmoid (V3)
        config["model_type"] = "deepseek_v2"
    if rope_dim and key_len and key_len > rope_dim:
        config["qk_rope_head_dim"] = rope_dim
        config["qk_nope_head_dim"] = key_len - rope_dim
    if value_len:
        config["v_head_dim"] = value_len
    for key in ("num_local_experts", "num_experts"):
        config.pop(key, None)
    weight_scale = get("expert_weights_scale")
    if isinstance(weight_scale, (int, float)):
        config["routed_scaling_factor"] = float(weight_scale)


def _tokenizer_summary(meta: dict[str, object]) -> dict[str, object]:
    """What the GGUF says about its tokenizer: model kind, vocabulary size, special token ids."""
    tokens = meta.get("tokenizer.ggml.tokens")
    count = tokens.count if isinstance(tokens, GGUFArray) else len(tokens) if isinstance(tokens, list) else None
    out: dict[str, object] = {"model": meta.get("tokenizer.ggml.model"), "vocab_size": count}
    for role in ("bos", "eos", "unknown", "padding", "seperator"):
        value = meta.get(f"tokenizer.ggml.{role}_token_id")
        if isinstance(value, int) and not isinstance(value, bool):
            out[f"{role}_token_id"] = value
    if isinstance(tokens, list):  # short vocabularies keep their text: name the special tokens
        for role in ("bos", "eos", "unknown", "padding"):
            token_id = out.get(f"{role}_token_id")
            if isinstance(token_id, int) and 0 <= token_id < len(tokens) and isinstance(tokens[token_id], str):
                out[f"{role}_token"] = tokens[token_id]
    return out


def _file_facts(path: Path, header: GGUFHeader) -> dict[str, object]:
    meta = header.metadata
    file_type = meta.get("general.file_type")
    facts: dict[str, object] = {
        "format": "gguf",
        "gguf_version": header.version,
        "architecture": meta.get("general.architecture"),
        "name": meta.get("general.name"),
        "file_type": _FILE_TYPES.get(file_type, str(file_type)) if isinstance(file_type, int) else None,
        "tensor_count": len(header.tensors),
        "metadata_count": len(meta),
        "file_bytes": header.file_size,
        "tokenizer_model": meta.get("tokenizer.ggml.model"),
        "chat_template": isinstance(meta.get("tokenizer.chat_template"), str),
    }
    return {k: v for k, v in facts.items() if v is not None}


def source_from_gguf(path: Path) -> ModelSource:
    """A :class:`ModelSource` for a ``.gguf`` file: metadata, stored tensors and an Architecture."""
    header = read_gguf_header(path)
    meta = header.metadata
    names = {t.name for t in header.tensors}
    config = config_from_gguf(meta, names)
    stored = StoredTensors(
        source="gguf",
        tensors=header.tensors,
        notes=("GGUF shapes shown in row-major order; quantized types store whole blocks",),
    )
    notes: list[str] = []
    architecture = _architecture(config, meta, stored, notes)
    tokenizer_config: dict[str, object] = {}
    template = meta.get("tokenizer.chat_template")
    if isinstance(template, str):
        tokenizer_config["chat_template"] = template
    files = ConfigFiles(
        config=config,
        tokenizer_config=tokenizer_config or None,
        extra={"gguf_metadata_keys": len(meta), "gguf_tokenizer": _tokenizer_summary(meta)},
    )
    return ModelSource(
        model_id=path.stem,  # the file name says which quantization it is; general.name is in file_facts
        kind="gguf",
        files=files,
        location=str(path),
        stored=stored,
        architecture=architecture,
        notes=tuple(notes),
        file_facts=_file_facts(path, header),
    )


_FLOAT_TYPES = {"F32", "F16", "BF16", "F64"}
_FLOAT_TORCH = {"F32": "float32", "F16": "float16", "BF16": "bfloat16"}


def _architecture(config: dict, meta: dict[str, object], stored: StoredTensors, notes: list[str]) -> Architecture | None:
    arch_name = meta.get("general.architecture")
    try:
        from lmscope.core.parse import architecture_from_config
    except ImportError:
        notes.append("the config parser is not available; no architecture built from the GGUF metadata")
        return None
    try:
        architecture = architecture_from_config(config)
    except LmscopeError as err:
        notes.append(f"GGUF architecture {arch_name!r} not understood: {err}")
        return None
    file_type = meta.get("general.file_type")
    type_name = _FILE_TYPES.get(file_type) if isinstance(file_type, int) else None
    stored_types = {t.dtype for t in stored.tensors}
    if stored_types <= _FLOAT_TYPES:
        # an unquantized GGUF: weights in one float type, no quantization to describe
        dtype = next((v for k, v in _FLOAT_TORCH.items() if type_name == k), None)
        return replace(
            architecture,
            torch_dtype=dtype or architecture.torch_dtype,
            notes=(*architecture.notes, f"built from GGUF metadata ({arch_name}), unquantized ({type_name or 'float'})"),
        )
    params = stored.total_params
    bits = round(stored.total_bytes * 8 / params, 3) if params else None
    details = (("file_type", type_name or "unknown"), ("bits", "mean over all stored tensors"), ("tensor_types", ", ".join(sorted(stored_types))))
    quant = QuantSpec(method="gguf", bits=bits, details=details)
    return replace(
        architecture,
        quantization=quant,
        notes=(*architecture.notes, f"built from GGUF metadata ({arch_name})"),
    )
