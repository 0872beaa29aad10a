"""Tokenizer facts from files, checked against the ``tokenizers`` library on small handmade tokenizers."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import tokenizers  # the oracle (dev extra)

from lmscope.core.architecture import ConfigFiles
from lmscope.core.tokenizer import tokenizer_facts

CONFIGS = Path(__file__).parent / "fixtures" / "configs"


def _save(tok, tmp_path: Path, name: str = "tokenizer.json") -> str:
    path = tmp_path / name
    tok.save(str(path))
    return str(path)


def _bpe(byte_fallback: bool = False):
    from tokenizers.models import BPE

    vocab = {"a": 0, "b": 1, "c": 2, "ab": 3, "<unk>": 4}
    return tokenizers.Tokenizer(BPE(vocab=vocab, merges=[("a", "b")], unk_token="<unk>", byte_fallback=byte_fallback))


def test_bpe_vocab_counts_added_tokens_like_the_library(tmp_path):
    tok = _bpe()
    tok.add_special_tokens(["<s>", "</s>", "<unk>"])  # <unk> is already in the vocab
    tok.add_tokens(["hello"])
    facts = tokenizer_facts(ConfigFiles(config={}, tokenizer_json_path=_save(tok, tmp_path)))
    assert facts.type == "BPE"
    assert facts.vocab_size == tok.get_vocab_size(with_added_tokens=True)
    assert facts.base_vocab_size == tok.get_vocab_size(with_added_tokens=False)
    assert set(facts.added_special_tokens) >= {"<s>", "</s>"}
    assert facts.sentencepiece is False


@pytest.mark.parametrize("kind", ["WordPiece", "Unigram", "WordLevel"])
def test_other_model_types(tmp_path, kind):
    from tokenizers import models

    if kind == "WordPiece":
        tok = tokenizers.Tokenizer(models.WordPiece({"[UNK]": 0, "a": 1, "##b": 2}, unk_token="[UNK]"))
    elif kind == "Unigram":
        tok = tokenizers.Tokenizer(models.Unigram([("<unk>", 0.0), ("a", -1.0), ("b", -2.0), ("ab", -1.5)], unk_id=0))
    else:
        tok = tokenizers.Tokenizer(models.WordLevel({"x": 0, "y": 1, "[UNK]": 2}, unk_token="[UNK]"))
    tok.add_special_tokens(["[CLS]", "[SEP]"])
    facts = tokenizer_facts(ConfigFiles(config={}, tokenizer_json_path=_save(tok, tmp_path)))
    assert facts.type == kind
    assert facts.vocab_size == tok.get_vocab_size(with_added_tokens=True)
    if kind == "Unigram":
        assert facts.sentencepiece is True


def test_byte_fallback_bpe_is_sentencepiece_style(tmp_path):
    facts = tokenizer_facts(ConfigFiles(config={}, tokenizer_json_path=_save(_bpe(byte_fallback=True), tmp_path)))
    assert facts.byte_fallback is True and facts.sentencepiece is True


def test_tokenizer_config_specials_template_and_limits():
    config = {
        "tokenizer_class": "PreTrainedTokenizerFast",
        "bos_token": "<|begin_of_text|>",
        "eos_token": {"content": "<|eot_id|>", "special": True},
        "pad_token": None,
        "model_max_length": 131072,
        "added_tokens_decoder": {
            "128000": {"content": "<|begin_of_text|>", "special": True},
            "128009": {"content": "<|eot_id|>", "special": True},
            "128010": {"content": "plain", "special": False},
        },
        "chat_template": "{% if tools %}{{ tools | tojson }}{% endif %}{% for m in messages %}{{ m.content }}{% endfor %}",
    }
    facts = tokenizer_facts(ConfigFiles(config={}, tokenizer_config=config))
    assert facts.special_tokens == {"bos": "<|begin_of_text|>", "eos": "<|eot_id|>"}
    assert facts.added_special_tokens == ("<|begin_of_text|>", "<|eot_id|>")
    assert facts.added_tokens == 3
    assert facts.chat_template and facts.chat_template_mentions_tools
    assert facts.model_max_length == 131072
    assert facts.type is None and facts.vocab_size is None


def test_real_llama2_tokenizer_config():
    config = json.loads((CONFIGS / "meta-llama--Llama-2-7b-hf" / "tokenizer_config.json").read_text())
    facts = tokenizer_facts(ConfigFiles(config={}, tokenizer_config=config))
    assert facts.tokenizer_class == "LlamaTokenizer"
    assert facts.sentencepiece is True
    assert facts.special_tokens == {"bos": "<s>", "eos": "</s>", "unk": "<unk>"}
    assert facts.model_max_length is None  # 1e30 means "no limit"
    assert facts.chat_template is False


def test_named_chat_templates_and_template_file():
    config = {"chat_template": [{"name": "default", "template": "{{ messages }}"}, {"name": "tool_use", "template": "{{ tools }}"}]}
    facts = tokenizer_facts(ConfigFiles(config={}, tokenizer_config=config))
    assert facts.chat_template and facts.chat_template_mentions_tools
    from_file = tokenizer_facts(ConfigFiles(config={}, extra={"chat_template": "{{ messages }}"}))
    assert from_file.chat_template and not from_file.chat_template_mentions_tools


def test_no_tokenizer_files():
    assert tokenizer_facts(ConfigFiles(config={"model_type": "gpt2"})) is None


def test_broken_tokenizer_json_is_a_note(tmp_path):
    path = tmp_path / "tokenizer.json"
    path.write_text("{not json")
    facts = tokenizer_facts(ConfigFiles(config={}, tokenizer_config={"tokenizer_class": "X"}, tokenizer_json_path=str(path)))
    assert facts.type is None and facts.notes


def test_to_dict_is_json():
    facts = tokenizer_facts(ConfigFiles(config={}, tokenizer_config={"bos_token": "<s>"}))
    assert json.loads(json.dumps(facts.to_dict()))["special_tokens"] == {"bos": "<s>"}


def test_gguf_tokenizer_facts(tmp_path):
    """A GGUF's tokenizer.ggml.* keys: kind, vocabulary size (token list length), specials, template."""
    import gguf
    import numpy as np

    from lmscope.core.sources.resolve import resolve

    path = tmp_path / "t.gguf"
    writer = gguf.GGUFWriter(str(path), "llama")
    writer.add_block_count(1)
    writer.add_tokenizer_model("gpt2")
    tokens = [f"t{i}" for i in range(40)]
    writer.add_token_list([t.encode() for t in tokens])
    writer.add_bos_token_id(3)
    writer.add_eos_token_id(5)
    writer.add_chat_template("{% if tools %}{{ tools }}{% endif %}")
    writer.add_tensor("token_embd.weight", np.zeros((40, 8), dtype=np.float32))
    writer.write_header_to_file()
    writer.write_kv_data_to_file()
    writer.write_tensors_to_file()
    writer.close()
    facts = tokenizer_facts(resolve(str(path)).files)
    assert facts.type == "BPE" and facts.sentencepiece is False
    assert facts.vocab_size == len(tokens)
    assert facts.special_tokens == {"bos": tokens[3], "eos": tokens[5]}
    assert facts.chat_template and facts.chat_template_mentions_tools
