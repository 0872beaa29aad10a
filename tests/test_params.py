"""Analytic parameter counts vs the meta-device class oracle (tests/oracle.py).

Native architectures (transformers builds the config by itself, see
oracle.build_hf_config): ``count_parameters(arch).total`` must equal
``sum(p.numel())`` of the class transformers' Auto class picks, exactly. The
others (remote code: GLM-4, MiMo, Nemotron-Super/DeciLM, Falcon's original
RefinedWeb; RoBERTa's config without a model_type) are checked against
totals derived here by hand from their modeling code's module layout (written
out below, not taken from our own output) and the published sizes —
``HAND_DERIVED`` names the test for each, and a fixture with neither fails.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest

from lmscope.core.params import count_parameters, matmul_by_component
from lmscope.core.parse import architecture_from_config

sys.path.insert(0, str(Path(__file__).parent))
import oracle  # noqa: E402

CONFIGS = Path(__file__).parent / "fixtures" / "configs"
NAMES = oracle.config_names()


def arch_of(name: str):
    return architecture_from_config(oracle.load_config(name))


# Fixtures transformers cannot build by itself, and the test that derives their count by hand.
HAND_DERIVED = {
    "THUDM--glm-4-9b-chat": "test_glm4_9b_hand_derived",
    "XiaomiMiMo--MiMo-7B-Base": "test_mimo_7b_hand_derived",
    "nvidia--Llama-3_3-Nemotron-Super-49B-v1": "test_nemotron_super_49b_hand_derived",
    "tiiuae--falcon-7b": "test_falcon_7b_refinedweb_hand_derived",
    "FacebookAI--roberta-base": "test_roberta_base_without_model_type_hand_derived",
}


@pytest.mark.parametrize("name", NAMES)
def test_analytic_total_equals_class_oracle(name):
    expected = oracle.oracle_total(name)
    if expected is None:  # not native: it must have its hand derivation (which runs as its own test)
        assert HAND_DERIVED.get(name) in globals(), f"{name}: transformers cannot build it and no test derives its count"
        return
    assert not oracle.auto_class_differs(name), "the Auto class is not the named class: compare the named class's head by hand"
    got = count_parameters(arch_of(name))
    assert got.total == expected, (got.total - expected, got.by_component)
    assert sum(got.by_component.values()) == got.total  # sum of parts (the total itself is checked above)
    assert got.method == "analytic"


# Published oracle figures (FORMULAS.md, transformers 5.23), asserted directly too.
PUBLISHED = {
    "meta-llama--Llama-2-7b-hf": 6_738_415_616,
    "meta-llama--Llama-3.1-8B": 8_030_261_248,
    "mistralai--Mixtral-8x7B-v0.1": 46_702_792_704,
    "deepseek-ai--DeepSeek-V3": 671_026_404_352,
    "openai--gpt-oss-20b": 20_914_757_184,
    "Qwen--Qwen3-Next-80B-A3B-Thinking": 79_674_391_296,
    "openai-community--gpt2": 124_439_808,
}


@pytest.mark.parametrize("name,total", sorted(PUBLISHED.items()))
def test_published_totals(name, total):
    assert count_parameters(arch_of(name)).total == total


# ------------------------------------------------------------------------------------------ remote code


def test_glm4_9b_hand_derived():
    """ChatGLM (modeling_chatglm.py): embedding, per layer RMSNorm + fused QKV (with bias, 2 KV groups) +
    dense (no bias) + RMSNorm + SwiGLU dense_h_to_4h (2·ffn) / dense_4h_to_h, final RMSNorm, untied output_layer.
    The model card says 9.4B."""
    c = oracle.load_config("THUDM--glm-4-9b-chat")
    v, h, layers, heads, d = c["padded_vocab_size"], c["hidden_size"], c["num_layers"], c["num_attention_heads"], c["kv_channels"]
    groups, ffn = c["multi_query_group_num"], c["ffn_hidden_size"]
    qkv_out = heads * d + 2 * groups * d
    per_layer = h + (h * qkv_out + qkv_out) + heads * d * h + h + h * 2 * ffn + ffn * h
    expected = v * h + layers * per_layer + h + v * h
    got = count_parameters(arch_of("THUDM--glm-4-9b-chat")).total
    assert got == expected == 9_399_951_360
    assert abs(got / 9.4e9 - 1) < 0.001


def test_mimo_7b_hand_derived():
    """MiMo (modeling_mimo.py): a Qwen2 stack plus its MTP layer inside the class — Qwen2Attention (q/k/v bias),
    Qwen2MLP, 5 RMSNorms and a bias-free 2h→h input_proj. The model card says 7.83B (MTP included)."""
    c = oracle.load_config("XiaomiMiMo--MiMo-7B-Base")
    h, v, n, inter = c["hidden_size"], c["vocab_size"], c["num_hidden_layers"], c["intermediate_size"]
    heads, kv, d = c["num_attention_heads"], c["num_key_value_heads"], c["head_dim"]
    attn = h * heads * d + heads * d + 2 * (h * kv * d + kv * d) + heads * d * h
    mlp = 3 * h * inter
    block = attn + mlp + 2 * h
    mtp = c["num_nextn_predict_layers"] * (attn + mlp + 5 * h + 2 * h * h)
    expected = 2 * v * h + n * block + h + mtp
    got = count_parameters(arch_of("XiaomiMiMo--MiMo-7B-Base")).total
    assert got == expected
    assert abs(got / 7.83e9 - 1) < 0.001


def test_nemotron_super_49b_hand_derived():
    """DeciLM (modeling_decilm.py): per-layer block_configs; a no_op attention/FFN has neither its module nor its
    RMSNorm; FFN width = find_multiple(int(2·ffn_mult·h/3), 256). The model card says 49.9B."""
    c = oracle.load_config("nvidia--Llama-3_3-Nemotron-Super-49B-v1")
    h, v, heads = c["hidden_size"], c["vocab_size"], c["num_attention_heads"]
    d = h // heads
    total = 2 * v * h + h
    for block in c["block_configs"]:
        att, ffn = block["attention"], block["ffn"]
        if not att["no_op"]:
            kv = heads // att["n_heads_in_group"]
            total += h + 2 * h * heads * d + 2 * h * kv * d
        if not ffn["no_op"]:
            raw = int(2 * ffn["ffn_mult"] * h / 3)
            inter = raw if raw % 256 == 0 else raw + 256 - raw % 256
            total += h + 3 * h * inter
    got = count_parameters(arch_of("nvidia--Llama-3_3-Nemotron-Super-49B-v1")).total
    assert got == total
    assert abs(got / 49.9e9 - 1) < 0.002


def test_falcon_7b_refinedweb_hand_derived():
    """Falcon's original remote code (modelling_RW.py, model_type RefinedWebModel): per layer one LayerNorm
    (weight + bias; parallel attention shares it), fused QKV with one shared K/V head (multi_query), dense,
    and a 4h MLP, no biases (bias: false); final LayerNorm; the LM head tied to the embedding.
    Published: 6,921,720,704 (the 7B model card's "7B", and transformers' FalconForCausalLM count)."""
    c = oracle.load_config("tiiuae--falcon-7b")
    h, v, layers, heads = c["hidden_size"], c["vocab_size"], c["n_layer"], c["n_head"]
    assert c["multi_query"] and c["parallel_attn"] and not c["bias"]
    d = h // heads
    per_layer = 2 * h + h * (h + 2 * d) + h * h + 2 * (h * 4 * h)
    expected = v * h + layers * per_layer + 2 * h
    assert count_parameters(arch_of("tiiuae--falcon-7b")).total == expected == 6_921_720_704


def test_roberta_base_without_model_type_hand_derived():
    """FacebookAI/roberta-base's config has no model_type and no architectures; its model card says RoBERTa
    (a BERT encoder with 514 learned positions). RobertaModel: word + position + token-type embeddings and a
    LayerNorm; per layer Q/K/V/O with biases, LayerNorm, a 4h MLP with biases, LayerNorm; a pooler.
    Published: "125M" (fairseq README), 124,645,632 exactly for RobertaModel."""
    c = oracle.load_config("FacebookAI--roberta-base")
    h, v, layers, ffn = c["hidden_size"], c["vocab_size"], c["num_hidden_layers"], c["intermediate_size"]
    embeddings = (v + c["max_position_embeddings"] + c["type_vocab_size"]) * h + 2 * h
    per_layer = 4 * (h * h + h) + 2 * h + (h * ffn + ffn) + (ffn * h + h) + 2 * h
    expected = embeddings + layers * per_layer + (h * h + h)
    assert count_parameters(arch_of("FacebookAI--roberta-base")).total == expected == 124_645_632


def test_kimi_k2_is_deepseek_v3_shaped():
    """Kimi-K2 declares model_type kimi_k2 but architectures DeepseekV3ForCausalLM; ~1.03T total (model card: 1T)."""
    got = count_parameters(arch_of("moonshotai--Kimi-K2-Instruct"))
    assert got.total == oracle.oracle_total("moonshotai--Kimi-K2-Instruct")
    assert 32e9 < got.active_per_token < 33e9  # model card: 32B activated


# ------------------------------------------------------------------------------------------ active / matmul


MOE = [n for n in NAMES if n in {
    "mistralai--Mixtral-8x7B-v0.1", "Qwen--Qwen3-30B-A3B", "Qwen--Qwen3-235B-A22B-FP8", "deepseek-ai--DeepSeek-V3",
    "openai--gpt-oss-20b", "Qwen--Qwen3-Next-80B-A3B-Thinking", "meta-llama--Llama-4-Scout-17B-16E-Instruct",
    "nvidia--NVIDIA-Nemotron-3-Nano-30B-A3B-BF16", "moonshotai--Kimi-K2-Instruct",
}]


@pytest.mark.parametrize("name", MOE)
def test_active_per_token_from_oracle_experts(name):
    """active = total − routed-expert parameters × (1 − top_k / experts), experts read off the class's names."""
    config = oracle.load_config(name)
    text = config.get("text_config", config)
    k = text.get("num_experts_per_tok") or text.get("experts_per_token")
    e = text.get("num_local_experts") or text.get("n_routed_experts") or text.get("num_experts")
    experts = sum(n for pname, n in oracle.oracle_named_counts(name) if ".experts." in pname)
    expected = oracle.oracle_total(name) - experts * (e - k) // e
    assert count_parameters(arch_of(name)).active_per_token == expected


