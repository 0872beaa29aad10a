"""Training memory: Korthikanti et al. 2022 activations, ZeRO model states, LoRA/QLoRA.

Expected values are the published formulas written out with the model's
numbers: Table 2 of Korthikanti et al. ("Reducing Activation Recomputation in
Large Transformer Models"), the ZeRO paper's 2 + 2 + K (K = 12) bytes per
parameter and its per-stage partitioning, LoRA's r·(d_in + d_out), QLoRA's
NF4 + double-quantized absmax.
"""

from __future__ import annotations

import json
from functools import cache
from pathlib import Path

import pytest

from lmscope.core.architecture import FFN, Architecture, LayerSpec, Mixer, Objective
from lmscope.core.errors import ConfigError
from lmscope.core.estimate.lora import lora_estimate, lora_trainable_parameters
from lmscope.core.estimate.memory import nf4_bytes
from lmscope.core.estimate.training import (
    layer_activation_bytes,
    model_state_bytes,
    training_activation_bytes,
    training_memory,
)
from lmscope.core.parse import architecture_from_config

CONFIGS = Path(__file__).parent / "fixtures" / "configs"
LLAMA2_7B_TOTAL = 6_738_415_616  # FORMULAS.md, meta-device count


@cache
def arch_of(name: str) -> Architecture:
    return architecture_from_config(json.loads((CONFIGS / name / "config.json").read_text()))


def gpt3_175b() -> Architecture:
    """GPT-3 175B as in Korthikanti et al. Table 3: h 12288, a 96, 96 layers, 4h GeLU MLP, MHA."""
    layers = tuple(LayerSpec(Mixer.FULL, FFN.DENSE) for _ in range(96))
    return Architecture(
        "gpt3", "GPT-3", None, Objective.CAUSAL_LM, 12288, 96, 96, 96, 128, 4 * 12288, 51200, layers,
        activation="gelu", gated_ffn=False, norm="layernorm",
    )


# ---------------------------------------------------------------- Korthikanti Table 2


@pytest.mark.parametrize("s, b", [(2048, 1), (2048, 4), (512, 2)])
def test_korthikanti_table2_standard_layer(s: int, b: int):
    arch = gpt3_175b()
    layer = arch.layers[0]
    h, a = 12288, 96
    # no recomputation: s·b·h·(34 + 5·a·s/h)  (written without division: 34·s·b·h + 5·a·s²·b)
    none = layer_activation_bytes(arch, layer, seq_len=s, micro_batch=b, recompute="none", flash=False)
    assert none == 34 * s * b * h + 5 * a * s * s * b
    # selective recomputation: 34·s·b·h
    assert layer_activation_bytes(arch, layer, seq_len=s, micro_batch=b, recompute="selective") == 34 * s * b * h
    # full recomputation: 2·s·b·h
    assert layer_activation_bytes(arch, layer, seq_len=s, micro_batch=b, recompute="full") == 2 * s * b * h


def test_korthikanti_gpt3_numbers():
    # s = 2048, b = 1: 34 + 5·96·2048/12288 = 34 + 80 = 114 bytes per s·b·h
    arch = gpt3_175b()
    assert layer_activation_bytes(arch, arch.layers[0], seq_len=2048, recompute="none", flash=False) == 2048 * 12288 * 114
    # flash attention drops the a·s² terms (like selective recomputation) and keeps an fp32 LSE per head and query
    flash = layer_activation_bytes(arch, arch.layers[0], seq_len=2048, recompute="none", flash=True)
    assert flash == 2048 * 12288 * 34 + 4 * 96 * 2048


def test_gqa_gated_generalization_llama3_8b():
    arch = arch_of("meta-llama--Llama-3.1-8B")
    h, q, kv, inter = 4096, 32 * 128, 8 * 128, 14336
    # Llama-3.1-8B's config sets attention_dropout 0.0 and names no other dropout: no 1-byte masks,
    # and the eager attention core stores only the 2-byte softmax output (Korthikanti's 5 bytes per
    # score are softmax 2 + dropout mask 1 + dropout output 2).
    assert arch.dropout is False
    attention = 2 * (h + q + kv + kv + q)  # QKV input, Q, K, V, o-proj input (2 bytes)
    mlp = 2 * (h + 4 * inter)  # input, gate, up, act(gate), product (2 bytes)
    norms = 2 * 2 * h
    per_token = attention + mlp + norms
    assert per_token == 176_128 - 2 * h  # the GPT-3-style count with its two 1-byte masks removed
    s = 4096
    assert layer_activation_bytes(arch, arch.layers[0], seq_len=s, recompute="selective") == s * per_token
    assert layer_activation_bytes(arch, arch.layers[0], seq_len=s, recompute="none", flash=False) == (
        s * per_token + 2 * 32 * s * s
    )


