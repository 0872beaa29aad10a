"""The deployment planner against hand derivations and published figures (each cited where used).

Expected values are written from config numbers, vendor datasheets and the
formulas of the engines/papers named beside them — never pasted from our
own output. Models come from the genuine configs in tests/fixtures/configs
(gemma-3-27b-it: the google/gemma-3-27b-it config.json as NVIDIA's
TensorRT-LLM Gemma-3 test reproduces it (tests/unittest/_torch/modeling/
test_modeling_gemma3.py GEMMA3_27B_MINI_CONFIG, with the 62 layers and the
1024-token window its own comments restore); gpt-oss-120b: ai-dynamo/
aiconfigurator's copy of openai/gpt-oss-120b's config.json).
"""

from __future__ import annotations

import json
import math
from dataclasses import replace
from functools import cache
from pathlib import Path

import pytest

from lmscope.core.estimate.flops import flops
from lmscope.core.estimate.training import (
    deepspeed_model_states,
    largest_module_parameters,
    model_state_bytes,
)
from lmscope.core.hardware import GIB, get_accelerator
from lmscope.core.params import count_parameters
from lmscope.core.parse import architecture_from_config, config_has_dropout
from lmscope.core.plan import PlanRequest, fits_at, make_plan
from lmscope.core.plan.facts import model_facts
from lmscope.core.plan.memory import plan_memory
from lmscope.core.results import Settings

CONFIGS = Path(__file__).parent / "fixtures" / "configs"


@cache
def model(name: str):
    arch = architecture_from_config(json.loads((CONFIGS / name / "config.json").read_text()))
    return arch, count_parameters(arch)


def plan(name: str, gpu: str, **kw):
    arch, params = model(name)
    memory = kw.pop("gpu_memory", None)
    return make_plan(arch, params, PlanRequest(**kw), get_accelerator(gpu, memory_bytes=memory), model_id=name)


# published class counts (FORMULAS.md: meta-device transformers oracle)
LLAMA2_7B = 6_738_415_616
LLAMA31_8B = 8_030_261_248
MIXTRAL = 46_702_792_704
DEEPSEEK_V3 = 671_026_404_352


# ------------------------------------------------------------------ the Checks list: other tools' failures


def test_gemma3_27b_at_128k_caps_its_sliding_layers():
    # hf-mem/peers print ~67 GB of bf16 KV for Gemma-3-27B at 128k; the sliding layers hold 1024 tokens.
    # 62 layers, pattern 6 -> 10 global + 52 sliding; 2 · 16 KV heads · 128 · 2 B = 8192 B per token and layer.
    p = plan("google--gemma-3-27b-it", "h100", seq_len=131072, dtype="bf16")
    expected = 10 * 131072 * 8192 + 52 * 1024 * 8192
    assert p.memory.kv_cache_bytes == expected
    assert expected / 1e9 == pytest.approx(11.2, abs=0.1)  # "about 11 GB", not 62 · 131072 · 8192 = 66.6 GB
    assert 62 * 131072 * 8192 / 1e9 == pytest.approx(66.6, abs=0.1)


def test_gpt_oss_120b_alternating_window():
    # 36 layers alternating sliding (128 tokens) and full; 2 · 8 · 64 · 2 B = 2048 B per token and layer.
    p = plan("openai--gpt-oss-120b", "h100", seq_len=131072)
    assert p.memory.kv_cache_bytes == 18 * 131072 * 2048 + 18 * 128 * 2048
    # MXFP4 experts: the 117B model fits one 80 GB card (OpenAI's gpt-oss model card: "runs on a single 80 GB GPU")
    assert p.fits


