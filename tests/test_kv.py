"""KV cache and recurrent state, checked against hand-derived published formulas.

Every expected value below is written from the model's config numbers and
the per-layer formulas vLLM uses (attention K+V: 2·kv_heads·head_dim; MLA
latent: kv_lora_rank + qk_rope_head_dim; MambaStateShapeCalculator for
Mamba-1/Mamba-2/Gated-DeltaNet/short-conv states) — never pasted from our
own output. The real configs are parsed (tests/fixtures/configs), so the
whole chain config → Architecture → bytes is covered.
"""

from __future__ import annotations

import json
from dataclasses import replace
from functools import cache
from pathlib import Path

import pytest

from lmscope.core.architecture import FFN, Architecture, LayerSpec, Mixer, Objective
from lmscope.core.estimate.kv import (
    kv_bytes_per_token,
    kv_cache_bytes,
    kv_estimate,
    kv_per_layer_kind,
    state_bytes,
)
from lmscope.core.parse import architecture_from_config

CONFIGS = Path(__file__).parent / "fixtures" / "configs"


@cache
def arch_of(name: str) -> Architecture:
    return architecture_from_config(json.loads((CONFIGS / name / "config.json").read_text()))


# ---------------------------------------------------------------- full attention


def test_llama2_7b_mha():
    # 32 layers, 32 KV heads (MHA), head_dim 4096/32 = 128, fp16 = 2 bytes
    assert kv_bytes_per_token(arch_of("meta-llama--Llama-2-7b-hf"), "fp16") == 2 * 32 * 128 * 32 * 2 == 524_288


def test_llama3_8b_gqa():
    # 32 layers, 8 KV heads, head_dim 128
    arch = arch_of("meta-llama--Llama-3.1-8B")
    assert kv_bytes_per_token(arch, "bf16") == 2 * 8 * 128 * 32 * 2 == 131_072
    # batch 4 × 8192 tokens, no windows: linear in both
    assert kv_cache_bytes(arch, 8192, 4, "bf16") == 131_072 * 8192 * 4
    # fp8 halves it, fp32 doubles it, int4 quarters it
    assert kv_bytes_per_token(arch, "fp8") == 65_536
    assert kv_bytes_per_token(arch, "fp32") == 262_144
    assert kv_bytes_per_token(arch, "int4") == 32_768


def test_llama2_70b_gqa():
    # 80 layers, 8 KV heads, head_dim 8192/64 = 128
    assert kv_bytes_per_token(arch_of("meta-llama--Llama-2-70b-chat-hf"), "fp16") == 2 * 8 * 128 * 80 * 2 == 327_680


def test_per_layer_kv_head_override():
    # NAS-style layers with their own KV heads: 2 layers × 8 heads + 1 layer × 1 head, head_dim 64
    layers = (
        LayerSpec(Mixer.FULL, FFN.DENSE),
        LayerSpec(Mixer.FULL, FFN.DENSE, num_kv_heads=1),
        LayerSpec(Mixer.NONE, FFN.DENSE),
        LayerSpec(Mixer.FULL, FFN.DENSE),
    )
    arch = Architecture("x", "X", None, Objective.CAUSAL_LM, 512, 4, 8, 8, 64, 1024, 1000, layers)
    assert kv_bytes_per_token(arch, "bf16") == (2 * 8 * 64 * 2 + 2 * 1 * 64 + 0) * 2


# ---------------------------------------------------------------- sliding / chunked


def test_mistral_sliding_window_caps_the_cache():
    arch = arch_of("mistralai--Mistral-7B-v0.1")
    per_token = 2 * 8 * 128 * 32 * 2  # 32 layers, 8 KV heads, head_dim 128, bf16
    assert kv_bytes_per_token(arch, "bf16") == per_token == 131_072
    assert kv_cache_bytes(arch, 1000, 1, "bf16") == per_token * 1000  # under the window
    assert kv_cache_bytes(arch, 32768, 1, "bf16") == per_token * 4096  # capped at sliding_window 4096
    assert kv_cache_bytes(arch, 32768, 3, "bf16") == per_token * 4096 * 3
    assert kv_per_layer_kind(arch, 32768, 1, "bf16") == {"sliding": per_token * 4096}


