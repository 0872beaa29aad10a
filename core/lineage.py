"""Where a checkpoint sits in its family: the generation (Llama 3.1, Qwen2.5, Gemma 2) and the training stage.

Why a separate module: :mod:`lmscope.core.families` answers "which code runs
this model" (one row per ``model_type``); the generation and the stage are
facts about one *checkpoint* of that code, and they come from evidence of
different strength, so every answer here carries the evidence it rests on.

Generation, by general rules rather than a list of known repos:

* the config decides wherever its fields differ between generations (Llama
  3.1 and 3.2 share ``model_type`` "llama" but not the llama3 RoPE factor;
  Llama 2 and 3 differ in vocabulary; Gemma 1/2/3 and Qwen/Qwen2/Qwen3 have
  their own ``model_type``);
* the model id decides where the config cannot (Qwen2 vs Qwen2.5, Llama 3.1 vs
  3.3 share their configs): a version written right after the family word
  ("Llama-3.1-8B", "Qwen2.5-7B", "gemma-2-9b") — never a size ("llama-7b").
  A version the config contradicts is refused and said so.

Training stage (generative models only): ``base``, ``instruct`` or
``reasoning``, from the id's words (Base, Instruct, chat, it, Thinking, R1),
then the chat template (one that opens ``<think>`` blocks means reasoning; any
template means a chat-tuned checkpoint), then the generation config (several
end-of-turn ids). A tokenizer that was read and has no chat template means a
base checkpoint; nothing read means "unknown" (None), never a guess.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from lmscope.core.architecture import Architecture, ConfigFiles, Objective
from lmscope.core.tokenizer import TokenizerFacts


@dataclass(frozen=True)
class Lineage:
    """A checkpoint's generation within its family and its training stage, each with its evidence."""

    generation: str | None = None
    generation_source: str | None = None  # "config" | "name" | "name+config"
    stage: str | None = None  # "base" | "instruct" | "reasoning"
    stage_source: str | None = None  # "name" | "chat template" | "generation config" | "tokenizer"
    evidence: tuple[str, ...] = ()

    def to_dict(self) -> dict[str, object]:
        return {
            "generation": self.generation,
            "generation_source": self.generation_source,
            "stage": self.stage,
            "stage_source": self.stage_source,
            "evidence": list(self.evidence),
        }


@dataclass(frozen=True)
class _Line:
    """One family line: the word its ids use, its model_types, how a version is written."""

    word: str  # lower-case family word in ids ("llama", "qwen", "gemma", "phi", "deepseek")
    model_types: tuple[str, ...]
    label: str  # format with {v}: "Llama {v}", "Qwen{v}", ...


_LINES: tuple[_Line, ...] = (
    _Line("llama", ("llama", "llama4", "llama4_text"), "Llama {v}"),
    _Line("qwen", ("qwen", "qwen2", "qwen2_moe", "qwen3", "qwen3_moe", "qwen3_next", "qwen2_vl", "qwen2_5_vl", "qwen3_vl", "qwen3_vl_moe"), "Qwen{v}"),
    _Line("gemma", ("gemma", "gemma2", "gemma3", "gemma3_text", "gemma3n", "gemma3n_text"), "Gemma {v}"),
    _Line("phi", ("phi", "phi3", "phimoe"), "Phi-{v}"),
    _Line("deepseek", ("deepseek_v2", "deepseek_v3", "deepseek_v32"), "DeepSeek-{v}"),
)

_VERSION = re.compile(r"^v?(\d+(?:[._]\d+)?)([a-z]?)$", re.IGNORECASE)


def _line_for(model_type: str) -> _Line | None:
    for line in _LINES:
        if model_type in line.model_types:
            return line
    return None


def _id_tokens(model_id: str) -> list[str]:
    """The repo name (not the org) split on '-' (underscores inside a token kept: "3_3")."""
    name = model_id.rsplit("/", 1)[-1].split("@", 1)[0]
    return [t for t in name.split("-") if t]


