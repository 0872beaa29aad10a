"""Seed parity (issue 19): the options and outputs the seeds' users rely on.

Oracles are independent of lmscope's own output: the genuine configs'
fields, the files shipped with a model (tokenizer_config.json), transformers'
config classes and model-class flags, the quantization each named repo
actually uses (its own model card / config), and published parameter counts.
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
from datetime import datetime
from pathlib import Path

import pytest

from lmscope.core.architecture import ConfigFiles
from lmscope.core.lineage import derive_lineage, version_from_name
from lmscope.core.name_quant import quantization_from_name
from lmscope.core.parse import architecture_from_config
from lmscope.core.results import Settings
from lmscope.core.tokenizer import tokenizer_facts

CONFIGS = Path(__file__).parent / "fixtures" / "configs"


def _config(name: str) -> dict:
    return json.loads((CONFIGS / name / "config.json").read_text())


def _lineage(model_id: str, config: dict, tokenizer_config: dict | None = None, generation_config: dict | None = None):
    files = ConfigFiles(config=config, tokenizer_config=tokenizer_config, generation_config=generation_config)
    arch = architecture_from_config(files)
    return derive_lineage(model_id, arch, files, tokenizer_facts(files))


# --------------------------------------------------------------------------- generation


@pytest.mark.parametrize(
    ("folder", "expected"),
    [
        # the config alone decides: the llama3 RoPE factor (32 for 3.2, per Meta's config), Llama 2's
        # 32k vocabulary and 4k positions, Gemma's model_type per generation
        ("meta-llama--Llama-3.2-1B", "Llama 3.2"),
        ("meta-llama--Llama-2-7b-hf", "Llama 2"),
        ("google--gemma-2-9b-it", "Gemma 2"),
        ("google--gemma-3-4b-it", "Gemma 3"),
        ("Qwen--Qwen3-8B", "Qwen3"),
        ("meta-llama--Llama-4-Scout-17B-16E-Instruct", "Llama 4"),
    ],
)
def test_generation_from_the_config_alone(folder, expected):
    config = _config(folder)
    lineage = _lineage("someone/renamed-finetune", config)
    assert lineage.generation == expected
    assert lineage.generation_source == "config"


def test_config_fields_the_rules_read_are_what_the_configs_hold():
    """The rule inputs, checked against the genuine files (not against our answers)."""
    assert _config("meta-llama--Llama-3.2-1B")["rope_scaling"]["factor"] == 32.0
    assert _config("meta-llama--Llama-3.1-8B")["rope_scaling"]["factor"] == 8.0
    assert _config("meta-llama--Llama-2-7b-hf")["vocab_size"] == 32000
    assert _config("meta-llama--Llama-3.1-8B")["vocab_size"] == 128256


@pytest.mark.parametrize(
    ("model_id", "folder", "expected"),
    [
        ("meta-llama/Llama-3.1-8B", "meta-llama--Llama-3.1-8B", "Llama 3.1"),
        # Llama 3.3 ships Llama 3.1's config: only the id can tell them apart
        ("meta-llama/Llama-3.3-70B-Instruct", "meta-llama--Llama-3.1-70B", "Llama 3.3"),
        ("Qwen/Qwen2.5-7B-Instruct", "Qwen--Qwen2.5-7B-Instruct", "Qwen2.5"),
        ("Qwen/Qwen2-7B", "Qwen--Qwen2.5-7B-Instruct", "Qwen2"),
        ("microsoft/Phi-3.5-mini-instruct", "microsoft--Phi-3.5-mini-instruct", "Phi-3.5"),
        ("microsoft/phi-2", "microsoft--phi-2", "Phi-2"),
        ("deepseek-ai/DeepSeek-V3", "deepseek-ai--DeepSeek-V3", "DeepSeek-V3"),
    ],
)
def test_generation_from_the_id_where_the_config_cannot_tell(model_id, folder, expected):
    assert _lineage(model_id, _config(folder)).generation == expected


def test_qwen2_and_qwen25_share_a_config_so_no_id_means_no_answer():
    lineage = _lineage("someone/finetune", _config("Qwen--Qwen2.5-7B-Instruct"))
    assert lineage.generation is None
    assert any("Qwen2 or Qwen2.5" in e for e in lineage.evidence)


def test_a_version_the_config_contradicts_is_refused():
    # a Llama 3.1 config (128k vocabulary, llama3 RoPE) under a "Llama-2" name
    lineage = _lineage("someone/Llama-2-7b-merged", _config("meta-llama--Llama-3.1-8B"))
    assert lineage.generation is None
    assert any("config wins" in e for e in lineage.evidence)


REMOTE = Path(__file__).parent / "fixtures" / "remote_code"


def _default(model_type: str) -> dict:
    """transformers' own config class defaults for ``model_type`` (an oracle the rules did not write)."""
    from transformers import CONFIG_MAPPING

    data = CONFIG_MAPPING[model_type]().to_dict()
    data["model_type"] = model_type
    return data