def test_gemma3_5_to_1():
    arch = arch_of("google--gemma-3-4b-it")
    # Gemma-3-4B text stack: 34 layers; the config leaves heads to Gemma3TextConfig's
    # defaults: 8 heads, 4 KV heads, head_dim 256; sliding_window 1024 from the config;
    # every 6th layer global (5 sliding : 1 full) -> layers 5, 11, 17, 23, 29 full = 5 full, 29 sliding.
    per_layer_token = 2 * 4 * 256 * 2  # 4096 bytes
    assert kv_bytes_per_token(arch, "bf16") == per_layer_token * 34 == 139_264
    seq = 32768
    expected_sliding = 29 * per_layer_token * 1024
    expected_full = 5 * per_layer_token * seq
    assert kv_per_layer_kind(arch, seq, 1, "bf16") == {"sliding": expected_sliding, "full": expected_full}
    assert kv_cache_bytes(arch, seq, 1, "bf16") == 121_634_816 + 671_088_640 == 792_723_456
    # hf-mem's mistake (every layer at full context) would be 4.5 GiB; ours is 5.7x smaller
    assert per_layer_token * 34 * seq / kv_cache_bytes(arch, seq, 1, "bf16") > 5


def test_gpt_oss_alternating_window_128():
    arch = arch_of("openai--gpt-oss-20b")
    # 24 layers, 1:1 sliding(128):full, 8 KV heads, head_dim 64
    per_layer_token = 2 * 8 * 64 * 2  # 2048 bytes
    assert kv_bytes_per_token(arch, "bf16") == per_layer_token * 24 == 49_152
    assert kv_cache_bytes(arch, 4096, 1, "bf16") == 12 * per_layer_token * 128 + 12 * per_layer_token * 4096
    assert kv_cache_bytes(arch, 100, 1, "bf16") == 24 * per_layer_token * 100  # shorter than the window


def test_llama4_chunked_attention():
    arch = arch_of("meta-llama--Llama-4-Scout-17B-16E-Instruct")
    # 48 layers: every 4th global (12), the other 36 chunked at attention_chunk_size 8192; 8 KV heads × 128
    per_layer_token = 2 * 8 * 128 * 2
    assert kv_bytes_per_token(arch, "bf16") == per_layer_token * 48
    seq = 131072
    assert kv_cache_bytes(arch, seq, 1, "bf16") == 36 * per_layer_token * 8192 + 12 * per_layer_token * seq


# ---------------------------------------------------------------- MLA


def test_deepseek_v3_mla_latent():
    arch = arch_of("deepseek-ai--DeepSeek-V3")
    # kv_lora_rank 512 + qk_rope_head_dim 64 = 576 elements per layer, 61 layers, bf16
    assert kv_bytes_per_token(arch, "bf16") == 576 * 61 * 2 == 70_272
    assert kv_cache_bytes(arch, 4096, 2, "bf16") == 70_272 * 4096 * 2
    est = kv_estimate(arch, seq_len=16, kv_dtype="bf16")
    assert any("MLA" in n and "vLLM" in n for n in est.notes)
    # not transformers' eager layout, which caches every head's full K (nope + rope) and V per layer: 71x more
    raw = json.loads((CONFIGS / "deepseek-ai--DeepSeek-V3" / "config.json").read_text())
    eager_per_layer = raw["num_attention_heads"] * (raw["qk_nope_head_dim"] + raw["qk_rope_head_dim"] + raw["v_head_dim"])
    assert kv_bytes_per_token(arch, "bf16") * 71 < eager_per_layer * raw["num_hidden_layers"] * 2