def test_whole_model_activations_add_head_and_full_recompute_layer():
    arch = arch_of("meta-llama--Llama-3.1-8B")
    s, b, h, v, heads = 1024, 2, 4096, 128256, 32
    layer_sel = s * b * (176_128 - 2 * h)  # the per-token figure written out in test_gqa_gated_generalization_llama3_8b
    head = s * b * (2 * h * 2 + 4 * v)  # final norm + LM-head inputs, fp32 logits (no dropout: no embedding mask)
    assert training_activation_bytes(arch, seq_len=s, micro_batch=b, recompute="selective") == 32 * layer_sel + head
    one_layer_full = layer_sel + 4 * heads * s * b  # recomputed without flash's a·s² terms, plus its fp32 LSE
    full = training_activation_bytes(arch, seq_len=s, micro_batch=b, recompute="full")
    assert full == 32 * 2 * s * b * h + one_layer_full + head


def test_mamba_layers_have_no_quadratic_term():
    arch = arch_of("state-spaces--mamba-2.8b-hf")
    a = layer_activation_bytes(arch, arch.layers[0], seq_len=1024, recompute="none", flash=False)
    b = layer_activation_bytes(arch, arch.layers[0], seq_len=2048, recompute="none", flash=False)
    assert b == 2 * a  # linear in s


# ---------------------------------------------------------------- ZeRO


def test_mixed_precision_adam_16_bytes():
    p = LLAMA2_7B_TOTAL
    w, g, o = model_state_bytes(p)
    assert (w, g, o) == (2 * p, 2 * p, 12 * p)
    assert w + g + o == 16 * p == 107_814_649_856


@pytest.mark.parametrize("n", [1, 8, 64])
def test_zero_stages_per_gpu(n: int):
    p = LLAMA2_7B_TOTAL  # divisible by 64, so the per-GPU shares are exact
    assert sum(model_state_bytes(p, zero_stage=0, num_gpus=n)) == 16 * p
    assert sum(model_state_bytes(p, zero_stage=1, num_gpus=n)) == 4 * p + 12 * p // n
    assert sum(model_state_bytes(p, zero_stage=2, num_gpus=n)) == 2 * p + 14 * p // n
    assert sum(model_state_bytes(p, zero_stage=3, num_gpus=n)) == 16 * p // n


def test_other_optimizers_and_fp32():
    p = 1000
    assert sum(model_state_bytes(p, optimizer="sgd")) == (2 + 2 + 8) * p
    assert sum(model_state_bytes(p, optimizer="adamw-8bit")) == (2 + 2 + 6) * p
    assert model_state_bytes(p, fp32=True) == (4 * p, 4 * p, 8 * p)  # fp32 weights are the master copy


# Llama-2-7B's stored activation bytes per token (Korthikanti Table 2 generalized as in
# test_gqa_gated_generalization_llama3_8b; its config names no dropout, so no 1-byte masks):
# h 4096, 32 heads of 128 (no GQA), SwiGLU 11008, 2-byte tensors.
LLAMA2_7B_LAYER_PER_TOKEN = 2 * (5 * 4096) + 2 * (4096 + 4 * 11008) + 4 * 4096  # attention, MLP, two norms: 153,600
LLAMA2_7B_OUTSIDE_PER_TOKEN = 2 * 4096 * 2 + 4 * 32000  # final norm + LM-head inputs, fp32 logits