def test_deepseek_v3_on_one_24gb_card_does_not_fit():
    # A peer printed 22 GB for DeepSeek-V3 at int4; 671 B parameters at 4 bits are 335 GB before anything else.
    p = plan("deepseek-ai--DeepSeek-V3", "rtx4090", dtype="int4")
    assert not p.fits
    assert p.memory.weights_bytes > DEEPSEEK_V3 // 2
    assert p.max_seq_len is None and p.max_batch is None
    assert p.split is not None and p.split.cpu_layers > 50  # most layers must stay in RAM


def test_qwen3_moe_int4_total_for_memory_active_for_speed():
    p = plan("Qwen--Qwen3-30B-A3B", "rtx4090", dtype="int4", seq_len=4096)
    arch, params = model("Qwen--Qwen3-30B-A3B")
    facts = model_facts(arch, params, "int4", None)
    assert p.memory.weights_bytes == facts.weights_bytes  # all 128 experts are resident
    # decode at batch 1 reads the dense part plus 8 of 128 experts per layer (+ the KV cache)
    expected = facts.weights_bytes - facts.expert_bytes + facts.expert_bytes * 8 / 128 + p.memory.kv_cache_bytes
    assert p.roofline.decode_bytes_per_gpu == pytest.approx(expected, rel=1e-6)
    assert p.roofline.decode_bytes_per_gpu < facts.weights_bytes / 3


def test_mlx_4bit_32b_is_about_18gb_not_131gb():
    # mlx-community 4-bit conversion of Qwen3-32B: the genuine Qwen3-32B config (the Qwen3-32B-FP8 fixture without
    # its fp8 block) plus the quantization block mlx_lm writes (as in the mlx-community/Qwen3-8B-4bit fixture).
    config = json.loads((CONFIGS / "Qwen--Qwen3-32B-FP8" / "config.json").read_text())
    config.pop("quantization_config")
    config["quantization"] = config["quantization_config"] = {"group_size": 64, "bits": 4, "mode": "affine"}
    arch = architecture_from_config(config)
    params = count_parameters(arch)
    p = make_plan(arch, params, PlanRequest(), get_accelerator("m4-max"))
    # 4 bits + a 16-bit scale and bias per 64 weights = 4.5 bits per weight (MLX affine quantization)
    assert p.memory.weights_bytes == pytest.approx(params.total * 4.5 / 8, rel=0.01)
    assert 15e9 < p.memory.weights_bytes < 19e9  # the peer's 131 GB is the fp32 size: 4 · 32.8e9
    assert p.fits


def test_a_9b_at_262k_versus_8k():
    # GLM-4-9B: 40 layers x 2 KV heads x 128 x 2 (K, V) x 2 B = 40,960 B per token.
    at_262k = plan("THUDM--glm-4-9b-chat", "rtx4090", dtype="bf16", seq_len=262144)
    at_8k = plan("THUDM--glm-4-9b-chat", "rtx4090", dtype="bf16", seq_len=8192)
    assert at_262k.memory.kv_cache_bytes == 262144 * 40960
    assert at_8k.memory.kv_cache_bytes == 8192 * 40960
    assert at_8k.fits and not at_262k.fits
    assert at_8k.max_seq_len < 262144


# ------------------------------------------------------------------ published / hand-derived deployments


def test_llama2_70b_bf16_on_one_vs_two_80gb_cards():
    # 68,976,648,192 parameters x 2 B = 138 GB: not on one 80 GB card, ~69 GB each on two (TP 2)
    one = plan("meta-llama--Llama-2-70b-chat-hf", "h100", dtype="bf16")
    two = plan("meta-llama--Llama-2-70b-chat-hf", "h100", dtype="bf16", count=2)
    assert not one.fits and two.fits
    assert two.memory.weights_bytes == pytest.approx(68_976_648_192, rel=1e-6)  # half of 2 B/param
    assert "--tensor-parallel-size 2" in two.commands["vllm"]
    assert one.serving.tp_needed == 2