def test_deepseek_v32_indexer_keys_are_cached_beside_the_latent():
    arch = arch_of("deepseek-ai--DeepSeek-V3.2")
    raw = json.loads((CONFIGS / "deepseek-ai--DeepSeek-V3.2" / "config.json").read_text())
    latent = raw["kv_lora_rank"] + raw["qk_rope_head_dim"]  # 512 + 64
    indexer_key = raw["index_head_dim"]  # the lightning indexer's k cache (transformers: update_indexer)
    layers = raw["num_hidden_layers"]
    assert (latent, indexer_key, layers) == (576, 128, 61)
    assert kv_bytes_per_token(arch, "bf16") == (576 + 128) * 61 * 2 == 85_888
    # the indexer scores every cached token, so nothing is capped at index_topk
    assert kv_cache_bytes(arch, 8192, 3, "bf16") == (576 + 128) * 61 * 2 * 8192 * 3


# ---------------------------------------------------------------- state-space / hybrid


def test_qwen3_next_hybrid_only_full_layers_hold_kv():
    arch = arch_of("Qwen--Qwen3-Next-80B-A3B-Thinking")
    # 48 layers, full_attention_interval 4 -> 12 full-attention layers; 2 KV heads × head_dim 256
    assert kv_bytes_per_token(arch, "bf16") == 2 * 2 * 256 * 12 * 2 == 24_576
    # 36 Gated-DeltaNet layers (vLLM gated_delta_net_state_shape, conv kernel 4):
    #   conv (4-1)·(2·16·128 + 32·128) = 3·8192 = 24,576 ; recurrent 32·128·128 = 524,288
    per_layer = 3 * (2 * 16 * 128 + 32 * 128) + 32 * 128 * 128
    assert per_layer == 548_864
    assert state_bytes(arch, 1, "bf16") == 36 * per_layer * 2 == 39_518_208
    assert state_bytes(arch, 8, "bf16") == 39_518_208 * 8
    # state does not grow with the context; the KV cache does
    assert kv_estimate(arch, seq_len=1000, compute_dtype="bf16").state_bytes == kv_estimate(
        arch, seq_len=100_000, compute_dtype="bf16"
    ).state_bytes


def test_nemotron3_nano_mamba2_hybrid():
    arch = arch_of("nvidia--NVIDIA-Nemotron-3-Nano-30B-A3B-BF16")
    # hybrid_override_pattern: 23 'M' (Mamba-2), 6 '*' (attention), 23 'E' (MoE)
    assert arch.layer_counts()["mamba2"] == 23 and arch.layer_counts()["full"] == 6
    # attention: 2 KV heads × head_dim 128
    assert kv_bytes_per_token(arch, "bf16") == 2 * 2 * 128 * 6 * 2 == 6_144
    # Mamba-2 (vLLM mamba2_state_shape, intermediate = mamba_num_heads·mamba_head_dim = 64·64 = 4096):
    #   conv (4-1)·(4096 + 2·8·128) = 18,432 ; ssm 64·64·128 = 524,288
    conv, ssm = 3 * (4096 + 2 * 8 * 128), 64 * 64 * 128
    # the config's mamba_ssm_cache_dtype float32 keeps the SSM part in fp32 (vLLM's rule), conv in bf16
    assert arch.ssm.state_dtype == "float32"
    assert state_bytes(arch, 1, "bf16") == 23 * (conv * 2 + ssm * 4) == 49_082_368
    # without it, both parts follow the compute dtype
    arch16 = replace(arch, ssm=replace(arch.ssm, state_dtype=None))
    assert state_bytes(arch16, 1, "bf16") == 23 * (conv + ssm) * 2


def _hf_default(model_type: str, **overrides) -> dict:
    """transformers' config class defaults for ``model_type`` (with ``overrides``), as a config.json holds them."""
    from transformers import CONFIG_MAPPING

    data = CONFIG_MAPPING[model_type](**overrides).to_dict()
    data["model_type"] = model_type
    return data


