"""Quantization named in a repo id, for checkpoints whose files do not say.

A GGUF or EXL2 repo on the Hub often has no ``config.json`` quantization
block (or no config at all), yet its name says "-GGUF", "-EXL2-4.0bpw",
"-bnb-4bit", "-4bit" (MLX community), "-GPTQ-Int4", "-AWQ", "-FP8". This is
weaker evidence than the files, so the report labels it "from the name" and
never lets it change a number: estimates follow the files and the settings.

Rules are words of the repo name (split on ``-``/``_``/``.``), not a list of
repos: a method word names the method, a bit word (``4bit``, ``int4``,
``8-bit``, ``4.0bpw``, ``Q4_K_M``, ``W4A16``) names the bits.
"""

from __future__ import annotations

import re
from dataclasses import dataclass


@dataclass(frozen=True)
class NameQuant:
    """A quantization named by the id: method (None when only the bits are named), bits, the words used."""

    method: str | None
    bits: float | None
    words: tuple[str, ...]

    def to_dict(self) -> dict[str, object]:
        return {"method": self.method, "bits": self.bits, "source": "name", "words": list(self.words)}


# word (lower case) -> method; order matters only for reporting (the first hit names the method)
_METHOD_WORDS: dict[str, str | None] = {
    "gptq": "gptq",
    "awq": "awq",
    "gguf": "gguf",
    "ggml": "ggml",
    "exl2": "exl2",
    "exl3": "exl3",
    "bnb": "bitsandbytes",
    "bitsandbytes": "bitsandbytes",
    "aqlm": "aqlm",
    "hqq": "hqq",
    "eetq": "eetq",
    "marlin": "gptq",
    "fp8": "fp8",
    "fp4": "fp4",
    "nvfp4": "fp4",
    "mxfp4": "mxfp4",
    "int4": None,  # bits only
    "int8": None,
}
_BITS = re.compile(r"^(\d{1,2})(?:bit|bits)$")
_BPW = re.compile(r"^(\d{1,2}(?:\.\d{1,2})?)bpw$")
_GGUF_TYPE = re.compile(r"^(?:i?q)(\d)(?:_[0-9a-z]+)*$")
_WA = re.compile(r"^w(\d{1,2})a(\d{1,2})$")


def _split(name: str) -> list[str]:
    # keep "4.0bpw", "Q4_K_M" and "w4a16" whole, then split the rest
    return [w for w in re.split(r"[-\s]+", name.lower()) if w]


def quantization_from_name(model_id: str) -> NameQuant | None:
    """The quantization the repo's name announces, or None when it names none.

    ``TheBloke/Llama-2-7B-GPTQ`` -> gptq; ``mlx-community/Qwen3-8B-4bit`` ->
    mlx 4-bit; ``unsloth/llama-3-8b-bnb-4bit`` -> bitsandbytes 4-bit;
    ``turboderp/Llama-3-8B-exl2-4.0bpw`` -> exl2 4.0 bits;
    ``Qwen/Qwen3-8B-FP8`` -> fp8 8 bits.
    """
    if not model_id:
        return None
    org, _, name = model_id.rpartition("/")
    name = name.split("@", 1)[0]
    method: str | None = None
    bits: float | None = None
    words: list[str] = []
    for chunk in _split(name):
        whole = _GGUF_TYPE.match(chunk) or _BPW.match(chunk)
        parts = [chunk, *re.split(r"[_.]", chunk)] if re.search(r"[_.]", chunk) and not whole else [chunk]
        for word in parts:
            if word in _METHOD_WORDS:
                found = _METHOD_WORDS[word]
                if found is not None and method is None:
                    method = found
                if word in ("fp8", "int8"):
                    bits = bits or 8.0
                elif word in ("fp4", "nvfp4", "mxfp4", "int4"):
                    bits = bits or 4.0
                words.append(word)
                continue
            for pattern in (_BPW, _BITS, _WA):
                match = pattern.match(word)
                if match:
                    bits = bits or float(match.group(1))
                    words.append(word)
                    if pattern is _WA and method is None:
                        method = "compressed-tensors"
                    break
            else:
                match = _GGUF_TYPE.match(word)
                if match and method in (None, "gguf", "ggml"):
                    bits = bits or float(match.group(1))
                    words.append(word)
    if method is None and bits is not None and org.lower() == "mlx-community":
        method = "mlx"
        words.append(org)
    if method is None and bits is None:
        return None
    return NameQuant(method=method, bits=bits, words=tuple(dict.fromkeys(words)))