def test_mixtral_bf16_vs_int4_on_one_80gb_card():
    bf16 = plan("mistralai--Mixtral-8x7B-v0.1", "h100", dtype="bf16")
    int4 = plan("mistralai--Mixtral-8x7B-v0.1", "h100", dtype="int4")
    assert bf16.memory.weights_bytes == 2 * MIXTRAL  # 93.4 GB > 80 GiB
    assert not bf16.fits and int4.fits
    assert int4.memory.weights_bytes < 26e9  # ~4.16 bits on the matrices, embeddings and head 16-bit


def test_deepseek_v3_fp8_on_8_h200_but_not_bf16_on_8_h100():
    fp8 = plan("deepseek-ai--DeepSeek-V3", "h200", count=8)  # the checkpoint's own fp8 with 128x128 block scales
    bf16 = plan("deepseek-ai--DeepSeek-V3", "h100", count=8, dtype="bf16")
    assert fp8.fits and not bf16.fits
    assert fp8.memory.weights_bytes == pytest.approx(DEEPSEEK_V3 / 8, rel=0.03)  # ~1 B/param over 8 GPUs
    assert bf16.memory.weights_bytes == pytest.approx(2 * DEEPSEEK_V3 / 8, rel=1e-3)  # 168 GB > 80 GB per GPU


def test_llama2_7b_qlora_fits_24gb_full_finetune_does_not():
    qlora = plan("meta-llama--Llama-2-7b-hf", "rtx4090", mode="qlora", seq_len=2048, recompute="full")
    full = plan("meta-llama--Llama-2-7b-hf", "rtx4090", mode="training", seq_len=2048, recompute="full")
    assert qlora.fits and not full.fits
    # DeepSpeed ZeRO-0 bookkeeping: 20 B/param of model states = 135 GB
    assert full.training["model_states_bytes"] == 20 * LLAMA2_7B
    assert full.training["paper_model_states_bytes"] == 16 * LLAMA2_7B


def test_qlora_paper_65b_on_48gb():
    # Dettmers et al. 2023: QLoRA finetunes a 65B model on a single 48 GB GPU (r = 64 on every linear layer,
    # gradient checkpointing). LLaMA-65B's config (huggyllama/llama-65b, transformers 4.28 conversion).
    config = {"architectures": ["LlamaForCausalLM"], "hidden_size": 8192, "intermediate_size": 22016,
              "max_position_embeddings": 2048, "model_type": "llama", "num_attention_heads": 64,
              "num_hidden_layers": 80, "rms_norm_eps": 1e-05, "tie_word_embeddings": False,
              "torch_dtype": "float16", "vocab_size": 32000}
    arch = architecture_from_config(config)
    params = count_parameters(arch)
    req = PlanRequest(mode="qlora", lora_rank=64, seq_len=512, recompute="full")
    p = make_plan(arch, params, req, get_accelerator(None, memory_bytes=48 * GIB))
    assert p.fits
    # r·(d_in + d_out) per matrix: 4 attention (8192 -> 8192), gate/up (8192 -> 22016), down, over 80 layers
    per_layer = 64 * (4 * 2 * 8192 + 3 * (8192 + 22016))
    assert p.training["trainable_parameters"] == 80 * per_layer  # ~0.8 B: Guanaco-65B's 3.2 GB fp32 adapter
    assert 32e9 < p.memory.weights_bytes < 36e9  # NF4 + double-quantized absmax, embeddings/head 16-bit
    lora16 = make_plan(arch, params, replace(req, mode="lora"), get_accelerator(None, memory_bytes=48 * GIB))
    assert not lora16.fits  # 16-bit LoRA needs the 130 GB base