def test_active_per_token_published():
    assert 12.8e9 < count_parameters(arch_of("mistralai--Mixtral-8x7B-v0.1")).active_per_token < 13.0e9  # "12.9B active"
    assert 3.2e9 < count_parameters(arch_of("Qwen--Qwen3-30B-A3B")).active_per_token < 3.4e9  # "3.3B activated"
    assert 36e9 < count_parameters(arch_of("deepseek-ai--DeepSeek-V3")).active_per_token < 38e9  # "37B activated"
    oss = count_parameters(arch_of("openai--gpt-oss-20b"))
    assert 3.55e9 < oss.active_per_token - oss.embedding < 3.65e9  # OpenAI's "3.6B active" leaves out the embedding table


@pytest.mark.parametrize("name", NAMES)
def test_matmul_per_token_from_oracle_shapes(name):
    """The weights a token multiplies by, walked on the meta model's Linear modules (oracle_matmul_per_token)."""
    expected = oracle.oracle_matmul_per_token(name)
    a = arch_of(name)
    got = count_parameters(a)
    if expected is None:  # not native: the hand-derived dense case below
        assert name in HAND_DERIVED
        return
    assert got.matmul_per_token == expected, got.matmul_per_token - expected
    assert sum(matmul_by_component(a).values()) == got.matmul_per_token  # sum of parts, beside the oracle above