@pytest.mark.parametrize(
    ("config", "expected"),
    [
        # genuine configs: each repo's name says which generation it is (Mistral-7B-v0.1, Mixtral-8x7B,
        # falcon-7b of 2023, T5 of 2019 with ReLU, Mamba-2.8b of state-spaces' Mamba-1 paper, glm-4-9b)
        (lambda: _config("mistralai--Mistral-7B-v0.1"), "Mistral 7B v0.1"),
        (lambda: _config("mistralai--Mixtral-8x7B-v0.1"), "Mixtral 8x7B"),
        (lambda: _config("tiiuae--falcon-7b"), "Falcon 1"),
        (lambda: _config("google-t5--t5-small"), "T5 v1.0"),
        (lambda: _config("state-spaces--mamba-2.8b-hf"), "Mamba 1"),
        (lambda: _config("THUDM--glm-4-9b-chat"), "GLM-4"),
        (lambda: _config("openai-community--gpt2"), "GPT-2"),
        (lambda: _config("google-bert--bert-base-uncased"), "BERT"),
        (lambda: _config("FacebookAI--roberta-base"), "RoBERTa"),
        # transformers' config defaults (their docstrings name the checkpoint they describe)
        (lambda: _default("mamba2"), "Mamba 2"),
        (lambda: _default("opt"), "OPT"),
        (lambda: _default("bloom"), "BLOOM"),
        (lambda: _default("gptj"), "GPT-J"),
        (lambda: _default("gpt_neox"), "GPT-NeoX"),
        (lambda: _default("olmo2"), "OLMo 2"),
        (lambda: _default("internlm3"), "InternLM3"),
        (lambda: _default("starcoder2"), "StarCoder2"),
        (lambda: _default("xlm-roberta"), "XLM-RoBERTa"),
        (lambda: _default("mt5"), "mT5"),
        (lambda: dict(_default("t5"), feed_forward_proj="gated-gelu"), "T5 v1.1"),  # google/t5-v1_1-*
        (lambda: dict(_default("mistral"), vocab_size=32768), "Mistral 7B v0.3"),  # v0.3's extended vocabulary
    ],
)
def test_generation_of_other_families_from_the_config_alone(config, expected):
    lineage = _lineage("someone/renamed-finetune", config())
    assert lineage.generation == expected
    assert lineage.generation_source == "config"


@pytest.mark.parametrize(
    ("model_id", "config", "expected"),
    [
        # the id decides where the config allows several generations (or the code is shared with Llama)
        ("THUDM/chatglm3-6b", lambda: json.loads((REMOTE / "THUDM--chatglm3-6b" / "config.json").read_text()), "ChatGLM3"),
        ("internlm/internlm2_5-7b-chat", lambda: json.loads((REMOTE / "internlm--internlm2-chat-7b" / "config.json").read_text()), "InternLM2.5"),
        ("01-ai/Yi-1.5-9B", lambda: _config("meta-llama--Llama-2-7b-hf"), "Yi 1.5"),
        ("tiiuae/Falcon3-7B-Base", lambda: _config("meta-llama--Llama-3.1-8B"), "Falcon 3"),
        ("google/flan-t5-small", lambda: dict(_default("t5"), feed_forward_proj="gated-gelu"), "Flan-T5"),
        ("mistralai/Mistral-7B-Instruct-v0.2", lambda: dict(_config("mistralai--Mistral-7B-v0.1"), sliding_window=None), "Mistral 7B v0.2"),
        ("ibm-granite/granite-3.1-8b-instruct", lambda: _default("granite"), "Granite 3.1"),
        ("microsoft/deberta-v3-base", lambda: _default("deberta-v2"), "DeBERTa v3"),
    ],
)
def test_generation_of_other_families_from_the_id(model_id, config, expected):
    assert _lineage(model_id, config()).generation == expected


