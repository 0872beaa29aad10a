"""config.json → Architecture: every real fixture, layer maps, quantization, hostile configs.

Layer-map expectations come from the model cards / papers (Gemma-3 5:1
sliding:full, Qwen3-Next 3:1 linear:full, Nemotron-3-Nano 23 Mamba-2 + 23 MoE +
6 attention, DeepSeek-V3's 3 leading dense layers, gpt-oss alternating
sliding window 128), not from our own output.
"""

from __future__ import annotations

import copy
import json
import math
import subprocess
import sys
import tracemalloc
from pathlib import Path

import pytest

from lmscope.core.architecture import FFN, ConfigFiles, Mixer, Objective
from lmscope.core.errors import ConfigError
from lmscope.core.families import FAMILIES, detect_family, family_names
from lmscope.core.parse import MAX_LAYERS, architecture_from_config

sys.path.insert(0, str(Path(__file__).parent))
import oracle  # noqa: E402

CONFIGS = Path(__file__).parent / "fixtures" / "configs"
BAD = Path(__file__).parent / "fixtures" / "bad"
NAMES = oracle.config_names()


def files_of(name: str) -> ConfigFiles:
    """ConfigFiles with the side files a source would read (quantize/hf_quant configs)."""
    folder = CONFIGS / name
    side = None
    for candidate in ("quantize_config.json", "hf_quant_config.json"):
        if (folder / candidate).exists():
            side = json.loads((folder / candidate).read_text())
    return ConfigFiles(config=json.loads((folder / "config.json").read_text()), quantize_config=side)


def arch(name: str):
    return architecture_from_config(files_of(name))


@pytest.mark.parametrize("name", NAMES)
def test_every_fixture_parses(name):
    a = arch(name)
    assert a.num_layers == len(a.layers) > 0
    assert a.hidden_size > 0
    assert not a.family.startswith("Unknown"), a.family


EXPECTED_FAMILY = {
    "FacebookAI--roberta-base": "RoBERTa",
    "Qwen--Qwen3-Next-80B-A3B-Thinking": "Qwen3-Next",
    "Qwen--Qwen3-30B-A3B": "Qwen3-MoE",
    "THUDM--glm-4-9b-chat": "GLM-4",
    "XiaomiMiMo--MiMo-7B-Base": "MiMo",
    "deepseek-ai--DeepSeek-V3": "DeepSeek-V3",
    "deepseek-ai--DeepSeek-V3.2": "DeepSeek-V3.2",
    "moonshotai--Kimi-K2-Instruct": "Kimi-K2",
    "google--gemma-2-9b-it": "Gemma-2",
    "google--gemma-3-4b-it": "Gemma-3",
    "microsoft--Phi-3.5-mini-instruct": "Phi-3.5",  # _name_or_path refines the shared phi3 model_type
    "microsoft--phi-2": "Phi",
    "tiiuae--falcon-7b": "Falcon",
    "openai--gpt-oss-20b": "gpt-oss",
    "mlx-community--LFM2-1.2B-4bit": "LFM2",
    "nvidia--Llama-3_3-Nemotron-Super-49B-v1": "Nemotron-NAS",
    "nvidia--NVIDIA-Nemotron-3-Nano-30B-A3B-BF16": "Nemotron-H",
    "state-spaces--mamba-2.8b-hf": "Mamba",
    "meta-llama--Llama-4-Scout-17B-16E-Instruct": "Llama-4",
    "llava-hf--llava-1.5-7b-hf": "LLaVA",
    "openai--whisper-tiny": "Whisper",
    "google-t5--t5-small": "T5",
    "facebook--bart-large": "BART",
    "google--vit-base-patch16-224-in21k": "ViT",
    "openai-community--gpt2": "GPT-2",
    "mistralai--Mixtral-8x7B-v0.1": "Mixtral",
}


@pytest.mark.parametrize("name,family", sorted(EXPECTED_FAMILY.items()))
def test_family(name, family):
    assert arch(name).family == family