def test_matmul_per_token_falcon_7b_hand_derived():
    """Not native: every matrix of the layers (see the total above) plus the tied LM head, no embeddings/norms."""
    c = oracle.load_config("tiiuae--falcon-7b")
    h, v, layers = c["hidden_size"], c["vocab_size"], c["n_layer"]
    d = h // c["n_head"]
    assert count_parameters(arch_of("tiiuae--falcon-7b")).matmul_per_token == layers * (h * (h + 2 * d) + h * h + 8 * h * h) + v * h


def test_embedding_and_lm_head_components():
    llama = count_parameters(arch_of("meta-llama--Llama-2-7b-hf"))
    assert llama.embedding == 32000 * 4096 and llama.by_component["lm_head"] == 32000 * 4096
    tied = count_parameters(arch_of("meta-llama--Llama-3.2-1B"))
    assert "lm_head" not in tied.by_component  # tied: counted once, as the embedding
    assert tied.matmul_per_token > tied.total - tied.embedding  # ...but the LM head matmul still happens


def test_config_files_and_dict_agree():
    from lmscope.core.architecture import ConfigFiles

    cfg = json.loads((CONFIGS / "Qwen--Qwen3-8B" / "config.json").read_text())
    assert count_parameters(architecture_from_config(cfg)) == count_parameters(architecture_from_config(ConfigFiles(config=cfg)))


# ------------------------------------------------------------------------------------------ beyond the fixtures

# Families without a fixture: the default config of each transformers config class, serialized with to_dict()
# and read back by our parser, against that class built on the meta device (done here, not by lmscope).
DEFAULT_CONFIG_TYPES = (
    "apertus arcee bloom cohere cohere2 deepseek_v2 deepseek_v3 deepseek_v32 distilbert ernie4_5 exaone4 falcon "
    "falcon_mamba gemma gemma2 gemma3 gemma3_text glm glm4 gpt2 gpt_bigcode gpt_neo gpt_neox gpt_oss gptj granite "
    "granitemoe granitemoeshared internlm3 jamba lfm2 llama llama4_text llava mamba mamba2 mistral mixtral mpt mt5 "
    "llava_next llava_onevision olmo olmo2 olmo3 olmoe opt persimmon phi phi3 phimoe qwen2 qwen2_moe qwen3 qwen3_moe "
    "qwen3_next seed_oss "
    "smollm3 stablelm starcoder2 t5 umt5 vit"
).split()


@pytest.mark.parametrize("model_type", DEFAULT_CONFIG_TYPES)
def test_transformers_default_configs(model_type):
    import transformers
    from transformers import CONFIG_MAPPING

    oracle.build_hf_config({"model_type": "llama"})  # silences transformers' logging once
    assert model_type in CONFIG_MAPPING, f"transformers {transformers.__version__} has no {model_type}: update the list"
    hf_config = CONFIG_MAPPING[model_type]()
    if model_type == "deepseek_v2":
        hf_config.num_experts_per_tok = 6  # the default leaves top-k unset
    _, model, config = oracle.default_class_on_meta(hf_config)
    expected = sum(p.numel() for p in model.parameters())
    assert count_parameters(architecture_from_config(config)).total == expected