def test_a_shared_config_without_a_version_in_the_id_is_not_guessed():
    # InternLM2 and 2.5 (and ChatGLM2 and 3) share their configs: no id, no answer
    for folder in ("internlm--internlm2-chat-7b", "THUDM--chatglm3-6b"):
        config = json.loads((REMOTE / folder / "config.json").read_text())
        lineage = _lineage("someone/renamed-finetune", config)
        assert lineage.generation is None
        assert any("not decided" in e for e in lineage.evidence)


@pytest.mark.parametrize(
    ("model_id", "word", "expected"),
    [
        ("meta-llama/Llama-2-7b-hf", "llama", "2"),
        ("huggyllama/llama-7b", "llama", None),  # a size is not a version
        ("TinyLlama/TinyLlama-1.1B-Chat-v1.0", "llama", None),
        ("nvidia/Llama-3_3-Nemotron-Super-49B-v1", "llama", "3.3"),
        ("Qwen/Qwen1.5-7B-Chat", "qwen", "1.5"),
        ("Qwen/Qwen-7B", "qwen", None),
        ("google/gemma-7b", "gemma", None),
        ("google/gemma-3n-E4B-it", "gemma", "3n"),
        ("deepseek-ai/DeepSeek-V3.1-Terminus", "deepseek", "V3.1"),
        ("deepseek-ai/DeepSeek-R1", "deepseek", "R1"),
    ],
)
def test_version_words_in_ids(model_id, word, expected):
    assert version_from_name(model_id, word) == expected


# --------------------------------------------------------------------------- stage


def test_stage_from_the_chat_template_and_the_tokenizer():
    config = _config("Qwen--Qwen3-8B")
    thinking = {"chat_template": "{% if enable_thinking %}<think>\n{% endif %}{{ messages }}"}
    plain = {"chat_template": "{% for m in messages %}<|im_start|>{{ m.role }}{% endfor %}"}
    assert _lineage("org/model", config, thinking).stage == "reasoning"
    assert _lineage("org/model", config, plain).stage == "instruct"
    assert _lineage("org/model", config, {"model_max_length": 4096}).stage == "base"
    assert _lineage("org/model", config).stage is None  # nothing read: unknown, not a guess
    assert _lineage("org/model", config, generation_config={"eos_token_id": [151645, 151643]}).stage == "instruct"


@pytest.mark.parametrize(
    ("model_id", "expected"),
    [
        ("Qwen/Qwen3-Next-80B-A3B-Thinking", "reasoning"),
        ("deepseek-ai/DeepSeek-R1", "reasoning"),
        ("XiaomiMiMo/MiMo-7B-Base", "base"),
        ("google/gemma-2-9b-it", "instruct"),
        ("meta-llama/Llama-2-70b-chat-hf", "instruct"),
    ],
)
def test_stage_words_in_ids(model_id, expected):
    assert _lineage(model_id, _config("Qwen--Qwen3-8B")).stage == expected


def test_encoders_have_no_training_stage():
    assert _lineage("google-bert/bert-base-uncased", _config("google-bert--bert-base-uncased")).stage is None


# --------------------------------------------------------------------------- quantization from the name