def test_deepspeed_estimator_llama2_7b_zero2_zero3_on_8_gpus():
    # deepspeed/runtime/zero/stage_1_and_2.py estimate_zero2_model_states_mem_needs (no offload):
    #   gpu_mem = 2 * total_params + int(18 * total_params / total_gpus)
    # deepspeed/runtime/zero/stage3.py estimate_zero3_model_states_mem_needs (no offload):
    #   gpu_mem = 4 * largest_layer_params + int(18 * total_params / total_gpus)
    psi, n = LLAMA2_7B, 8
    largest = 32000 * 4096  # embed_tokens (lm_head is as large) — the module DeepSpeed's _all_live scan finds
    arch, _ = model("meta-llama--Llama-2-7b-hf")
    assert largest_module_parameters(arch) == largest
    z2 = sum(deepspeed_model_states(psi, largest, zero_stage=2, num_gpus=n))
    z3 = sum(deepspeed_model_states(psi, largest, zero_stage=3, num_gpus=n))
    assert z2 == pytest.approx(2 * psi + int(18 * psi / n), abs=8)
    assert z3 == pytest.approx(4 * largest + int(18 * psi / n), abs=8)
    assert z2 / 2**30 == pytest.approx(26.67, abs=0.01)
    assert z3 / 2**30 == pytest.approx(14.61, abs=0.01)
    # the paper's 2 + 14/N and 16/N per parameter, shown beside: DeepSpeed allocates 13-16 % more
    paper2 = sum(model_state_bytes(psi, zero_stage=2, num_gpus=n))
    paper3 = sum(model_state_bytes(psi, zero_stage=3, num_gpus=n))
    assert paper2 == pytest.approx(3.75 * psi, abs=8) and paper3 == pytest.approx(2 * psi, abs=8)
    assert 1.12 < z2 / paper2 < 1.14 and 1.15 < z3 / paper3 < 1.17
    p = plan("meta-llama--Llama-2-7b-hf", "h100", mode="training", zero=3, count=8)
    assert p.training["model_states_bytes"] == z3


def test_largest_module_of_fused_moe_experts_matches_the_meta_class():
    # transformers >= 5 fuses a layer's experts into one module: 8 x 3 x 4096 x 14336 for Mixtral.
    import torch
    from transformers import AutoConfig, AutoModelForCausalLM

    name = "mistralai--Mixtral-8x7B-v0.1"
    cfg = AutoConfig.from_pretrained(CONFIGS / name)
    with torch.device("meta"):
        m = AutoModelForCausalLM.from_config(cfg)
    oracle = max(sum(p.numel() for p in mod.parameters(recurse=False)) for mod in m.modules())
    assert largest_module_parameters(model(name)[0]) == oracle


def test_decode_roofline_llama31_8b_h100_about_200_tokens_per_s():
    # Bandwidth-bound decode: every bf16 weight (2 · 8,030,261,248 B) plus 4096 tokens of KV
    # (32 layers · 2 · 8 · 128 · 2 B = 131,072 B per token) read once per token at 3.35 TB/s.
    p = plan("meta-llama--Llama-3.1-8B", "h100", seq_len=4096)
    expected = 3.35e12 / (2 * LLAMA31_8B + 4096 * 131072)
    assert p.roofline.bound == "memory"
    assert p.roofline.decode_tokens_per_s == pytest.approx(expected, rel=1e-3)
    assert p.roofline.decode_tokens_per_s == pytest.approx(200, rel=0.02)
    assert p.roofline.machine_balance == pytest.approx(989.4e12 / 3.35e12)
    eff = plan("meta-llama--Llama-3.1-8B", "h100", seq_len=4096, efficiency=0.5).to_dict()["roofline"]
    assert eff["decode_tokens_per_s"] == pytest.approx(expected, rel=1e-3)  # the pure bound stays as it is
    assert eff["with_efficiency"]["decode_tokens_per_s"] == pytest.approx(expected / 2, rel=1e-3)


