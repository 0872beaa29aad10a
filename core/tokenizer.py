"""Tokenizer facts read from its files, without loading a tokenizer.

Loading a ``tokenizers`` object (or worse, a SentencePiece model) to learn
the vocabulary size and whether a chat template exists is slow and pulls in
native code; the answers are all in ``tokenizer.json`` and
``tokenizer_config.json``. Both are read as JSON, ``tokenizer.json`` with a
size cap because it is the one big file among the small ones, and with its
structure measured first (:mod:`lmscope.core.sources.bounded_json`): one whose
parse would build more than the memory budget (a hostile ``[{},{},...]``) is
skipped with a note, like an unreadable one — the report does not need it.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from lmscope.core.architecture import ConfigFiles
from lmscope.core.errors import LmscopeError
from lmscope.core.sources.bounded_json import load_bounded

MAX_TOKENIZER_JSON_BYTES = 128 * 1024 * 1024
# transformers writes VERY_LARGE_INTEGER (1e30) when a tokenizer has no real limit
_NO_LIMIT = 10**12

# Words a chat template uses when it opens a reasoning block: Qwen3/DeepSeek-R1 <think>, Qwen3's
# enable_thinking switch, gpt-oss' reasoning_effort / analysis channel, reasoning_content fields.
_THINKING_MARKERS = ("<think>", "enable_thinking", "reasoning_content", "reasoning_effort", "thinking_budget")

_SPECIAL_KEYS = ("bos_token", "eos_token", "pad_token", "unk_token", "sep_token", "cls_token", "mask_token")
_SENTENCEPIECE_CLASSES = ("llama", "t5", "gemma", "xlnet", "albert", "camembert", "mistral", "marian", "bigbird", "reformer", "m2m100", "mbart", "pegasus", "xglm", "codellama", "baichuan", "internlm", "chatglm")


@dataclass(frozen=True)
class TokenizerFacts:
    """What a model's tokenizer is, from its files.

    ``type``: the tokenizer.json model type (BPE, WordPiece, Unigram,
    WordLevel) or None when there is no tokenizer.json. ``vocab_size``: base
    vocabulary plus added tokens that are not in it (``len(tokenizer)``).
    ``special_tokens``: role (bos, eos, pad, unk, ...) -> token text.
    """

    type: str | None = None
    tokenizer_class: str | None = None
    sentencepiece: bool | None = None
    vocab_size: int | None = None
    base_vocab_size: int | None = None
    added_tokens: int = 0
    special_tokens: dict[str, str] = field(default_factory=dict)
    added_special_tokens: tuple[str, ...] = ()
    chat_template: bool = False
    chat_template_mentions_tools: bool = False
    chat_template_read: bool = True  # False: the template exists (listed on the Hub) but its text was not fetched
    chat_template_thinking: bool = False  # the template opens reasoning blocks (<think>, enable_thinking, reasoning channels)
    model_max_length: int | None = None
    byte_fallback: bool | None = None
    notes: tuple[str, ...] = ()

    def to_dict(self) -> dict[str, object]:
        """JSON-safe dict (CONTRACT: type, vocab_size, special_tokens, chat_template, ...)."""
        return {
            "type": self.type,
            "tokenizer_class": self.tokenizer_class,
            "sentencepiece": self.sentencepiece,
            "vocab_size": self.vocab_size,
            "base_vocab_size": self.base_vocab_size,
            "added_tokens": self.added_tokens,
            "special_tokens": dict(self.special_tokens),
            "added_special_tokens": list(self.added_special_tokens),
            "chat_template": self.chat_template,
            "chat_template_mentions_tools": self.chat_template_mentions_tools if self.chat_template_read else None,
            "model_max_length": self.model_max_length,
            "byte_fallback": self.byte_fallback,
            "chat_template_thinking": self.chat_template_thinking if self.chat_template_read else None,
        }


def _token_text(value: object) -> str | None:
    if isinstance(value, str):
        return value
    if isinstance(value, dict) and isinstance(value.get("content"), str):
        return value["content"]
    return None


def _template_text(template: object) -> str | None:
    """A chat template as text; a list of named templates is joined."""
    if isinstance(template, str):
        return template
    if isinstance(template, list):
        parts = [str(t["template"]) for t in template if isinstance(t, dict) and isinstance(t.get("template"), str)]
        return "\n".join(parts) if parts else None
    return None


def _read_tokenizer_json(path: str, notes: list[str]) -> dict | None:
    p = Path(path)
    try:
        size = p.stat().st_size
        if size > MAX_TOKENIZER_JSON_BYTES:
            notes.append(f"tokenizer.json is {size:,} bytes; not read")
            return None
        with p.open("rb") as handle:
            raw = handle.read(MAX_TOKENIZER_JSON_BYTES + 1)
    except OSError:
        notes.append("tokenizer.json could not be read")
        return None
    if len(raw) > MAX_TOKENIZER_JSON_BYTES:
        notes.append("tokenizer.json is larger than lmscope reads; not read")
        return None
    try:
        data = load_bounded(raw, name="tokenizer.json")
    except LmscopeError as err:
        notes.append(f"{err} (tokenizer.json skipped; the report does not need it)")
        return None
    return data if isinstance(data, dict) else None


# GGUF tokenizer.ggml.model -> (tokenizer.json model type, SentencePiece-style)
_GGUF_TOKENIZERS = {"llama": ("BPE", True), "gpt2": ("BPE", False), "bert": ("WordPiece", False), "t5": ("Unigram", True), "rwkv": ("WordLevel", False)}


def _gguf_facts(summary: dict, template: object) -> TokenizerFacts:
    kind, sentencepiece = _GGUF_TOKENIZERS.get(str(summary.get("model")), (None, None))
    special = {}
    for role, name in (("bos", "bos"), ("eos", "eos"), ("unknown", "unk"), ("padding", "pad")):
        if isinstance(summary.get(f"{role}_token"), str):
            special[name] = summary[f"{role}_token"]
    text = _template_text(template)
    vocab = summary.get("vocab_size") if isinstance(summary.get("vocab_size"), int) else None
    return TokenizerFacts(
        type=kind,
        tokenizer_class=f"gguf:{summary.get('model')}" if summary.get("model") else None,
        sentencepiece=sentencepiece,
        vocab_size=vocab,
        base_vocab_size=vocab,
        special_tokens=special,
        chat_template=bool(text),
        chat_template_mentions_tools=text is not None and any(w in text for w in ("tools", "tool_call", "function")),
        chat_template_thinking=text is not None and any(w in text for w in _THINKING_MARKERS),
    )


def tokenizer_facts(files: ConfigFiles) -> TokenizerFacts | None:
    """Facts about the tokenizer in ``files``, or None when there are no tokenizer files."""
    summary = files.extra.get("gguf_tokenizer") if isinstance(files.extra, dict) else None
    if isinstance(summary, dict):
        template = (files.tokenizer_config or {}).get("chat_template")
        return _gguf_facts(summary, template)
    tok_config = files.tokenizer_config if isinstance(files.tokenizer_config, dict) else None
    notes: list[str] = []
    tok_json = _read_tokenizer_json(files.tokenizer_json_path, notes) if files.tokenizer_json_path else None
    template = _template_text(files.extra.get("chat_template")) if isinstance(files.extra, dict) else None
    if tok_config is None and tok_json is None and template is None:
        # a tokenizer.json skipped as unreadable or too big still says so (the report shows the note)
        return TokenizerFacts(notes=tuple(notes)) if notes else None

    model_type = base_vocab = byte_fallback = None
    added_count = 0
    added_specials: list[str] = []
    vocab_size: int | None = None
    if tok_json is not None:
        model: dict = tok_json["model"] if isinstance(tok_json.get("model"), dict) else {}
        model_type = model.get("type") if isinstance(model.get("type"), str) else None
        vocab = model.get("vocab")
        vocab_ids: set[int] = set()
        if isinstance(vocab, dict):
            base_vocab = len(vocab)
            vocab_ids = {v for v in vocab.values() if isinstance(v, int)}
        elif isinstance(vocab, list):  # Unigram: [[piece, score], ...]
            base_vocab = len(vocab)
            vocab_ids = set(range(base_vocab))
        if isinstance(model.get("byte_fallback"), bool):
            byte_fallback = model["byte_fallback"]
        added: list = tok_json["added_tokens"] if isinstance(tok_json.get("added_tokens"), list) else []
        new_ids = set()
        for token in added:
            if not isinstance(token, dict):
                continue
            token_id = token.get("id")
            if isinstance(token_id, int) and token_id not in vocab_ids:
                new_ids.add(token_id)
            if token.get("special") and isinstance(token.get("content"), str):
                added_specials.append(token["content"])
        added_count = len(new_ids)
        if base_vocab is not None:
            vocab_size = base_vocab + added_count

    special: dict[str, str] = {}
    tokenizer_class = None
    max_length = None
    if tok_config is not None:
        for key in _SPECIAL_KEYS:
            text = _token_text(tok_config.get(key))
            if text is not None:
                special[key.removesuffix("_token")] = text
        cls = tok_config.get("tokenizer_class")
        tokenizer_class = cls if isinstance(cls, str) else None
        limit = tok_config.get("model_max_length")
        if isinstance(limit, (int, float)) and not isinstance(limit, bool) and 0 < limit < _NO_LIMIT:
            max_length = int(limit)
        decoder = tok_config.get("added_tokens_decoder")
        if isinstance(decoder, dict):
            config_ids = set()
            for token_id, token in decoder.items():
                if isinstance(token, dict) and token.get("special") and isinstance(token.get("content"), str):
                    if token["content"] not in added_specials:
                        added_specials.append(token["content"])
                if str(token_id).isdigit():
                    config_ids.add(int(token_id))
            if tok_json is None:
                added_count = len(config_ids)
        if template is None:
            template = _template_text(tok_config.get("chat_template"))

    sentencepiece = None
    if tokenizer_class is not None:
        lowered = tokenizer_class.lower()
        sentencepiece = any(lowered.startswith(name) for name in _SENTENCEPIECE_CLASSES)
    if model_type == "Unigram" or (model_type == "BPE" and byte_fallback):
        sentencepiece = True  # SentencePiece models convert to Unigram or byte-fallback BPE
    elif model_type == "BPE" and sentencepiece is None:
        sentencepiece = False
    mentions_tools = template is not None and any(word in template for word in ("tools", "tool_call", "function"))
    thinking = template is not None and any(word in template for word in _THINKING_MARKERS)
    return TokenizerFacts(
        type=model_type,
        tokenizer_class=tokenizer_class,
        sentencepiece=sentencepiece,
        vocab_size=vocab_size,
        base_vocab_size=base_vocab,
        added_tokens=added_count,
        special_tokens=special,
        added_special_tokens=tuple(added_specials),
        chat_template=bool(template),
        chat_template_mentions_tools=mentions_tools,
        chat_template_thinking=thinking,
        model_max_length=max_length,
        byte_fallback=byte_fallback,
        notes=tuple(notes),
    )