@pytest.mark.parametrize(
    ("model_id", "method", "bits"),
    [
        # each repo's own files/card name this method (independent of the id parsing)
        ("TheBloke/Llama-2-7B-GPTQ", "gptq", None),
        ("TheBloke/Llama-2-7B-AWQ", "awq", None),
        ("TheBloke/Llama-2-7B-GGUF", "gguf", None),
        ("TheBloke/Llama-2-7B-GGML", "ggml", None),
        ("turboderp/Llama-3-8B-exl2-4.0bpw", "exl2", 4.0),
        ("unsloth/llama-3-8b-bnb-4bit", "bitsandbytes", 4.0),
        ("Qwen/Qwen3-8B-FP8", "fp8", 8.0),
        ("mlx-community/Qwen3-8B-4bit", "mlx", 4.0),
        ("Qwen/Qwen2.5-7B-Instruct-GPTQ-Int4", "gptq", 4.0),
        ("RedHatAI/Llama-3.1-8B-Instruct-quantized.w4a16", "compressed-tensors", 4.0),
        ("bartowski/Llama-3.2-1B-Instruct-Q4_K_M-GGUF", "gguf", 4.0),
    ],
)
def test_quantization_named_in_the_id(model_id, method, bits):
    named = quantization_from_name(model_id)
    assert named is not None and named.method == method and named.bits == bits


@pytest.mark.parametrize("model_id", ["meta-llama/Llama-3.1-8B", "Qwen/Qwen3-8B", "google/gemma-3-4b-it", "openai/gpt-oss-20b", "mistralai/Mixtral-8x7B-v0.1"])
def test_plain_ids_name_no_quantization(model_id):
    assert quantization_from_name(model_id) is None


def test_name_quantization_is_labelled_and_changes_no_number(tmp_path):
    from lmscope.core.export import report_to_text
    from lmscope.core.report import build_report
    from lmscope.core.sources.local import source_from_folder

    folder = tmp_path / "Llama-3.2-1B-GPTQ"
    folder.mkdir()
    (folder / "config.json").write_text((CONFIGS / "meta-llama--Llama-3.2-1B" / "config.json").read_text())
    plain = tmp_path / "Llama-3.2-1B"
    plain.mkdir()
    (plain / "config.json").write_text((CONFIGS / "meta-llama--Llama-3.2-1B" / "config.json").read_text())
    named = build_report(source_from_folder(folder), Settings(), exact=False)
    base = build_report(source_from_folder(plain), Settings(), exact=False)
    assert named.to_dict()["quantization_from_name"]["method"] == "gptq"
    assert named.to_dict()["quantization"] is None
    assert named.estimate.memory == base.estimate.memory
    assert "gptq (from the name)" in report_to_text(named)


def test_ggml_files_are_named_as_such(tmp_path):
    from lmscope.core.errors import LmscopeError
    from lmscope.core.sources.resolve import resolve

    path = tmp_path / "ggml-model-q4_0.bin"
    path.write_bytes(b"tjgg" + b"\0" * 64)  # GGJT magic 0x67676a74, little-endian
    with pytest.raises(LmscopeError, match="GGML"):
        resolve(str(path))


# --------------------------------------------------------------------------- JSON additions


def test_json_has_timestamp_version_and_human_strings():
    from lmscope import __version__
    from lmscope.core.report import build_report
    from lmscope.core.sources.catalog import load_catalog_entry

    d = build_report(load_catalog_entry("openai-community/gpt2"), Settings(), exact=False).to_dict()
    assert d["lmscope_version"] == __version__
    assert datetime.fromisoformat(d["analysis_timestamp"].replace("Z", "+00:00")).tzinfo is not None
    # GPT-2 small: 124,439,808 parameters (Radford et al.; transformers' GPT2LMHeadModel)
    assert d["parameters"]["total"] == 124_439_808
    assert d["parameters"]["total_human"] == "124.44 M"
    # naive sizes are the seed's bytes-per-parameter products, beside lmscope's own
    assert d["memory"]["weights_bytes_naive"]["int8"] == 124_439_808
    assert d["memory"]["weights_bytes_naive"]["int4"] == 62_219_904
    assert d["memory"]["weights_bytes"]["int8"] != d["memory"]["weights_bytes_naive"]["int8"]
    assert set(d["memory"]["weights_bytes_human"]) == set(d["memory"]["weights_bytes"])
    for key, text in d["memory"]["weights_bytes_human"].items():
        number, unit = text.split()
        scale = {"B": 1, "KiB": 2**10, "MiB": 2**20, "GiB": 2**30}[unit]
        assert abs(float(number) * scale - d["memory"]["weights_bytes"][key]) <= 0.005 * scale
    assert d["objective"] == "causal-lm"
    # CONTRACT names keep their integers
    assert isinstance(d["memory"]["kv_cache_bytes"], int) and isinstance(d["flops"]["prefill"]["total"], int)


