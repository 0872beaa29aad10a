"""Token strings for embedding rows, from a ``tokenizer.json`` read within bounds.

The weights report names representative tokens per embedding cluster (seed
001's ``cluster_representatives.json``): row ``i`` of the token embedding is
token id ``i``. Only the ids asked for are looked up. The file is refused
above :data:`lmscope.core.tokenizer.MAX_TOKENIZER_JSON_BYTES` and read with
the standard JSON parser (no tokenizers library, no code execution).

Vocab layouts handled: BPE / WordPiece / WordLevel (``model.vocab`` is a
``{token: id}`` map), Unigram (``model.vocab`` is a list of ``[piece, score]``
whose index is the id), plus ``added_tokens`` (``{"id", "content"}``). Byte-level
BPE pieces are shown as stored (``Ġthe``); :func:`display` makes whitespace
and control characters visible.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterable
from pathlib import Path


def find_tokenizer_json(path: str | os.PathLike[str]) -> Path | None:
    """``tokenizer.json`` in ``path`` (a folder) or beside it (a file), if there is one."""
    p = Path(path)
    folder = p if p.is_dir() else p.parent
    candidate = folder / "tokenizer.json"
    return candidate if candidate.is_file() else None


def vocab_tokens(path: str | os.PathLike[str], ids: Iterable[int]) -> tuple[dict[int, str], str | None]:
    """(id → token string for the ``ids`` found, a note when the file could not be used)."""
    from lmscope.core.tokenizer import MAX_TOKENIZER_JSON_BYTES

    wanted = {int(i) for i in ids}
    p = Path(path)
    try:
        size = p.stat().st_size
        if size > MAX_TOKENIZER_JSON_BYTES:
            return {}, f"{p.name} is {size:,} bytes (over {MAX_TOKENIZER_JSON_BYTES:,}); tokens not named"
        data = json.loads(p.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, ValueError, RecursionError):
        return {}, f"{p.name} could not be read as JSON; tokens not named"
    if not isinstance(data, dict):
        return {}, f"{p.name} is not a tokenizer.json object; tokens not named"
    found: dict[int, str] = {}
    model: dict = data["model"] if isinstance(data.get("model"), dict) else {}
    vocab = model.get("vocab")
    if isinstance(vocab, dict):
        for token, i in vocab.items():
            if isinstance(i, int) and i in wanted:
                found[i] = str(token)
    elif isinstance(vocab, list):
        for i in wanted:
            if 0 <= i < len(vocab):
                entry = vocab[i]
                piece = entry[0] if isinstance(entry, (list, tuple)) and entry else entry
                if isinstance(piece, str):
                    found[i] = piece
    for added in data.get("added_tokens") or []:
        if isinstance(added, dict) and isinstance(added.get("id"), int) and added["id"] in wanted and isinstance(added.get("content"), str):
            found[added["id"]] = added["content"]
    return found, None


def display(token: str) -> str:
    """A token made readable on one line: byte-level markers as spaces, controls escaped."""
    text = token.replace("Ġ", "␠").replace("▁", "␠").replace("Ċ", "\\n")
    return "".join(ch if ch.isprintable() else repr(ch)[1:-1] for ch in text)


__all__ = ["display", "find_tokenizer_json", "vocab_tokens"]
