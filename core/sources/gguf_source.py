"""GGUF files (llama.cpp): an Architecture and a ModelSource from the header.

A GGUF file carries everything lmscope needs in its header (read by
:mod:`lmscope.core.sources.gguf_header`): model dimensions as ``{arch}.*`` keys, the tokenizer,
and a table of tensors with their quantization types (Q4_K, Q8_0, ...), from which the real stored
bytes follow. The Architecture is built by translating the metadata into the equivalent Hugging
Face config keys and handing them to the ordinary parser, so GGUF models get the same family
handling as everything else.
"""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING

from lmscope.core.architecture import Architecture, ConfigFiles, QuantSpec
from lmscope.core.errors import LmscopeError
from lmscope.core.sources.base import ModelSource, StoredTensors
from lmscope.core.sources.gguf_header import GGUFArray, read_gguf_header

if TYPE_CHECKING:
    from lmscope.core.sources.gguf_header import GGUFHeader


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
        config["expand"] = inner // int(config["hidden_size"])  # type: ignore[arg-type,call-overload]
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
