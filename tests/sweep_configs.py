"""Configs for the analytic-vs-class sweep: every model type transformers registers with a head.

Why generated: fixtures cover the models we thought of; the sweep covers
every type the installed transformers knows with a causal-LM, masked-LM,
seq2seq or image-text-to-text head, with its default config and seeded
variations (layer count, GQA ratio, tied/untied, MoE sizes, sliding and
hybrid patterns). The generator only sets fields the config class already
has, keeps dimensions small (meta instantiation stays fast) and keeps
per-layer lists the length of the new layer count.
"""

from __future__ import annotations

import random
import zlib

from meta_oracle import HEAD_MAPPINGS

VARIATIONS = 3  # seeded variations per type, besides the default config

_LAYER_KEYS = ("num_hidden_layers", "num_layers", "n_layer", "n_layers", "decoder_layers", "encoder_layers",
               "num_decoder_layers")
_EXPERT_KEYS = ("num_experts", "num_local_experts", "n_routed_experts", "moe_num_experts")
_TOPK_KEYS = ("num_experts_per_tok", "moe_topk", "experts_per_token", "moe_k")
_PER_LAYER_LISTS = ("layer_types", "mlp_layer_types", "no_rope_layers", "layers_block_type", "block_configs")


def model_types() -> list[str]:
    """Every model type with a causal-LM, masked-LM, seq2seq or image-text-to-text head, sorted."""
    from transformers.models.auto import modeling_auto

    types: set[str] = set()
    for mapping in HEAD_MAPPINGS[1:]:  # the speech mapping only picks Whisper's seq2seq class
        types |= set(getattr(modeling_auto, mapping))
    return sorted(types)


def default_config(model_type: str) -> dict:
    """The config class's defaults as a config.json would hold them."""
    from meta_oracle import _quiet, head_class_name
    from transformers import CONFIG_MAPPING

    _quiet()
    data = CONFIG_MAPPING[model_type]().to_dict()
    name = head_class_name(model_type)  # by name: refused types never import their modeling code
    data["model_type"] = model_type
    data["architectures"] = [name] if name else None
    return data


def configs_for(model_type: str) -> list[tuple[str, dict]]:
    """(label, config) pairs: the default, then :data:`VARIATIONS` seeded variations."""
    base = default_config(model_type)
    out = [("default", base)]
    for i in range(VARIATIONS):
        rng = random.Random(zlib.crc32(f"{model_type}/{i}".encode()))
        out.append((f"seed{i}", vary(base, rng)))
    return out


def vary(config: dict, rng: random.Random) -> dict:
    """A small valid-looking variation of ``config`` (only fields it already has are set)."""
    data = _vary_level(dict(config), rng)
    for sub in ("text_config", "vision_config", "audio_config", "encoder_config", "decoder_config"):
        if isinstance(data.get(sub), dict):
            data[sub] = _vary_level(dict(data[sub]), rng)
    return data


