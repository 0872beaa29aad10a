"""Remote-code families (no class in transformers to build): the analytic count against each model's
module layout, written out here from its modeling file, and against the published size.

Genuine configs (tests/fixtures/remote_code, sources in its SOURCES.tsv): ChatGLM3-6B and
InternLM2-chat-7b, each checked against the element count its own safetensors index stores. The others
below are the models' config.json files as remembered from the Hub, trimmed of keys no count reads: a
genuine copy of Baichuan2-7B/13B, MiniCPM-2B, Qwen-7B and Phi-3-small was not found in the public
repositories searched (paths such as <org>/<name>/config.json, models/<name>/config.json and repositories
holding the models' modeling files). Published sizes are the model cards' / Hub pages' parameter counts.
DeciLM is covered by a genuine config: nvidia/Llama-3_3-Nemotron-Super-49B-v1 (tests/test_params.py).
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from lmscope.core.params import VERIFIED_REMOTE_CODE_TYPES, count_parameters
from lmscope.core.parse import architecture_from_config

# https://huggingface.co/Qwen/Qwen-7B/blob/main/config.json (QWenLMHeadModel, remote code)
QWEN_7B = {
    "architectures": ["QWenLMHeadModel"], "model_type": "qwen",
    "auto_map": {"AutoConfig": "configuration_qwen.QWenConfig", "AutoModelForCausalLM": "modeling_qwen.QWenLMHeadModel"},
    "hidden_size": 4096, "intermediate_size": 22016, "kv_channels": 128, "layer_norm_epsilon": 1e-06,
    "max_position_embeddings": 8192, "no_bias": True, "num_attention_heads": 32, "num_hidden_layers": 32,
    "rotary_emb_base": 10000, "rotary_pct": 1.0, "seq_length": 2048, "tie_word_embeddings": False,
    "torch_dtype": "bfloat16", "use_dynamic_ntk": True, "use_logn_attn": True, "vocab_size": 151936,
}

REMOTE = Path(__file__).parent / "fixtures" / "remote_code"

# THUDM/chatglm3-6b's config.json, genuine (SOURCES.tsv)
CHATGLM3_6B = json.loads((REMOTE / "THUDM--chatglm3-6b" / "config.json").read_text())

# https://huggingface.co/baichuan-inc/Baichuan2-7B-Base/blob/main/config.json (as remembered; no genuine copy found)
BAICHUAN2_7B = {
    "architectures": ["BaichuanForCausalLM"], "model_type": "baichuan", "hidden_act": "silu", "hidden_size": 4096,
    "intermediate_size": 11008, "max_position_embeddings": 4096, "model_max_length": 4096,
    "num_attention_heads": 32, "num_hidden_layers": 32, "rms_norm_eps": 1e-06, "tie_word_embeddings": False,
    "torch_dtype": "bfloat16", "vocab_size": 125696,
}

# https://huggingface.co/baichuan-inc/Baichuan2-13B-Base/blob/main/config.json (as remembered; ALiBi, no positions)
BAICHUAN2_13B = {
    "architectures": ["BaichuanForCausalLM"], "model_type": "baichuan", "hidden_act": "silu", "hidden_size": 5120,
    "intermediate_size": 13696, "model_max_length": 4096, "num_attention_heads": 40, "num_hidden_layers": 40,
    "rms_norm_eps": 1e-06, "tie_word_embeddings": False, "torch_dtype": "bfloat16", "vocab_size": 125696,
}

# internlm/internlm2-chat-7b's config.json, genuine, at a revision that still says model_type "internlm"
# (the class it names, InternLM2ForCausalLM, decides the code)
INTERNLM2_7B = json.loads((REMOTE / "internlm--internlm2-chat-7b" / "config.json").read_text())

# https://huggingface.co/openbmb/MiniCPM-2B-sft-bf16/blob/main/config.json (as remembered; no genuine copy found;
# tie_word_embeddings: the class default, true)
MINICPM_2B = {
    "architectures": ["MiniCPMForCausalLM"], "model_type": "minicpm", "hidden_act": "silu", "hidden_size": 2304,
    "intermediate_size": 5760, "max_position_embeddings": 4096, "num_attention_heads": 36,
    "num_hidden_layers": 40, "num_key_value_heads": 36, "rms_norm_eps": 1e-05, "rope_scaling": None,
    "torch_dtype": "bfloat16", "vocab_size": 122753, "scale_emb": 12, "dim_model_base": 256, "scale_depth": 1.4,
}

# https://huggingface.co/microsoft/Phi-3-small-8k-instruct/blob/main/config.json
PHI3_SMALL = {
    "architectures": ["Phi3SmallForCausalLM"], "model_type": "phi3small", "blocksparse_block_size": 64,
    "dense_attention_every_n_layers": 2, "ff_intermediate_size": 14336, "gegelu_limit": 20.0,
    "hidden_act": "gegelu", "hidden_size": 4096, "layer_norm_epsilon": 1e-05, "max_position_embeddings": 8192,
    "num_attention_heads": 32, "num_hidden_layers": 32, "num_key_value_heads": 8,
    "rope_embedding_base": 1000000, "rope_position_scale": 1.0, "torch_dtype": "bfloat16", "vocab_size": 100352,
}


def _llama_layout(c: dict, *, tied: bool) -> int:
    """Embedding, per layer RMSNorm + q/k/v/o (no bias) + RMSNorm + SwiGLU gate/up/down, final RMSNorm, head."""
    h, v, layers, inter = c["hidden_size"], c["vocab_size"], c["num_hidden_layers"], c["intermediate_size"]
    kv = c.get("num_key_value_heads", c["num_attention_heads"]) * (h // c["num_attention_heads"])
    per_layer = h * h + 2 * h * kv + h * h + 3 * h * inter + 2 * h
    return v * h + layers * per_layer + h + (0 if tied else v * h)


CASES = {
    # modeling_qwen.py: wte; per layer ln_1, c_attn (h→3h, bias), c_proj (no bias), ln_2, w1 and w2
    # (h → intermediate_size/2 each, no bias), mlp.c_proj (intermediate_size/2 → h); ln_f; untied lm_head.
    # Published: 7.72B (the "published 7.72 B"; Qwen technical report, 7B model).
    "Qwen-7B": (QWEN_7B, lambda c: (
        c["vocab_size"] * c["hidden_size"] * 2 + c["hidden_size"]
        + c["num_hidden_layers"] * (2 * c["hidden_size"] + 3 * c["hidden_size"] ** 2 + 3 * c["hidden_size"]
                                    + c["hidden_size"] ** 2 + 3 * c["hidden_size"] * (c["intermediate_size"] // 2))),
        7.72e9),
    # modeling_chatglm.py: embedding; per layer RMSNorm, query_key_value (h → (32+2·2)·128, bias),
    # dense (no bias), RMSNorm, dense_h_to_4h (h → 2·ffn), dense_4h_to_h; final RMSNorm; output_layer.
    # Published: 6.24B (Hub); the stored count is exact (test below).
    "ChatGLM3-6B": (CHATGLM3_6B, lambda c: (
        2 * c["padded_vocab_size"] * c["hidden_size"] + c["hidden_size"]
        + c["num_layers"] * (2 * c["hidden_size"]
                             + (c["hidden_size"] + 1) * (c["num_attention_heads"] + 2 * c["multi_query_group_num"]) * c["kv_channels"]
                             + c["hidden_size"] ** 2 + 3 * c["hidden_size"] * c["ffn_hidden_size"])),
        6.24e9),
    # modeling_baichuan.py: W_pack (h → 3h), o_proj, gate/up/down, two RMSNorms, NormHead lm_head (untied).
    # Published: 7.51B and 13.9B (Hub).
    "Baichuan2-7B": (BAICHUAN2_7B, lambda c: _llama_layout(c, tied=False), 7.51e9),
    "Baichuan2-13B": (BAICHUAN2_13B, lambda c: _llama_layout(c, tied=False), 13.9e9),
    # modeling_internlm2.py: tok_embeddings, wqkv (GQA, bias=config.bias), wo, w1/w3/w2, two RMSNorms, output.
    # Published: 7.74B (Hub); the stored count is exact (test below).
    "InternLM2-7B": (INTERNLM2_7B, lambda c: _llama_layout(c, tied=False), 7.74e9),
    # modeling_minicpm.py: a Llama layout with the head tied to the embeddings.
    # Published: 2.7B in all, 2.4B without embeddings (model card).
    "MiniCPM-2B": (MINICPM_2B, lambda c: _llama_layout(c, tied=True), 2.72e9),
    # modeling_phi3_small.py: LayerNorms with bias; query_key_value (GQA) and dense with bias; up_proj
    # (h → 2·ff, bias, GeGLU) and down_proj (bias); final LayerNorm; head tied. Published: 7.39B (Hub).
    "Phi-3-small": (PHI3_SMALL, lambda c: (
        c["vocab_size"] * c["hidden_size"] + 2 * c["hidden_size"]
        + c["num_hidden_layers"] * (4 * c["hidden_size"]
                                    + (c["hidden_size"] + 1) * (c["hidden_size"] + 2 * c["num_key_value_heads"] * 128)
                                    + c["hidden_size"] ** 2 + c["hidden_size"]
                                    + (c["hidden_size"] + 1) * 2 * c["ff_intermediate_size"]
                                    + c["ff_intermediate_size"] * c["hidden_size"] + c["hidden_size"])),
        7.39e9),
}


@pytest.mark.parametrize("name", sorted(CASES))
def test_remote_code_family_matches_its_layout_and_published_size(name):
    config, layout, published = CASES[name]
    params = count_parameters(architecture_from_config(config))
    assert params.method == "analytic", params.note
    assert params.total == layout(config)
    assert abs(params.total / published - 1) < 0.005, params.total


# Element counts the checkpoints' own model.safetensors.index.json files store (total_size / 2 bytes, 16-bit),
# copied with the configs (SOURCES.tsv). ChatGLM3 also stores its rotary inv_freq buffer: kv_channels / 4 = 32
# elements (a buffer, not a parameter of the class).
STORED_ELEMENTS = {
    "ChatGLM3-6B": (12_487_168_064 // 2, CHATGLM3_6B["kv_channels"] // 4),
    "InternLM2-7B": (15_475_417_088 // 2, 0),
}


@pytest.mark.parametrize("name", sorted(STORED_ELEMENTS))
def test_genuine_configs_count_what_their_checkpoints_store(name):
    config = CASES[name][0]
    stored, buffers = STORED_ELEMENTS[name]
    params = count_parameters(architecture_from_config(config))
    assert params.method == "analytic", params.note
    assert params.total == stored - buffers


def test_internlm2_under_its_older_model_type_runs_the_internlm2_code():
    arch = architecture_from_config(INTERNLM2_7B)
    assert INTERNLM2_7B["model_type"] == "internlm"
    assert arch.model_type == "internlm2" and arch.num_kv_heads == 8


def test_baichuan_position_scheme_follows_the_serving_engines():
    """vLLM's baichuan.py: BaichuanForCausalLM with hidden_size 4096 is Baichuan2-7B (RoPE), any other width
    (Baichuan-13B, Baichuan2-13B) ALiBi; the 13B config names only model_max_length as its context."""
    b13 = architecture_from_config(BAICHUAN2_13B)
    assert b13.position_encoding == "alibi" and b13.rope is None
    assert b13.max_position_embeddings == BAICHUAN2_13B["model_max_length"]
    b7 = architecture_from_config(BAICHUAN2_7B)
    assert b7.position_encoding == "rope" and b7.rope is not None and b7.rope.theta == 10000.0


def test_qwen_v1_ffn_is_half_of_intermediate_size():
    arch = architecture_from_config(QWEN_7B)
    assert arch.intermediate_size == 11008  # the width of w1 and w2 each, not the config's 22016


def test_minicpm_non_embedding_size_is_the_published_2_4b():
    params = count_parameters(architecture_from_config(MINICPM_2B))
    assert abs((params.total - params.embedding) / 2.44e9 - 1) < 0.005


def test_every_verified_remote_code_type_has_a_case_or_a_fixture():
    import sys
    from pathlib import Path

    sys.path.insert(0, str(Path(__file__).parent))
    import oracle

    covered = {architecture_from_config(c).model_type for c, _, _ in CASES.values()}
    covered |= {str(oracle.load_config(n).get("model_type")) for n in oracle.config_names()}
    assert VERIFIED_REMOTE_CODE_TYPES <= covered


def test_unknown_remote_code_model_is_approximate_everywhere(tmp_path):
    import json

    from lmscope.core.export import render_report
    from lmscope.core.report import build_report
    from lmscope.core.results import Settings
    from lmscope.core.sources.resolve import resolve

    config = dict(INTERNLM2_7B, model_type="xverse", architectures=["XverseForCausalLM"],
                  auto_map={"AutoModelForCausalLM": "modeling_xverse.XverseForCausalLM"})
    (tmp_path / "config.json").write_text(json.dumps(config))
    report = build_report(resolve(str(tmp_path)), Settings())
    assert report.to_dict()["parameters"]["method"] == "approximate"
    text = render_report(report, "text")
    assert "approximate" in text