def test_family_table():
    names = family_names()
    assert len(names) >= 40
    assert len(set(names)) == len(names)
    seen: dict[str, str] = {}
    for fam in FAMILIES:
        for mt in fam.model_types:
            assert mt.lower() not in seen, f"{mt} in {seen.get(mt.lower())} and {fam.name}"
            seen[mt.lower()] = fam.name
    for required in ("Llama", "Llama-4", "Mistral", "Mixtral", "Qwen2", "Qwen2-MoE", "Qwen3", "Qwen3-MoE",
                     "Qwen3-Next", "DeepSeek-V2", "DeepSeek-V3", "DeepSeek-V3.2", "Kimi-K2", "Gemma", "Gemma-2",
                     "Gemma-3", "Phi", "Phi-3", "Falcon", "MPT", "BLOOM", "OPT", "GPT-2", "GPT-J", "GPT-NeoX", "BERT",
                     "RoBERTa", "DistilBERT", "T5", "BART", "Whisper", "ViT", "LLaVA", "Mamba", "Mamba-2", "Jamba",
                     "Nemotron-H", "Nemotron-NAS", "GLM", "MiMo", "gpt-oss", "LFM2", "Granite", "OLMo", "Cohere",
                     "StarCoder2", "InternLM", "Baichuan", "StableLM"):
        assert required in names, required


def test_family_detection_sources():
    assert detect_family(None, ["MixtralForCausalLM"]) == "Mixtral"
    assert detect_family(None, (), gguf_arch="qwen3moe") == "Qwen3-MoE"
    assert detect_family("phi3", ["Phi3ForCausalLM"], name="microsoft/Phi-3.5-mini-instruct") == "Phi-3.5"
    assert detect_family("phi3", ["Phi3ForCausalLM"], name="microsoft/phi-4") == "Phi-4"
    assert detect_family("llama", [], name="01-ai/Yi-34B") == "Yi"
    assert detect_family("nemotron_h", [], name="nvidia/NVIDIA-Nemotron-3-Nano-30B-A3B-BF16") == "Nemotron-3"
    assert detect_family("brand_new_arch", ["BrandNewForCausalLM"]) == "Unknown (brand_new_arch)"


# ------------------------------------------------------------------------------------------ layer maps


def test_nemotron3_nano_layer_map():
    a = arch("nvidia--NVIDIA-Nemotron-3-Nano-30B-A3B-BF16")
    kinds = [(layer.mixer, layer.ffn) for layer in a.layers]
    assert kinds.count((Mixer.MAMBA2, FFN.NONE)) == 23
    assert kinds.count((Mixer.NONE, FFN.MOE)) == 23
    assert kinds.count((Mixer.FULL, FFN.NONE)) == 6
    assert a.ssm.kind is Mixer.MAMBA2 and a.ssm.num_heads == 64 and a.ssm.head_dim == 64 and a.ssm.n_groups == 8
    assert a.ssm.state_size == 128 and a.ssm.intermediate_size == 4096
    assert a.moe.num_experts == 128 and a.moe.experts_per_token == 6 and not a.moe.gated
    assert a.attention_layers == 6 and a.is_hybrid and a.is_moe


def test_qwen3_next_three_linear_per_full():
    a = arch("Qwen--Qwen3-Next-80B-A3B-Thinking")
    mixers = [layer.mixer for layer in a.layers]
    assert mixers.count(Mixer.LINEAR) == 36 and mixers.count(Mixer.FULL) == 12
    assert all(mixers[i] is (Mixer.FULL if (i + 1) % 4 == 0 else Mixer.LINEAR) for i in range(48))
    assert all(layer.ffn is FFN.MOE for layer in a.layers)
    assert a.ssm.num_key_heads == 16 and a.ssm.num_value_heads == 32


def test_qwen3_next_interval_without_layer_types():
    cfg = json.loads((CONFIGS / "Qwen--Qwen3-Next-80B-A3B-Thinking" / "config.json").read_text())
    cfg.pop("layer_types", None)
    mixers = [layer.mixer for layer in architecture_from_config(cfg).layers]
    assert mixers[3] is Mixer.FULL and mixers.count(Mixer.FULL) == 12


def test_gemma3_five_sliding_per_full():
    a = arch("google--gemma-3-4b-it")
    mixers = [layer.mixer for layer in a.layers]
    assert len(mixers) == 34
    assert all(mixers[i] is (Mixer.FULL if (i + 1) % 6 == 0 else Mixer.SLIDING) for i in range(34))
    assert all(layer.window == 1024 for layer in a.layers if layer.mixer is Mixer.SLIDING)
    assert a.objective is Objective.VLM and a.vision is not None and a.vision.kind == "siglip"
    assert (a.num_heads, a.num_kv_heads, a.head_dim) == (8, 4, 256)  # text_config defaults of Gemma3TextConfig