def test_mla_decode_uses_absorbed_attention_over_the_latent():
    # DeepSeek-V3 (config): 61 MLA layers, 128 heads, kv_lora_rank 512, qk_rope_head_dim 64.
    # Absorbed decode per layer and cached token: scores q_abs · [c_kv; k_rope] over 512 + 64 per head,
    # values over the 512-wide latent: 2 · 128 · (512 + 64) + 2 · 128 · 512 FLOPs = 2 · 128 · 1088.
    # The decompressed path would be 2 · 128 · (192 + 128) — 70 % lower (the DeepSeek-V3 figure).
    arch, params = model("deepseek-ai--DeepSeek-V3")
    d1 = flops(arch, params, Settings(seq_len=1024)).decode_per_token
    d2 = flops(arch, params, Settings(seq_len=32768)).decode_per_token
    assert d2 - d1 == 61 * 2 * (32768 - 1024) * 128 * (2 * 512 + 64)
    assert 1 - (192 + 128) / 1088 == pytest.approx(0.706, abs=1e-3)
    # the bytes the same step reads per cached token are the latent we size: 61 · 576 · 2 B
    p = plan("deepseek-ai--DeepSeek-V3", "h200", count=8, seq_len=32768)
    assert p.memory.kv_cache_bytes == 61 * 576 * 2 * 32768


# ------------------------------------------------------------------ parallelism rules


def test_kv_heads_split_by_tp_and_replicated_beyond():
    base = plan("meta-llama--Llama-3.1-8B", "h100", seq_len=8192).memory.kv_cache_bytes
    assert base == 8192 * 131072
    assert plan("meta-llama--Llama-3.1-8B", "h100", seq_len=8192, count=2).memory.kv_cache_bytes == base // 2
    # 8 KV heads over TP 16: one (replicated) head per GPU, i.e. 1/8 of the cache, not 1/16
    assert plan("meta-llama--Llama-3.1-8B", "h100", seq_len=8192, count=16).memory.kv_cache_bytes == base // 8
    # an MLA latent is cached whole on every TP rank
    one = plan("deepseek-ai--DeepSeek-V3", "h200", count=8, seq_len=8192).memory.kv_cache_bytes
    assert one == 61 * 576 * 2 * 8192


def test_expert_parallel_splits_experts_and_pipeline_splits_layers():
    arch, params = model("mistralai--Mixtral-8x7B-v0.1")
    facts = model_facts(arch, params, "bf16", None)
    hw = get_accelerator("h100")
    ep = plan_memory(facts, PlanRequest(dtype="bf16", count=8, tp=1, ep=8), hw, 4096, 1)
    assert ep.weights_bytes == pytest.approx(facts.layer_bytes + facts.expert_bytes / 8 + facts.edge_bytes, rel=1e-9)
    pp = plan_memory(facts, PlanRequest(dtype="bf16", count=2, tp=1, pp=2), hw, 4096, 1)
    assert pp.kv_cache_bytes == 4096 * 131072 // 2  # 16 of 32 layers on the fullest stage


def test_multi_gpu_memory_is_never_pooled():
    # 4 x 24 GB cards do not hold a 70B bf16 model even though 96 GB > 92 GB... of KV-free weights per card
    p = plan("meta-llama--Llama-2-70b-chat-hf", "rtx4090", dtype="bf16", count=4)
    assert p.memory.weights_bytes == pytest.approx(2 * 68_976_648_192 / 4, rel=1e-6)
    assert not p.fits  # 34.5 GB per card > 24 GiB


# ------------------------------------------------------------------ vLLM's start-up accounting


def test_vllm_accounting_and_its_inverse():
    p = plan("meta-llama--Llama-3.1-8B", "h100", seq_len=32768, batch=4, count=2)
    sv = p.serving
    assert sv.budget_bytes == int(0.9 * 80 * GIB)  # a fraction of TOTAL memory, per GPU
    assert sv.kv_pool_bytes == (sv.budget_bytes - sv.weights_bytes - sv.non_torch_bytes
                                - sv.activation_peak_bytes - sv.cuda_graph_bytes)
    assert sv.kv_bytes_per_request == 32768 * 131072 // 2  # this GPU's 4 of the 8 KV heads
    assert sv.max_concurrency == pytest.approx(sv.kv_pool_bytes / sv.kv_bytes_per_request)
    fixed = sv.weights_bytes + sv.non_torch_bytes + sv.activation_peak_bytes + sv.cuda_graph_bytes
    assert sv.utilization_needed == pytest.approx((fixed + 4 * sv.kv_bytes_per_request) / (80 * GIB))