def test_bamba_mamba2_hybrid():
    """Bamba (ibm-ai-platform/Bamba-9B's shape: transformers' defaults) with attention at three layers."""
    c = _hf_default("bamba", attn_layer_indices=[9, 18, 27])
    arch = architecture_from_config(c)
    assert arch.layer_counts()["full"] == 3 and arch.layer_counts()["mamba2"] == 29
    # attention: 2 · num_key_value_heads · head_dim per layer
    head_dim = c["hidden_size"] // c["num_attention_heads"]
    assert kv_bytes_per_token(arch, "bf16") == 3 * 2 * c["num_key_value_heads"] * head_dim * 2
    # vLLM mamba2_state_shape: conv (d_conv-1)·(inner + 2·groups·state), ssm heads·head_dim·state
    inner = c["mamba_expand"] * c["hidden_size"]
    conv = (c["mamba_d_conv"] - 1) * (inner + 2 * c["mamba_n_groups"] * c["mamba_d_state"])
    ssm = c["mamba_n_heads"] * c["mamba_d_head"] * c["mamba_d_state"]
    assert state_bytes(arch, 1, "bf16") == 29 * (conv + ssm) * 2
    assert state_bytes(arch, 4, "fp32") == 29 * (conv + ssm) * 4 * 4


def test_granitemoe_hybrid_mamba2_layers_and_positionless_attention():
    types = ["mamba", "mamba", "mamba", "attention"] * 10
    c = _hf_default("granitemoehybrid", num_hidden_layers=40, layer_types=types, num_key_value_heads=8)
    arch = architecture_from_config(c)
    assert arch.layer_counts()["full"] == 10 and arch.layer_counts()["mamba2"] == 30
    assert arch.position_encoding == "none"  # position_embedding_type is not "rope"
    head_dim = c["hidden_size"] // c["num_attention_heads"]
    assert kv_bytes_per_token(arch, "bf16") == 10 * 2 * 8 * head_dim * 2
    inner = c["mamba_expand"] * c["hidden_size"]
    conv = (c["mamba_d_conv"] - 1) * (inner + 2 * c["mamba_n_groups"] * c["mamba_d_state"])
    ssm = c["mamba_n_heads"] * c["mamba_d_head"] * c["mamba_d_state"]
    assert state_bytes(arch, 1, "bf16") == 30 * (conv + ssm) * 2


def test_deepseek_v2_caches_the_mla_latent():
    """DeepSeek-V2 (transformers' defaults, top-k set): vLLM's MLA cache holds kv_lora_rank + qk_rope_head_dim per
    token and layer, one "head"."""
    c = _hf_default("deepseek_v2", num_experts_per_tok=6)
    arch = architecture_from_config(c)
    assert kv_bytes_per_token(arch, "bf16") == c["num_hidden_layers"] * (c["kv_lora_rank"] + c["qk_rope_head_dim"]) * 2


def test_mamba_2p8b_no_kv_only_state():
    arch = arch_of("state-spaces--mamba-2.8b-hf")
    assert kv_bytes_per_token(arch, "fp32") == 0
    assert kv_cache_bytes(arch, 100_000, 4, "fp32") == 0
    # Mamba-1 (vLLM mamba1_state_shape): conv (4-1)·5120, ssm 5120·16, 64 layers
    per_layer = 3 * 5120 + 5120 * 16
    assert state_bytes(arch, 1, "fp32") == 64 * per_layer * 4 == 24_903_680
    assert state_bytes(arch, 2, "bf16") == 64 * per_layer * 2 * 2


def test_lfm2_short_conv_state():
    arch = arch_of("mlx-community--LFM2-1.2B-4bit")
    # 6 full-attention layers (8 KV heads × 64), 10 conv layers with conv_L_cache 3, conv_dim 2048
    assert kv_bytes_per_token(arch, "bf16") == 2 * 8 * 64 * 6 * 2 == 12_288
    assert state_bytes(arch, 1, "bf16") == 10 * (3 - 1) * 2048 * 2 == 81_920


# ---------------------------------------------------------------- encoder-only / seq2seq