def test_gemma2_alternates():
    a = arch("google--gemma-2-9b-it")
    mixers = [layer.mixer for layer in a.layers]
    assert mixers[0] is Mixer.SLIDING and mixers[1] is Mixer.FULL
    assert mixers.count(Mixer.SLIDING) == mixers.count(Mixer.FULL) == 21
    assert a.sliding_window == 4096


def test_deepseek_v3_dense_then_moe_and_mla():
    a = arch("deepseek-ai--DeepSeek-V3")
    ffns = [layer.ffn for layer in a.layers]
    assert ffns[:3] == [FFN.DENSE] * 3 and ffns[3:] == [FFN.MOE] * 58
    assert all(layer.mixer is Mixer.MLA for layer in a.layers)
    assert a.mla.kv_lora_rank == 512 and a.mla.qk_rope_head_dim == 64 and a.mla.q_lora_rank == 1536
    assert a.moe.num_experts == 256 and a.moe.experts_per_token == 8 and a.moe.num_shared_experts == 1
    assert a.num_mtp_layers == 1


def test_gpt_oss_alternating_window_128():
    a = arch("openai--gpt-oss-20b")
    for i, layer in enumerate(a.layers):
        if i % 2 == 0:
            assert layer.mixer is Mixer.SLIDING and layer.window == 128
        else:
            assert layer.mixer is Mixer.FULL and layer.window is None
    assert a.attention_sinks and a.moe.router_bias and a.moe.expert_bias


def test_lfm2_conv_and_attention():
    a = arch("mlx-community--LFM2-1.2B-4bit")
    assert a.layer_counts() == {"conv": 10, "full": 6, "dense": 16}
    assert a.intermediate_size == 8192  # block_auto_adjust_ff_dim: 2/3 of 12288, multiple of 256
    assert a.quantization.method == "mlx" and a.quantization.bits == 4 and a.quantization.group_size == 64


def test_llama4_chunked_and_moe():
    a = arch("meta-llama--Llama-4-Scout-17B-16E-Instruct")
    mixers = [layer.mixer for layer in a.layers]
    assert mixers.count(Mixer.CHUNKED) == 36 and mixers.count(Mixer.FULL) == 12
    assert mixers[3] is Mixer.FULL and a.layers[0].window == 8192
    assert all(layer.ffn is FFN.MOE for layer in a.layers)
    assert a.moe.num_experts == 16 and a.moe.experts_per_token == 1 and a.moe.num_shared_experts == 1
    assert a.vision.kind == "llama4" and a.vision.num_layers == 34


def test_qwen3_moe_decoder_sparse_step_and_mlp_only_layers():
    cfg = json.loads((CONFIGS / "Qwen--Qwen3-30B-A3B" / "config.json").read_text())
    cfg.update(decoder_sparse_step=2, mlp_only_layers=[1])
    ffns = [layer.ffn for layer in architecture_from_config(cfg).layers]
    assert ffns[0] is FFN.DENSE and ffns[1] is FFN.DENSE and ffns[3] is FFN.MOE and ffns[2] is FFN.DENSE


def test_nemotron_nas_block_configs():
    a = arch("nvidia--Llama-3_3-Nemotron-Super-49B-v1")
    attn = [layer for layer in a.layers if layer.mixer is Mixer.FULL]
    assert len(attn) == 49 and all(layer.num_kv_heads == 8 for layer in attn)
    assert sum(1 for layer in a.layers if layer.mixer is Mixer.NONE) == 31
    # ffn_mult 5.25 → int(2·5.25·8192/3) = 28672, already a multiple of 256
    assert max(layer.intermediate_size for layer in a.layers) == 28672


def test_mamba1():
    a = arch("state-spaces--mamba-2.8b-hf")
    assert a.layer_counts() == {"mamba": 64}
    assert a.ssm.intermediate_size == 5120 and a.ssm.state_size == 16 and a.attention_layers == 0