def test_training_memory_breakdown():
    arch = arch_of("meta-llama--Llama-2-7b-hf")
    assert arch.dropout is False
    p, s = LLAMA2_7B_TOTAL, 2048
    t = training_memory(arch, p, seq_len=s, micro_batch=1, zero_stage=3, num_gpus=8, recompute="full")
    # full recomputation: each layer keeps its 2-byte input; one layer at a time is recomputed in full (flash + LSE)
    activations = 32 * 2 * s * 4096 + (s * LLAMA2_7B_LAYER_PER_TOKEN + 4 * 32 * s) + s * LLAMA2_7B_OUTSIDE_PER_TOKEN
    assert t.breakdown() == {"weights": 2 * p // 8, "gradients": 2 * p // 8, "optimizer": 12 * p // 8, "activations": activations}
    assert t.total == 16 * p // 8 + activations


def test_bad_training_settings():
    arch = arch_of("meta-llama--Llama-2-7b-hf")
    with pytest.raises(ConfigError):
        training_memory(arch, 10, seq_len=8, zero_stage=4)
    with pytest.raises(ConfigError):
        training_memory(arch, 10, seq_len=8, optimizer="lion2")
    with pytest.raises(ConfigError):
        training_memory(arch, 10, seq_len=8, recompute="some")


# ---------------------------------------------------------------- LoRA / QLoRA


def test_lora_llama2_7b_rank16():
    arch = arch_of("meta-llama--Llama-2-7b-hf")
    r = 16
    attention = 4 * r * (4096 + 4096)  # q, k, v, o
    mlp = 2 * r * (4096 + 11008) + r * (11008 + 4096)  # gate, up, down
    assert lora_trainable_parameters(arch, r) == 32 * (attention + mlp) == 39_976_960


def test_lora_moe_adapts_every_expert():
    arch = arch_of("mistralai--Mixtral-8x7B-v0.1")
    r = 8
    attention = r * (4096 + 4096) * 2 + r * (4096 + 1024) * 2  # q, o; k, v (8 KV heads × 128)
    experts = 8 * 3 * r * (4096 + 14336)  # 8 experts × (w1, w3, w2)
    assert lora_trainable_parameters(arch, r) == 32 * (attention + experts)


def test_lora_and_qlora_memory_llama2_7b():
    arch = arch_of("meta-llama--Llama-2-7b-hf")
    p, r, s = LLAMA2_7B_TOTAL, 16, 1024
    est = lora_estimate(arch, p, rank=r, seq_len=s, micro_batch=1, recompute="none", flash=True)
    trainable = 39_976_960
    adapters = 16 * trainable  # 2 weight + 2 grad + 12 fp32 Adam per adapter parameter
    # base activations (flash, no recomputation) written out, plus each adapter's rank-r intermediate (7 per layer)
    acts = 32 * (s * LLAMA2_7B_LAYER_PER_TOKEN + 4 * 32 * s) + s * LLAMA2_7B_OUTSIDE_PER_TOKEN + 2 * r * (7 * 32) * s
    assert est.adapter_bytes == adapters
    assert est.activation_bytes == acts
    assert est.lora_bytes == 2 * p + adapters + acts
    # QLoRA: every adapted 4096×4096, 4096×11008 and 11008×4096 matrix in NF4 (double-quantized absmax),
    # embeddings, LM head and norms in 16-bit
    base = 32 * (4 * nf4_bytes(4096 * 4096) + 3 * nf4_bytes(4096 * 11008))
    rest = (2 * 32000 * 4096 + 65 * 4096) * 2
    assert est.base_bytes_nf4 == base + rest
    assert est.qlora_bytes == base + rest + adapters + acts
    assert 3.5e9 < base + rest < 3.9e9  # ~3.6 GB, the figure QLoRA users see for a 7B base


def test_lora_rank_must_be_positive():
    with pytest.raises(ConfigError):
        lora_trainable_parameters(arch_of("meta-llama--Llama-2-7b-hf"), 0)


def test_seq2seq_decoder_layers_add_cross_attention():
    arch = arch_of("google-t5--t5-small")
    assert arch.dropout is True  # dropout_rate 0.1: Korthikanti's masks apply
    h, inner, ff, s = 512, 8 * 64, 2048, 256
    attention = 2 * (h + inner + inner + inner + inner) + h  # input, Q, K, V, o-proj input + dropout mask
    mlp = 2 * (h + 2 * ff) + h  # non-gated ReLU: input, pre- and post-activation + dropout mask
    norms = 2 * 3 * h  # T5 decoder layers hold three norms
    decoder = layer_activation_bytes(arch, arch.layers[0], seq_len=s, recompute="selective", cross_attention=True)
    assert decoder == s * (2 * attention + mlp + norms)


def test_whisper_encoder_activations_use_the_fixed_1500_frames():
    """Whisper's encoder always runs over 1500 frames: its layers' stored activations do not follow seq_len."""
    arch = arch_of("openai--whisper-tiny")
    assert arch.dropout is False  # its config sets dropout, attention_dropout and activation_dropout to 0.0
    h, ffn, enc_layers, frames = 384, 1536, 4, 1500
    attention = 2 * (h + 4 * h)  # input, Q, K, V, o-proj input (fp16); no dropout mask
    mlp = 2 * (h + 2 * ffn)  # non-gated GELU: input, pre- and post-activation; no dropout mask
    norms = 2 * 2 * h  # two LayerNorms per encoder layer
    encoder_layer = frames * (attention + mlp + norms)  # selective recomputation: no score term
    tokens, vocab = 10, 51865
    outside = tokens * (2 * h * 2 + 4 * vocab)  # final norm + head inputs, fp32 logits
    got = training_activation_bytes(arch, seq_len=tokens, recompute="selective", flash=True)
    decoder_layer = tokens * (2 * attention + mlp + 2 * 3 * h)  # self + cross attention, MLP, three LayerNorms
    assert got == 4 * decoder_layer + enc_layers * encoder_layer + outside  # decoder_layers: 4