def test_encoder_only_has_no_kv():
    for name in ("google-bert--bert-base-uncased", "FacebookAI--roberta-base", "sentence-transformers--all-MiniLM-L6-v2"):
        arch = arch_of(name)
        est = kv_estimate(arch, seq_len=512, kv_dtype="fp32")
        assert est.bytes_per_token == 0 and est.cache_bytes == 0 and est.per_layer_kind == {}
        assert any("encoder-only" in n for n in est.notes)


def test_t5_small_self_plus_cross_attention():
    arch = arch_of("google-t5--t5-small")
    # 6 decoder layers, 8 heads × d_kv 64: self-attn K+V 2·8·64 per layer per decoder token,
    # cross-attn K+V 2·8·64 per layer per encoder token (encoder length assumed = seq_len), fp32
    self_attn = 2 * 8 * 64 * 6
    cross = 2 * 8 * 64 * 6
    assert kv_bytes_per_token(arch, "fp32") == (self_attn + cross) * 4 == 49_152
    assert kv_per_layer_kind(arch, 512, 2, "fp32") == {"full": self_attn * 512 * 2 * 4, "cross": cross * 512 * 2 * 4}
    assert any("cross-attention" in n for n in kv_estimate(arch, seq_len=8).notes)


def test_whisper_tiny_decoder_cache():
    arch = arch_of("openai--whisper-tiny")
    # 4 decoder layers, d_model 384, 6 heads (head_dim 64): self + cross
    assert kv_bytes_per_token(arch, "fp16") == (2 * 384 * 4 + 2 * 384 * 4) * 2


def test_whisper_cross_cache_holds_the_fixed_1500_encoder_frames():
    arch = arch_of("openai--whisper-tiny")
    raw = json.loads((CONFIGS / "openai--whisper-tiny" / "config.json").read_text())
    frames, layers, d = raw["max_source_positions"], raw["decoder_layers"], raw["d_model"]
    assert (frames, layers, d) == (1500, 4, 384)
    # Whisper pads audio to 30 s: the encoder output (and the cross-attention K/V cached from it)
    # is always 1500 positions, whatever the decoder length; self-attention grows with the decoder.
    for seq, batch in ((1, 1), (448, 3), (8192, 2)):
        kinds = kv_per_layer_kind(arch, seq, batch, "fp16")
        assert kinds == {"full": 2 * d * layers * seq * batch * 2, "cross": 2 * d * layers * frames * batch * 2}
        assert kv_cache_bytes(arch, seq, batch, "fp16") == sum(kinds.values())
    assert any("1500" in n for n in kv_estimate(arch, seq_len=8).notes)


def test_int4_kv_rounds_up_once():
    arch = arch_of("meta-llama--Llama-3.1-8B")
    # 65,536 elements per token at 4 bits; 3 tokens -> 98,304 bytes exactly
    assert kv_cache_bytes(arch, 3, 1, "int4") == 2 * 8 * 128 * 32 * 3 // 2


@pytest.mark.slow  # imports transformers (~3 s on a shared 2-core machine)
def test_layer_maps_against_transformers_configs():
    """Oracle: transformers' own config classes say which layers slide, which are linear, and their sizes.

    KV at 32k tokens is recomputed from *their* layer_types / num_key_value_heads /
    head_dim / sliding_window with vLLM's per-layer formula and compared with ours.
    """
    import transformers
    seq = 32768
    for name in ("google--gemma-3-4b-it", "openai--gpt-oss-20b", "Qwen--Qwen3-Next-80B-A3B-Thinking"):
        raw = json.loads((CONFIGS / name / "config.json").read_text())
        text = raw.get("text_config", raw)
        cfg = transformers.CONFIG_MAPPING[text["model_type"]].from_dict(text)
        per_layer_token = 2 * cfg.num_key_value_heads * cfg.head_dim * 2  # bf16
        expected = 0
        for kind in cfg.layer_types:
            if kind == "full_attention":
                expected += per_layer_token * seq
            elif kind == "sliding_attention":
                expected += per_layer_token * min(seq, cfg.sliding_window)
        assert kv_cache_bytes(arch_of(name), seq, 1, "bf16") == expected, name