def test_encoders_and_seq2seq():
    rob = arch("FacebookAI--roberta-base")  # ships no model_type
    assert rob.model_type == "roberta" and rob.objective is Objective.MASKED_LM and rob.position_embeddings == 514
    t5 = arch("google-t5--t5-small")
    assert t5.objective is Objective.SEQ2SEQ and len(t5.encoder_layers) == 6 and len(t5.layers) == 6
    whisper = arch("openai--whisper-tiny")
    assert whisper.objective is Objective.SPEECH and len(whisper.encoder_layers) == 4
    vit = arch("google--vit-base-patch16-224-in21k")
    assert vit.objective is Objective.VISION and vit.vision.patch_size == 16


def test_llava_text_config_defaults():
    a = arch("llava-hf--llava-1.5-7b-hf")
    # text_config only sets vocab/max positions: the rest are LlamaConfig defaults
    assert (a.hidden_size, a.num_layers, a.num_heads, a.intermediate_size, a.vocab_size) == (4096, 32, 32, 11008, 32064)
    assert a.vision.kind == "clip" and a.vision.num_layers == 24 and a.vision.image_size == 336


def test_falcon_multi_query_parallel():
    a = arch("tiiuae--falcon-7b")
    assert a.num_kv_heads == 1 and a.norms_per_layer == 1 and a.model_type == "falcon"


# ------------------------------------------------------------------------------------------ quantization


@pytest.mark.parametrize(
    "name,method,bits,group",
    [
        ("TheBloke--Llama-2-13B-chat-GPTQ", "gptq", 4, 128),
        ("Qwen--Qwen3-32B-FP8", "fp8", 8, None),  # 128×128 blocks: a block shape, not a group size
        ("deepseek-ai--DeepSeek-V3", "fp8", 8, None),
        ("mlx-community--Qwen3-8B-4bit", "mlx", 4, 64),
        ("THUDM--glm-4-9b-chat", "bitsandbytes", 4, 64),
        ("nvidia--Llama-3.1-70B-Instruct-FP8", "modelopt", 8, None),
        ("openai--gpt-oss-20b", "mxfp4", 4.25, 32),
    ],
)
def test_quantization(name, method, bits, group):
    q = arch(name).quantization
    assert q is not None and q.method == method and q.bits == bits and q.group_size == group


@pytest.mark.parametrize("name", ["Qwen--Qwen3-32B-FP8", "deepseek-ai--DeepSeek-V3"])
def test_fp8_blocks_are_a_block_shape(name):
    q = arch(name).quantization
    assert dict(q.details)["weight_block_size"] == "128x128"


@pytest.mark.parametrize("block", [[0, 128], [128], [-1, 128], [128.5, 128], "128x128", [True, 128]])
def test_fp8_impossible_block_refused(block):
    cfg = json.loads((CONFIGS / "deepseek-ai--DeepSeek-V3" / "config.json").read_text())
    cfg["quantization_config"]["weight_block_size"] = block
    with pytest.raises(ConfigError, match="weight_block_size"):
        architecture_from_config(cfg)


def test_gptq_from_side_file_only():
    folder = CONFIGS / "TheBloke--Llama-2-13B-chat-GPTQ"
    cfg = json.loads((folder / "config.json").read_text())
    cfg.pop("quantization_config")
    side = json.loads((folder / "quantize_config.json").read_text())
    q = architecture_from_config(ConfigFiles(config=cfg, quantize_config=side)).quantization
    assert q.method == "gptq" and q.bits == 4 and q.group_size == 128 and q.symmetric is True


def test_compressed_tensors():
    cfg = json.loads((CONFIGS / "meta-llama--Llama-3.1-8B" / "config.json").read_text())
    cfg["quantization_config"] = {
        "quant_method": "compressed-tensors",
        "config_groups": {"group_0": {"weights": {"num_bits": 4, "group_size": 128, "type": "int"}}},
    }
    q = architecture_from_config(cfg).quantization
    assert q.method == "compressed-tensors" and q.bits == 4 and q.group_size == 128


def test_unquantized_is_none():
    assert arch("meta-llama--Llama-2-7b-hf").quantization is None


# ------------------------------------------------------------------------------------------ hostile configs