def version_from_name(model_id: str, word: str) -> str | None:
    """The version written after ``word`` in the id: "Llama-3.1-8B" -> "3.1", "Qwen2.5-7B" -> "2.5", "gemma-3n-E4B" -> "3n".

    Only a token that *is* the family word, or the family word glued to a
    version ("Qwen2.5"), counts; the version must be a bare number (a size
    such as "7b" or "1.1B" is not a version). DeepSeek versions keep their
    "V" ("V3.1") and accept "R1".
    """
    tokens = _id_tokens(model_id)
    for i, token in enumerate(tokens):
        low = token.lower()
        rest = None
        if low == word:
            rest = tokens[i + 1] if i + 1 < len(tokens) else None
        elif low.startswith(word):
            rest = token[len(word):]
        if rest is None:
            continue
        if word == "deepseek" and rest.lower() in ("r1", "r1.5", "r2"):
            return rest.upper()
        match = _VERSION.match(rest)
        if match is None or (match.group(2) and match.group(2).lower() != "n"):
            continue
        number = match.group(1).replace("_", ".")
        if word == "deepseek":
            if not rest.lower().startswith("v"):
                continue
            return "V" + number
        return number + match.group(2).lower()
    return None


def _rope_factor(config: dict) -> tuple[str | None, float | None]:
    rope = config.get("rope_scaling") or config.get("rope_parameters")
    if not isinstance(rope, dict):
        return None, None
    kind = rope.get("rope_type") or rope.get("type")
    factor = rope.get("factor")
    return (kind if isinstance(kind, str) else None), (float(factor) if isinstance(factor, (int, float)) else None)


def _config_versions(model_type: str, config: dict, arch: Architecture) -> tuple[set[str] | None, str | None]:
    """(versions the config allows, or None when it cannot tell; the reason in words)."""
    text = config.get("text_config") if isinstance(config.get("text_config"), dict) else config
    vocab = text.get("vocab_size")
    max_pos = text.get("max_position_embeddings")
    if model_type in ("llama4", "llama4_text"):
        return {"4"}, "model_type llama4"
    if model_type == "llama":
        kind, factor = _rope_factor(text)
        if kind == "llama3" and factor == 8:
            return {"3.1", "3.3"}, "llama3 RoPE scaling ×8 (Llama 3.1/3.3)"
        if kind == "llama3" and factor == 32:
            return {"3.2"}, "llama3 RoPE scaling ×32 (Llama 3.2)"
        if vocab == 128256 and kind is None:
            return {"3"}, "128,256-token vocabulary without RoPE scaling (Llama 3)"
        if vocab == 32000 and max_pos == 4096 and kind is None and arch.num_kv_heads in (arch.num_heads, 8):
            return {"2"}, "32,000-token vocabulary, 4,096 positions (Llama 2)"
        if vocab == 32000 and max_pos == 2048 and text.get("rms_norm_eps") == 1e-6:
            return {"1"}, "32,000-token vocabulary, 2,048 positions, RMSNorm eps 1e-6 (LLaMA 1)"
        return None, None
    if model_type == "qwen":
        return {"1"}, "model_type qwen (first-generation Qwen code)"
    if model_type == "qwen2":
        if arch.num_kv_heads == arch.num_heads:
            return {"1.5"}, "qwen2 code without grouped-query attention (Qwen1.5)"
        return {"2", "2.5"}, "qwen2 code with grouped-query attention (Qwen2 or Qwen2.5)"
    if model_type == "qwen2_moe":
        return {"1.5", "2"}, "model_type qwen2_moe (Qwen1.5-MoE or Qwen2-MoE)"
    if model_type in ("qwen3", "qwen3_moe"):
        return {"3"}, f"model_type {model_type}"
    if model_type == "qwen3_next":
        return {"3"}, "model_type qwen3_next (Qwen3-Next)"
    if model_type == "qwen2_vl":
        return {"2"}, "model_type qwen2_vl"
    if model_type == "qwen2_5_vl":
        return {"2.5"}, "model_type qwen2_5_vl"
    if model_type in ("qwen3_vl", "qwen3_vl_moe"):
        return {"3"}, f"model_type {model_type}"
    if model_type == "gemma":
        return {"1"}, "model_type gemma"
    if model_type == "gemma2":
        return {"2"}, "model_type gemma2"
    if model_type in ("gemma3", "gemma3_text"):
        return {"3"}, f"model_type {model_type}"
    if model_type in ("gemma3n", "gemma3n_text"):
        return {"3n"}, f"model_type {model_type}"
    if model_type == "phi":
        return {"1", "1.5", "2"}, "model_type phi (Phi-1, 1.5 or 2)"
    if model_type == "phi3":
        return {"3", "3.5", "4"}, "model_type phi3 (Phi-3, 3.5 or 4)"
    if model_type == "phimoe":
        return {"3.5"}, "model_type phimoe (Phi-3.5-MoE)"
    if model_type == "deepseek_v2":
        return {"V2", "V2.5"}, "model_type deepseek_v2"
    if model_type == "deepseek_v3":
        return {"V3", "V3.1", "R1"}, "model_type deepseek_v3"
    if model_type == "deepseek_v32":
        return {"V3.2"}, "model_type deepseek_v32"
    return None, None


