"""Quantization from config.json and its side files (quantization_config, MLX ``quantization``, quantize_config.json, hf_quant_config.json)."""

from __future__ import annotations

from lmscope.core.architecture import (
    ConfigFiles,
    QuantSpec,
)
from lmscope.core.errors import ConfigError
from lmscope.core.parse.reader import MAX_HIDDEN, _Reader, _show


def _quantization(files: ConfigFiles, r: _Reader) -> QuantSpec | None:
    q = files.config.get("quantization_config")
    if q is None and isinstance(files.config.get("text_config"), dict):
        q = files.config["text_config"].get("quantization_config")
    mlx = files.config.get("quantization")
    side = files.quantize_config
    if isinstance(side, dict) and isinstance(side.get("quantization"), dict):  # hf_quant_config.json (ModelOpt)
        inner = side["quantization"]
        algo = str(inner.get("quant_algo") or "modelopt")
        bits = 8.0 if "FP8" in algo.upper() else 4.0 if "4" in algo else None
        details = tuple((k, str(v)) for k, v in inner.items() if isinstance(v, (str, int, float)))
        return QuantSpec(method="modelopt", bits=bits, details=(("quant_algo", algo),) + details[1:])
    if isinstance(q, dict):
        return _quant_from_dict(q)
    if isinstance(mlx, dict):
        return _quant_from_dict({**mlx, "quant_method": "mlx"})
    if isinstance(side, dict):  # quantize_config.json (GPTQ / AWQ)
        return _quant_from_dict({"quant_method": side.get("quant_method", "gptq"), **side})
    return None


def _positive_bits(bits: float | None, field: str) -> float | None:
    """A bit width is positive: 0 or fewer bits per weight is not a quantization, it is a broken file."""
    if bits is not None and bits <= 0:
        raise ConfigError(f"config.json: field 'quantization_config.{field}' must be a positive bit width, got {_show(bits)}")
    return bits


def _group_size(group: object, field: str) -> int | None:
    """A group size: positive, or -1 (GPTQ's "one group per column", no grouping); 0 and below -1 are refused."""
    if not isinstance(group, int) or isinstance(group, bool) or group == -1:
        return None
    if group <= 0 or group > MAX_HIDDEN:
        raise ConfigError(f"config.json: field 'quantization_config.{field}' must be a positive size or -1, got {_show(group)}")
    return group


def _quant_from_dict(q: dict) -> QuantSpec:
    qr = _Reader(q, "quantization_config.")
    method = qr.str("quant_method", default=None)
    if method is None:
        method = "mlx" if "mode" in q and "bits" in q else "unknown"
    method = method.lower()
    bits: float | None = _positive_bits(qr.float("bits", "w_bit", lo=0.0, hi=64.0), "bits")
    group = qr.raw("group_size", "q_group_size")
    group_size = _group_size(group, "group_size")
    block_text: str | None = None
    if method == "bitsandbytes":
        if qr.bool("load_in_4bit", "_load_in_4bit"):
            bits = 4.0
            group_size = 64
        elif qr.bool("load_in_8bit", "_load_in_8bit"):
            bits = 8.0
    elif method in ("fp8", "fbgemm_fp8"):
        bits = 8.0
        block = q.get("weight_block_size")
        if block is not None:
            if (not isinstance(block, list) or len(block) != 2
                    or not all(isinstance(x, int) and not isinstance(x, bool) and 0 < x <= MAX_HIDDEN for x in block)):
                raise ConfigError("config.json: field 'quantization_config.weight_block_size' must be two positive "
                                  f"whole numbers, got {_show(block)}")
            # a 128×128 block is a block, not a "group of 16,384": kept as its shape (details), never as a group size
            block_text = f"{block[0]}x{block[1]}"
    elif method == "mxfp4":
        bits, group_size = 4.25, 32
    elif method == "compressed-tensors":
        groups = q.get("config_groups")
        if isinstance(groups, dict):
            for g in groups.values():
                w = g.get("weights") if isinstance(g, dict) else None
                if isinstance(w, dict):
                    wr = _Reader(w, "quantization_config.config_groups.weights.")
                    if isinstance(w.get("num_bits"), (int, float)):
                        bits = _positive_bits(wr.float("num_bits", lo=0.0, hi=64.0), "config_groups.weights.num_bits")
                    if isinstance(w.get("group_size"), int):
                        group_size = _group_size(w["group_size"], "config_groups.weights.group_size")
                    break
    symmetric = q.get("sym") if isinstance(q.get("sym"), bool) else None
    details = tuple(
        (str(k), str(v)) for k, v in q.items()
        if isinstance(v, (str, int, float, bool)) and k not in ("quant_method", "bits", "group_size", "sym")
    )[:16]
    if block_text:
        details = (("weight_block_size", block_text),) + details
    return QuantSpec(method=method, bits=bits, group_size=group_size, symmetric=symmetric, details=details)