BAD_FIELD = {
    "config-not-object.json": "JSON object",
    "config-nan-hidden.json": "hidden_size",
    "config-infinity-layers.json": "num_hidden_layers",
    "config-negative-heads.json": "num_attention_heads",
    "config-zero-layers.json": "num_hidden_layers",
    "config-huge-heads.json": "num_attention_heads",
    "config-huge-layers.json": "num_hidden_layers",
    "config-huge-vocab.json": "vocab_size",
    "config-string-hidden.json": "hidden_size",
    "config-bool-layers.json": "num_hidden_layers",
    "config-fractional-heads.json": "num_attention_heads",
    "config-indivisible-hidden.json": "hidden_size",
    "config-kv-not-divisor.json": "num_key_value_heads",
    "config-missing-hidden.json": "hidden_size",
    "config-model-type-number.json": "model_type",
    "config-architectures-not-list.json": "architectures",
    "config-rope-scaling-string.json": "rope_scaling",
    "config-layer-types-mismatch.json": "layer_types",
    "config-layer-types-unknown.json": "layer_types",
    "config-experts-per-token-negative.json": "num_experts_per_tok",
    "config-mlp-only-layers-out-of-range.json": "mlp_only_layers",
    "config-hybrid-pattern-bad-symbol.json": "hybrid_override_pattern",
    "config-hybrid-pattern-length.json": "hybrid_override_pattern",
    "config-block-configs-missing.json": "block_configs",
    "config-text-config-list.json": "text_config",
    "config-mla-missing-rank.json": "kv_lora_rank",
}


def test_bad_corpus_is_complete():
    assert sorted(p.name for p in BAD.glob("config-*.json")) == sorted(BAD_FIELD)


@pytest.mark.parametrize("filename", sorted(BAD_FIELD))
def test_bad_config(filename):
    data = json.loads((BAD / filename).read_text())  # Python's json accepts NaN/Infinity, as Hub configs may hold
    tracemalloc.start()
    try:
        with pytest.raises(ConfigError) as err:
            architecture_from_config(data)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    message = str(err.value)
    assert "\n" not in message and len(message) < 200
    assert BAD_FIELD[filename] in message
    assert peak < 5 * 1024 * 1024  # nothing sized by the hostile numbers was allocated


def test_layer_cap():
    cfg = json.loads((BAD / "config-huge-layers.json").read_text())
    cfg["num_hidden_layers"] = MAX_LAYERS
    assert len(architecture_from_config(cfg).layers) == MAX_LAYERS
    cfg["num_hidden_layers"] = MAX_LAYERS + 1
    with pytest.raises(ConfigError):
        architecture_from_config(cfg)


BAD_VALUES = [None, -1, 0, 2.5, "x", True, [], {}, [1, "a"], math.nan, 10**15]


@pytest.mark.parametrize("name", ["meta-llama--Llama-3.1-8B", "deepseek-ai--DeepSeek-V3", "google--gemma-3-4b-it",
                                  "nvidia--NVIDIA-Nemotron-3-Nano-30B-A3B-BF16", "openai--whisper-tiny"])
def test_fuzzed_fields_raise_only_config_error(name):
    """Replace each field with junk: the parser either copes or raises ConfigError — nothing else."""
    from lmscope.core.estimate.flops import flops
    from lmscope.core.params import count_parameters
    from lmscope.core.results import Settings

    base = json.loads((CONFIGS / name / "config.json").read_text())
    paths = [(k,) for k in base] + [(sub, k) for sub in ("text_config", "vision_config") for k in base.get(sub) or {}]
    for path in paths:
        for bad in BAD_VALUES:
            cfg = copy.deepcopy(base)
            target = cfg
            for key in path[:-1]:
                target = target[key]
            target[path[-1]] = bad
            try:
                a = architecture_from_config(cfg)
                flops(a, count_parameters(a), Settings(seq_len=64))
            except ConfigError as err:
                assert "\n" not in str(err)


def test_parse_does_not_import_heavy_modules():
    code = (
        "import sys, lmscope.core.parse, lmscope.core.params, lmscope.core.families, lmscope.core.exact, "
        "lmscope.core.estimate.flops\n"
        "heavy = [m for m in ('torch', 'transformers', 'textual', 'huggingface_hub') if m in sys.modules]\n"
        "assert not heavy, heavy"
    )
    subprocess.run([sys.executable, "-c", code], check=True)