def test_yaml_carries_what_json_carries():
    from lmscope.core.export import report_to_yaml
    from lmscope.core.report import build_report
    from lmscope.core.sources.catalog import load_catalog_entry

    report = build_report(load_catalog_entry("openai-community/gpt2"), Settings(), exact=False)
    yaml_text = report_to_yaml(report)
    for key in ("analysis_timestamp", "lmscope_version", "total_human", "weights_bytes_naive", "lineage"):
        assert re.search(rf"^\s*{key}:", yaml_text, re.MULTILINE), key


def test_falcon_context_from_its_tokenizer():
    """Falcon-7B's config states no max_position_embeddings; its tokenizer and transformers' default say 2048."""
    from transformers import FalconConfig

    from lmscope.core.report import build_report
    from lmscope.core.sources.catalog import load_catalog_entry

    tok = json.loads((CONFIGS / "tiiuae--falcon-7b" / "tokenizer_config.json").read_text())
    assert "max_position_embeddings" not in _config("tiiuae--falcon-7b")
    caps = build_report(load_catalog_entry("tiiuae/falcon-7b"), Settings(), exact=False).capabilities
    assert caps.max_context_length == tok["model_max_length"] == FalconConfig().max_position_embeddings == 2048
    assert caps.context_length_source == "tokenizer model_max_length"


def test_flash_attention_rule_is_necessary_for_every_transformers_class():
    """Oracle sweep over every fixture: a class that declares FlashAttention support passes the
    kernel-limit rule, and where the rule says no, no class says yes."""
    import transformers

    from lmscope.core.capabilities import flash_attention_support

    checked = 0
    for folder in sorted(p.name for p in CONFIGS.iterdir()):
        config = _config(folder)
        cls = getattr(transformers, (config.get("architectures") or ["?"])[0], None)
        declared = getattr(cls, "_supports_flash_attn", None) if cls is not None else None
        if declared is None:
            continue  # remote-code class: nothing to check against
        rule, why = flash_attention_support(architecture_from_config(config))
        if declared:
            assert rule is True, (folder, why)
        if rule is False:
            assert declared is False, folder
        checked += 1
    assert checked >= 30
    # the three kinds of "no": no attention, additive position bias
    assert flash_attention_support(architecture_from_config(_config("state-spaces--mamba-2.8b-hf")))[0] is False
    assert flash_attention_support(architecture_from_config(_config("google-t5--t5-small")))[0] is False


# --------------------------------------------------------------------------- CLI


def _lmscope(*args: str, cwd: Path | None = None) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "lmscope", *args], capture_output=True, text=True, timeout=300, cwd=cwd, check=False)


def test_export_and_export_markdown_in_one_run(tmp_path):
    out_json, out_md = tmp_path / "a.json", tmp_path / "a.md"
    proc = _lmscope("report", "gpt2", "--offline", "--no-exact", "--export", str(out_json), "--export-markdown", str(out_md), "--skip-tokenizer", "--quiet")
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout == ""  # --quiet with exports: the seed's batch idiom prints nothing
    data = json.loads(out_json.read_text())
    assert data["model_id"] == "openai-community/gpt2" and data["tokenizer"] is None
    assert out_md.read_text().startswith("# openai-community/gpt2")
    proc = _lmscope("report", "gpt2", "--offline", "--no-exact", "--export", str(out_json))
    assert proc.returncode == 0 and "training stage" in proc.stdout  # the text report still prints


def test_text_report_shows_objective_stage_generation_and_flags():
    proc = _lmscope("report", "meta-llama/Llama-2-70b-chat-hf", "--offline", "--no-exact", "--detailed")
    assert proc.returncode == 0, proc.stderr
    for words in ("type / objective", "causal-lm", "generation", "Llama 2", "training stage", "instruct", "flash attention", "LoRA", "naive"):
        assert words in proc.stdout, words


# --------------------------------------------------------------------------- seed 002: phases and components