# ------------------------------------------------------------------ the solver shares the verdict's memory function


EDGE_CASES = [
    ("meta-llama--Llama-3.1-8B", "rtx4090", {}),  # dense
    ("mistralai--Mixtral-8x7B-v0.1", "h100", {"dtype": "int4"}),  # MoE
    ("deepseek-ai--DeepSeek-V3", "h200", {"count": 8}),  # MLA
    ("Qwen--Qwen3-Next-80B-A3B-Thinking", "h100", {"count": 4}),  # hybrid: Gated-DeltaNet + attention
    ("nvidia--NVIDIA-Nemotron-3-Nano-30B-A3B-BF16", "h100", {}),  # hybrid: Mamba-2 + attention + MoE
    ("google--gemma-3-27b-it", "h100", {}),  # sliding windows (54.9 GB of bf16 weights: not on a 48 GB L40S)
    ("meta-llama--Llama-2-7b-hf", "h100", {"mode": "training", "zero": 3, "count": 8}),
    ("meta-llama--Llama-2-7b-hf", "rtx4090", {"mode": "qlora", "recompute": "full"}),
]


@pytest.mark.parametrize(("name", "gpu", "kw"), EDGE_CASES)
def test_solved_limits_fit_at_the_answer_and_fail_one_step_beyond(name, gpu, kw):
    p = plan(name, gpu, **kw)
    facts, req, hw = p.facts, p.request, p.hardware
    assert p.max_seq_len is not None and p.max_batch is not None, "these plans all fit something"
    assert fits_at(facts, req, hw, p.max_seq_len, req.batch)
    assert not fits_at(facts, req, hw, p.max_seq_len + 1, req.batch)
    assert fits_at(facts, req, hw, req.seq_len, p.max_batch)
    assert not fits_at(facts, req, hw, req.seq_len, p.max_batch + 1)
    assert p.fits == fits_at(facts, req, hw, req.seq_len, req.batch)
    assert p.fits == (req.seq_len <= p.max_seq_len)


def test_split_points_when_it_does_not_fit():
    p = plan("mistralai--Mixtral-8x7B-v0.1", "rtx4090", dtype="int4")
    s = p.split
    assert s is not None and s.gpu_layers + s.cpu_layers == 32
    assert 0 < s.gpu_layers < 32
    assert s.gpu_layer_kinds == {"attention+moe": s.gpu_layers}
    assert s.experts_on_cpu["fits"]  # attention + KV on the GPU, the experts in RAM
    assert f"-ngl {s.gpu_layers}" in p.commands["llama_cpp"]
    kv = next(w for w in s.what_if if w["change"] == "KV cache to fp8")
    assert kv["saves_bytes_per_gpu"] == p.memory.kv_cache_bytes // 2


# ------------------------------------------------------------------ training conventions


def test_dropout_masks_only_for_models_with_dropout():
    llama = json.loads((CONFIGS / "meta-llama--Llama-2-7b-hf" / "config.json").read_text())
    gpt2 = json.loads((CONFIGS / "openai-community--gpt2" / "config.json").read_text())
    assert not config_has_dropout(llama)  # Llama-2's config names no dropout at all
    assert config_has_dropout(gpt2)  # resid_pdrop / embd_pdrop / attn_pdrop 0.1