def _vary_level(d: dict, rng: random.Random) -> dict:
    def has(key: str) -> bool:
        return key in d and isinstance(d[key], int) and not isinstance(d[key], bool)

    old_layers = next((d[k] for k in _LAYER_KEYS if has(k)), None)
    layers = rng.randint(2, 6)
    for key in _LAYER_KEYS:
        if has(key) and d[key] > 0:
            d[key] = layers
    heads = rng.choice((2, 4, 8))
    head_dim = rng.choice((8, 16, 32))
    for key in ("num_attention_heads", "n_head", "n_heads", "num_heads", "encoder_attention_heads", "decoder_attention_heads"):
        if has(key):
            d[key] = heads
    for key in ("hidden_size", "n_embd", "d_model", "dim"):
        if has(key):
            d[key] = heads * head_dim
    if has("head_dim"):
        d["head_dim"] = head_dim
    if has("d_kv"):
        d["d_kv"] = head_dim
    kv = heads // rng.choice([r for r in (1, 2, 4, 8) if heads % r == 0])
    for key in ("num_key_value_heads", "num_kv_heads", "n_head_kv"):
        if has(key):
            d[key] = kv
    for key in ("intermediate_size", "ffn_dim", "d_ff", "n_inner", "encoder_ffn_dim", "decoder_ffn_dim",
                "ffn_hidden_size", "hidden_dim"):
        if has(key):
            d[key] = 16 * rng.randint(3, 16)
    for key in ("vocab_size", "padded_vocab_size"):
        if has(key):
            d[key] = rng.randint(100, 1000)
    for key, value in list(d.items()):  # token ids must stay inside the smaller vocabulary
        if key.endswith("_token_id") and isinstance(value, int) and not isinstance(value, bool) and value > 0:
            d[key] = rng.randint(1, 50)
    if isinstance(d.get("tie_word_embeddings"), bool):
        d["tie_word_embeddings"] = rng.random() < 0.5
    for key in ("attention_bias", "mlp_bias"):
        if isinstance(d.get(key), bool):
            d[key] = rng.random() < 0.5
    experts = rng.randint(2, 8)
    for key in _EXPERT_KEYS:
        if has(key) and d[key] > 1:
            d[key] = experts
    for key in _TOPK_KEYS:
        if (has(key) and d[key] > 0) or (key in d and d[key] is None and any(has(k) for k in _EXPERT_KEYS)):
            d[key] = rng.randint(1, min(4, experts))  # a default without top-k (DeepSeek-V2) gets one
    for key in ("moe_intermediate_size", "shared_expert_intermediate_size", "moe_shared_expert_intermediate_size"):
        if has(key) and d[key] > 0:
            d[key] = 16 * rng.randint(2, 8)
    if has("n_shared_experts") and d["n_shared_experts"] > 0:
        d["n_shared_experts"] = rng.randint(1, 2)
    if has("first_k_dense_replace") and d["first_k_dense_replace"] > 0:
        d["first_k_dense_replace"] = rng.randint(0, 1)
    if has("sliding_window") and d["sliding_window"] > 0:
        d["sliding_window"] = rng.choice((16, 64, 4096))
    if old_layers:
        for key in _PER_LAYER_LISTS:
            values = d.get(key)
            if isinstance(values, list) and len(values) == old_layers and values:
                d[key] = [rng.choice(values) for _ in range(layers)]
        pattern = d.get("hybrid_override_pattern")
        if isinstance(pattern, str) and len(pattern) == old_layers:
            d["hybrid_override_pattern"] = "".join(rng.choice(pattern) for _ in range(layers))
        if has("mamba_n_heads") and has("mamba_expand"):  # Mamba-2 heads that tile the new inner width
            inner = d["mamba_expand"] * next(d[k] for k in ("hidden_size", "d_model") if has(k))
            d["mamba_n_heads"] = rng.choice([n for n in (2, 4, 8) if inner % n == 0] or [1])
            if has("mamba_d_head"):
                d["mamba_d_head"] = inner // d["mamba_n_heads"]
            if has("mamba_d_state"):
                d["mamba_d_state"] = rng.choice((16, 32, 64))
        if "attn_layer_indices" in d:  # Bamba: the attention layers among the Mamba-2 ones
            d["attn_layer_indices"] = sorted(rng.sample(range(layers), rng.randint(0, layers // 2)))
        for key in ("mlp_only_layers", "moe_layers"):
            if isinstance(d.get(key), list):
                d[key] = sorted(rng.sample(range(layers), rng.randint(0, layers // 2)))
    return d


def sweep_type(model_type: str) -> dict:
    """Compare the analytic engine with the class for every config of ``model_type``.

    Returns {"matched": n, "refused": [(label, why)], "mismatched": [(label, analytic, class)],
    "unbuildable": [(label, why)]} — a config the class itself cannot build is not a comparison.
    """
    from meta_oracle import meta_total

    from lmscope.core.errors import ConfigError
    from lmscope.core.params import count_parameters
    from lmscope.core.parse import architecture_from_config

    out: dict = {"matched": 0, "refused": [], "mismatched": [], "unbuildable": []}
    try:
        configs = configs_for(model_type)
    except Exception as err:  # noqa: BLE001 - the config class itself cannot make a default
        out["unbuildable"].append(("default", f"{type(err).__name__}"))
        return out
    for label, config in configs:
        try:
            params = count_parameters(architecture_from_config(config))
        except ConfigError as err:
            out["refused"].append((label, str(err)))
            continue
        if params.method != "analytic":
            out["refused"].append((label, params.note or params.method))
            continue
        try:
            expected = meta_total(config)
        except Exception as err:  # noqa: BLE001 - transformers' own defaults are sometimes unbuildable
            out["unbuildable"].append((label, f"{type(err).__name__}: {str(err)[:80]}"))
            continue
        if params.total == expected:
            out["matched"] += 1
        else:
            out["mismatched"].append((label, params.total, expected))
    return out


def main() -> None:
    """Print the sweep's coverage: types matched exactly, refused (exact engine used), unbuildable."""
    import time

    start = time.perf_counter()
    matched, refused, bad, unbuildable = [], [], [], []
    for model_type in model_types():
        result = sweep_type(model_type)
        if result["mismatched"]:
            bad.append((model_type, result["mismatched"]))
        elif result["matched"]:
            matched.append(model_type)
        elif result["refused"]:
            refused.append(model_type)
        else:
            unbuildable.append(model_type)
    total = len(matched) + len(refused) + len(bad) + len(unbuildable)
    print(f"{total} model types with a causal-LM, masked-LM, seq2seq or image-text-to-text head")
    print(f"  matched exactly by the analytic engine: {len(matched)}")
    print(f"  refused by it (exact engine / stored headers used): {len(refused)}")
    print(f"  class not buildable from its own defaults: {len(unbuildable)}")
    print(f"  MISMATCHED (a bug): {len(bad)} {bad}")
    print(f"matched: {' '.join(matched)}")
    print(f"{time.perf_counter() - start:.0f} s")


if __name__ == "__main__":
    main()