def _label(line: _Line, version: str) -> str:
    if line.word == "qwen" and version == "1":
        return "Qwen (1.0)"
    return line.label.format(v=version)


def _generation(model_id: str, arch: Architecture, config: dict, evidence: list[str]) -> tuple[str | None, str | None]:
    model_type = arch.model_type
    line = _line_for(model_type)
    if line is None:
        return None, None
    allowed, reason = _config_versions(model_type, config, arch)
    named = version_from_name(model_id, line.word) if model_id else None
    if named is not None and allowed is not None and named not in allowed:
        evidence.append(f"the id says {line.word} {named}, but the config says {reason}: the config wins")
        named = None
    if named is not None:
        evidence.append(f"generation {named} written in the id" + (f"; config agrees: {reason}" if reason else ""))
        return _label(line, named), "name+config" if allowed is not None else "name"
    if allowed is not None and len(allowed) == 1:
        version = next(iter(allowed))
        evidence.append(f"generation from the config: {reason}")
        return _label(line, version), "config"
    if reason:
        evidence.append(f"generation not decided: {reason}; the id names no version")
    return None, None


# --------------------------------------------------------------------------- stage

_REASONING_WORDS = ("thinking", "reasoning", "reasoner", "r1", "qwq", "o1")
_INSTRUCT_WORDS = ("instruct", "chat", "it", "sft", "dpo", "rlhf", "assistant", "orpo", "kto")
_BASE_WORDS = ("base", "pt", "pretrain", "pretrained")


def _words(model_id: str) -> set[str]:
    name = model_id.rsplit("/", 1)[-1].split("@", 1)[0].lower()
    return {w for w in re.split(r"[-_.\s]+", name) if w}


def _eos_ids(generation_config: dict | None) -> list[object]:
    if not isinstance(generation_config, dict):
        return []
    eos = generation_config.get("eos_token_id")
    return list(eos) if isinstance(eos, list) else []


def _stage(
    model_id: str, arch: Architecture, files: ConfigFiles, tokenizer: TokenizerFacts | None, evidence: list[str]
) -> tuple[str | None, str | None]:
    if arch.objective not in (Objective.CAUSAL_LM, Objective.VLM, Objective.SEQ2SEQ):
        return None, None
    words = _words(model_id) if model_id else set()
    hit = sorted(words & set(_REASONING_WORDS))
    if hit:
        evidence.append(f"stage: the id says {hit[0]!r}")
        return "reasoning", "name"
    hit = sorted(words & set(_BASE_WORDS))
    if hit:
        evidence.append(f"stage: the id says {hit[0]!r}")
        return "base", "name"
    hit = sorted(words & set(_INSTRUCT_WORDS))
    if hit:
        evidence.append(f"stage: the id says {hit[0]!r}")
        return "instruct", "name"
    if tokenizer is not None and tokenizer.chat_template:
        if tokenizer.chat_template_read and tokenizer.chat_template_thinking:
            evidence.append("stage: the chat template opens reasoning blocks (<think> / enable_thinking / reasoning channel)")
            return "reasoning", "chat template"
        if tokenizer.chat_template_read and "<think>" in tokenizer.added_special_tokens:
            evidence.append("stage: the tokenizer has a <think> special token and a chat template")
            return "reasoning", "chat template"
        evidence.append("stage: the tokenizer ships a chat template")
        return "instruct", "chat template"
    if len(_eos_ids(files.generation_config)) > 1:
        evidence.append("stage: the generation config stops on several end-of-turn tokens")
        return "instruct", "generation config"
    if tokenizer is not None and files.tokenizer_config is not None and tokenizer.chat_template_read:
        evidence.append("stage: the tokenizer was read and has no chat template")
        return "base", "tokenizer"
    return None, None


def derive_lineage(
    model_id: str, arch: Architecture, files: ConfigFiles, tokenizer: TokenizerFacts | None = None
) -> Lineage:
    """The :class:`Lineage` of one checkpoint (generation and stage may each be None: not decidable)."""
    evidence: list[str] = []
    config = files.config if isinstance(files.config, dict) else {}
    generation, generation_source = _generation(model_id or "", arch, config, evidence)
    stage, stage_source = _stage(model_id or "", arch, files, tokenizer, evidence)
    return Lineage(generation, generation_source, stage, stage_source, tuple(evidence))