def _report(model_id: str, **settings):
    from lmscope.core.report import build_report
    from lmscope.core.sources.catalog import load_catalog_entry

    return build_report(load_catalog_entry(model_id), Settings(**settings), exact=False)


def test_weights_by_component_from_config_values():
    config = _config("meta-llama--Llama-2-7b-hf")
    d = _report("meta-llama/Llama-2-7b-hf", dtype="fp16").to_dict()
    by = d["memory"]["weights_by_component"]
    h, v, n, inter = config["hidden_size"], config["vocab_size"], config["num_hidden_layers"], config["intermediate_size"]
    assert by["embeddings"] == v * h * 2
    assert by["lm_head"] == v * h * 2  # untied
    assert by["attention"] == n * 4 * h * h * 2
    assert by["mlp"] == n * 3 * h * inter * 2
    assert sum(by.values()) == d["memory"]["weights_bytes_selected"]


def test_decode_flops_by_component_from_config_values():
    config = _config("meta-llama--Llama-2-7b-hf")
    seq = 4096
    d = _report("meta-llama/Llama-2-7b-hf", seq_len=seq).to_dict()
    by = d["flops"]["decode_by_component"]
    h, n, heads = config["hidden_size"], config["num_hidden_layers"], config["num_attention_heads"]
    head_dim = h // heads
    # QK^T and AV over the cache: 2 FLOPs per multiply-add, 2 products, per layer
    assert by["attention_scores"] == n * 2 * 2 * seq * heads * head_dim
    assert by["lm_head"] == 2 * config["vocab_size"] * h
    assert sum(by.values()) == d["flops"]["decode_per_token"]
    training = d["flops"]["training_by_component"]
    assert sum(training.values()) == d["flops"]["training_step"]
    assert training["mlp"] == 3 * d["flops"]["by_component"]["mlp"]  # backward ≈ 2 × forward (Narayanan et al. 2021)