def test_lora_qv_targets_count_like_peft():
    # PEFT on Llama-2-7B, r = 8, target_modules q_proj, v_proj: "trainable params: 4,194,304"
    p = plan("meta-llama--Llama-2-7b-hf", "rtx4090", mode="lora", lora_rank=8, lora_targets="qv", seq_len=512)
    assert p.training["trainable_parameters"] == 32 * 2 * 8 * (4096 + 4096) == 4_194_304


def test_plans_are_refused_with_one_line_for_impossible_parallelism():
    from lmscope.core.errors import UsageError

    with pytest.raises(UsageError):
        plan("meta-llama--Llama-3.1-8B", "h100", count=2, tp=4)
    with pytest.raises(UsageError):
        plan("meta-llama--Llama-3.1-8B", "h100", count=3)  # TP 3 does not divide 32 heads
    with pytest.raises(UsageError):
        plan("meta-llama--Llama-3.1-8B", "h100", mode="training", count=2, tp=2)
    assert math.isfinite(plan("meta-llama--Llama-3.1-8B", "h100").roofline.decode_tokens_per_s)


@pytest.mark.parametrize(("gpu", "chunk"), [
    ("h100", 8192), ("h200", 8192), ("b200", 8192), ("mi300x", 8192), ("h100-pcie", 8192),
    ("a100-80gb", 2048), ("a100-40gb", 2048), ("l40s", 2048), ("rtx4090", 2048), ("l4", 2048),
])
def test_prefill_chunk_is_vllm_serve_default_for_the_card(gpu, chunk):
    """vLLM EngineArgs._set_default_args (vllm/engine/arg_utils.py): `vllm serve` (OPENAI_API_SERVER)
    schedules max_num_batched_tokens 8192 when device memory >= 70 GiB and the name has no "a100",
    else 2048 (vLLM PR #17885: larger chunks lower A100 throughput). The profiling run and the
    activation peak use that chunk."""
    from lmscope.core.estimate.memory import inference_activation_bytes

    p = plan("meta-llama--Llama-3.1-8B", gpu, seq_len=32768)
    assert p.serving.max_num_batched_tokens == chunk
    arch, _ = model("meta-llama--Llama-3.1-8B")
    expected = inference_activation_bytes(arch, seq_len=chunk, batch=1, dtype="bf16", flash=True)
    assert p.memory.activation_bytes == expected == p.serving.activation_peak_bytes


def test_prefill_chunk_on_a_cpu_is_per_rank():
    """vLLM on CPU: 2048 x world size (pp x tp) for `vllm serve` (same function of arg_utils.py)."""
    from lmscope.core.plan.memory import max_num_batched_tokens

    cpu = get_accelerator("cpu")
    assert max_num_batched_tokens(cpu, PlanRequest(count=1)) == 2048
    assert max_num_batched_tokens(cpu, PlanRequest(count=4, tp=2, pp=2)) == 8192


def test_an_encoder_has_no_decode_figures():
    """BERT never decodes (the Memory screen shows no decode rows for encoders either): the plan's roofline
    keeps the forward pass and leaves every decode figure out, in JSON, text and the comparison summary."""
    from lmscope.core.plan import plan_summary
    from lmscope.core.plan.render import render_plan

    cfg = {"architectures": ["BertForMaskedLM"], "model_type": "bert", "hidden_size": 768, "intermediate_size": 3072,
           "num_hidden_layers": 12, "num_attention_heads": 12, "vocab_size": 30522, "max_position_embeddings": 512,
           "type_vocab_size": 2}
    arch = architecture_from_config(cfg)
    p = make_plan(arch, count_parameters(arch), PlanRequest(seq_len=512), get_accelerator("l4"), model_id="bert")
    d = p.to_dict()["roofline"]
    assert d["generative"] is False and d["decode_tokens_per_s"] is None and d["prefill_seconds"] > 0
    assert plan_summary(p)["decode_tokens_per_s"] is None
    text = render_plan(p.to_dict(), "text")
    assert "forward pass" in text and "tokens/s" not in text