def test_flash_decoding_matches_vllm_v2_partials():
    """vLLM PagedAttention V2: tmp_out [seqs, heads, partitions, head_size] in the query dtype,
    exp_sums and max_logits [seqs, heads, partitions] in fp32, partitions of 512 tokens."""
    config = _config("meta-llama--Llama-2-7b-hf")
    seq, batch = 5000, 2
    d = _report("meta-llama/Llama-2-7b-hf", seq_len=seq, batch=batch, dtype="bf16").to_dict()
    fd = d["memory"]["flash_decoding"]
    heads = config["num_attention_heads"]
    head_size = config["hidden_size"] // heads
    partitions = -(-seq // 512)
    assert fd["partitions"] == partitions == 10
    assert fd["partial_bytes"] == batch * heads * partitions * head_size * 2 + 2 * batch * heads * partitions * 4
    assert fd["scores_bytes"] == batch * heads * seq * 2


def test_roofline_verdicts_against_the_h100_balance():
    from lmscope.core.phases import REFERENCE_BALANCE

    # NVIDIA H100 SXM datasheet: 989.4 TFLOP/s dense BF16, 3.35 TB/s
    assert abs(REFERENCE_BALANCE - 989.4e12 / 3.35e12) < 1e-9
    roof = _report("meta-llama/Llama-2-7b-hf", seq_len=4096).to_dict()["flops"]["roofline"]
    assert roof["decode_bound"] == "memory-bound"  # batch-1 decode reads every weight for ~2 FLOPs each
    assert roof["prefill_bound"] == "compute-bound"


@pytest.mark.parametrize("fmt", ["json", "yaml"])
def test_phase_and_table_narrow_json_and_yaml(fmt):
    """--phase/--table narrow JSON and YAML too: the CONTRACT blocks asked for, whole, plus ``phases``; the
    numbers are the full report's (the filter drops, never recomputes)."""
    full = json.loads(_lmscope("report", "Qwen/Qwen2.5-7B-Instruct", "--offline", "--no-exact", "--format", "json").stdout)
    proc = _lmscope("report", "Qwen/Qwen2.5-7B-Instruct", "--offline", "--no-exact", "--phase", "decode",
                    "--table", "memory", "--format", fmt)
    assert proc.returncode == 0, proc.stderr
    if fmt == "json":
        doc = json.loads(proc.stdout)
    else:
        import yaml  # PyYAML (a dev dependency) reads our YAML back

        doc = yaml.safe_load(proc.stdout)
    assert doc["schema_version"] == full["schema_version"] and doc["model_id"] == full["model_id"]
    assert doc["memory"] == full["memory"] and "flops" not in doc
    assert list(doc["phases"]) == ["decode"]
    decode = doc["phases"]["decode"]
    assert "flops" not in decode
    mem = full["memory"]
    rows = decode["memory"]["by_row"]
    assert rows["KV cache"] == mem["kv_cache_bytes"]
    assert {k.removeprefix("weights: "): v for k, v in rows.items() if k.startswith("weights: ")} == mem["weights_by_component"]
    assert decode["memory"]["total_bytes"] == sum(rows.values())
    assert decode["roofline"]["intensity"] == full["flops"]["roofline"]["decode_intensity"]

    flops_doc = json.loads(_lmscope("report", "Qwen/Qwen2.5-7B-Instruct", "--offline", "--no-exact",
                                    "--table", "flops", "--format", "json").stdout)
    assert "memory" not in flops_doc and flops_doc["flops"] == full["flops"]
    assert list(flops_doc["phases"]) == ["prefill", "decode", "training"]
    assert flops_doc["phases"]["training"]["flops"]["total"] == full["flops"]["training_step"]
    assert flops_doc["phases"]["prefill"]["flops"]["by_component"] == full["flops"]["by_component"]


def test_phase_and_table_options_print_just_that_part():
    proc = _lmscope("report", "Qwen/Qwen2.5-7B-Instruct", "--offline", "--no-exact", "--phase", "decode", "--table", "memory")
    assert proc.returncode == 0, proc.stderr
    assert "Memory — decode" in proc.stdout and "FLOPs" not in proc.stdout and "prefill" not in proc.stdout
    proc = _lmscope("report", "Qwen/Qwen2.5-7B-Instruct", "--offline", "--no-exact", "--phase", "training", "--table", "flops", "--format", "markdown")
    assert proc.returncode == 0, proc.stderr
    assert "## FLOPs — training step" in proc.stdout and "Memory" not in proc.stdout


# --------------------------------------------------------------------------- seed 004: every layer kind, batch runs


def test_shapes_for_every_layer_kind_deepseek():
    config = _config("deepseek-ai--DeepSeek-V3")
    kinds = _report("deepseek-ai/DeepSeek-V3").to_dict()["shapes_by_layer_kind"]
    dense = config["first_k_dense_replace"]
    assert [k["layers"] for k in kinds] == [list(range(dense)), list(range(dense, config["num_hidden_layers"]))]
    moe_rows = {r["step"]: r for r in kinds[1]["rows"] if r["phase"] == "prefill"}
    assert moe_rows["router"]["shape"] == [1, 4096, config["n_routed_experts"]]
    assert moe_rows["experts.down_proj"]["shape"] == [1, 4096, config["num_experts_per_tok"], config["hidden_size"]]


def test_shapes_for_every_layer_kind_gemma3_follow_transformers_layer_types():
    from transformers import Gemma3TextConfig

    text = dict(_config("google--gemma-3-4b-it")["text_config"])
    text.pop("model_type", None)
    layer_types = Gemma3TextConfig(**text).layer_types
    kinds = _report("google/gemma-3-4b-it").to_dict()["shapes_by_layer_kind"]
    by_label = {("sliding" if "sliding" in k["kind"] else "full"): k["layers"] for k in kinds}
    assert by_label["sliding"] == [i for i, t in enumerate(layer_types) if t == "sliding_attention"]
    assert by_label["full"] == [i for i, t in enumerate(layer_types) if t == "full_attention"]
    sliding_scores = next(r for k in kinds if "sliding" in k["kind"] for r in k["rows"] if r["step"] == "scores" and r["phase"] == "prefill")
    assert sliding_scores["shape"][-1] == text["sliding_window"]  # keys capped at the window


def test_shapes_for_every_layer_kind_hybrid_pattern():
    pattern = _config("nvidia--NVIDIA-Nemotron-3-Nano-30B-A3B-BF16")["hybrid_override_pattern"]
    kinds = _report("nvidia/NVIDIA-Nemotron-3-Nano-30B-A3B-BF16").to_dict()["shapes_by_layer_kind"]
    layers_of = {k["kind"]: k["layers"] for k in kinds}
    attention = next(v for label, v in layers_of.items() if "attention" in label)
    assert attention == [i for i, c in enumerate(pattern) if c == "*"]
    assert sorted(i for v in layers_of.values() for i in v) == list(range(len(pattern)))


def test_batch_run_writes_one_report_per_model_and_reports_failures(tmp_path):
    models = tmp_path / "models.txt"
    models.write_text("openai-community/gpt2\n# a comment\nnot-a-catalog/model-xyz\ntiiuae/falcon-7b\n")
    out = tmp_path / "out"
    proc = _lmscope("report", "--models-file", str(models), "--output-dir", str(out), "--offline", "--no-exact", "--format", "json",
                    "--no-pictures")
    assert proc.returncode == 1  # one model failed
    assert "not-a-catalog/model-xyz" in proc.stderr and "Traceback" not in proc.stderr
    # --output-dir means a report folder, one per model in a batch
    assert sorted(p.name for p in out.iterdir()) == ["openai-community--gpt2", "tiiuae--falcon-7b"]
    assert sorted(p.name for p in (out / "tiiuae--falcon-7b").iterdir()) == ["report.json", "report.md"]
    assert json.loads((out / "tiiuae--falcon-7b" / "report.json").read_text())["model_id"] == "tiiuae/falcon-7b"
    assert "[1/3]" in proc.stderr  # progress, one line per model when stderr is not a terminal


@pytest.mark.parametrize(
    "args",
    [
        ("report",),
        ("report", "--all-catalog"),
        ("report", "gpt2", "--models-file", "x.txt", "--output-dir", "o"),
    ],
)
def test_batch_usage_errors(args, tmp_path):
    (tmp_path / "x.txt").write_text("gpt2\n")
    proc = _lmscope(*args, "--offline", cwd=tmp_path)
    assert proc.returncode == 2 and "Traceback" not in proc.stderr and proc.stderr.count("\n") == 1


# --------------------------------------------------------------------------- seed 003: ONNX detail and conversion


def test_onnx_detail_shapes_boundaries_and_hazards(tmp_path):
    from test_seeds_table import _write_onnx

    from lmscope.core.onnx_graph import analyse_onnx_graph

    path = tmp_path / "g.onnx"
    _write_onnx(path)
    graph = analyse_onnx_graph(path)
    assert graph["shape_inference"]["ran"]
    layers = graph["layers"]
    assert [e["layer"] for e in layers] == [0, 1]
    # MatMul [batch, seq, 8] x [8, 16] -> [batch, seq, 16]; x [16, 8] -> [batch, seq, 8] (ONNX MatMul semantics)
    assert layers[1]["inputs"] == [{"name": "/model/layers.0/out", "shape": ["batch", "seq", 8]}]
    assert layers[0]["inputs"] == [{"name": "x", "shape": ["batch", "seq", 8]}]
    assert graph["custom_ops"] == {"com.example::Fused": 1}
    assert any("TopK" in c for c in graph["challenges"])
    proc = _lmscope("report", str(path), "--detailed")
    assert proc.returncode == 0 and "ONNX graph" in proc.stdout and "layer boundaries" in proc.stdout


def test_conversion_challenges_follow_the_layer_kinds():
    from lmscope.core.onnx_graph import conversion_challenges

    def items(folder):
        return {c["item"] for c in conversion_challenges(architecture_from_config(_config(folder)))}

    nano = items("nvidia--NVIDIA-Nemotron-3-Nano-30B-A3B-BF16")  # Mamba-2 + MoE + GQA attention (its config)
    assert {"MoE routing", "Mamba selective scan", "grouped-query attention"} <= nano
    assert "linear-attention recurrence (gated delta rule)" in items("Qwen--Qwen3-Next-80B-A3B-Thinking")
    assert items("openai-community--gpt2") == set()
