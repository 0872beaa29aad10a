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
    """One family line: the word its ids use, its model_types, how a version is written and labelled.

    ``needs_word``: the line shares its model_type with another family (Yi and
    Falcon 3 run Llama's code), so it applies only when the id names the word.
    ``version``: how an id writes a version — "number" right after the word
    ("Qwen2.5", "Llama-3.1"), "v" anywhere ("Mistral-7B-v0.3"), or "size"
    right after the word ("Mixtral-8x22B": the member, there being one version).
    ``labels``: a version whose name is not the label format's ("1" of Qwen).
    """

    word: str  # lower-case family word in ids ("llama", "qwen", "gemma", "phi", "deepseek")
    model_types: tuple[str, ...]
    label: str  # format with {v}: "Llama {v}", "Qwen{v}", ...
    needs_word: bool = False
    version: str = "number"  # "number" | "v" | "size"
    labels: tuple[tuple[str, str], ...] = ()


# Lines that need their word in the id come first: they share a model_type with a broader line.
_LINES: tuple[_Line, ...] = (
    _Line("yi", ("llama",), "Yi {v}", needs_word=True),
    _Line("falcon", ("llama",), "Falcon {v}", needs_word=True),
    _Line("flan", ("t5",), "Flan-T5", needs_word=True, version="none"),
    _Line("llama", ("llama", "llama4", "llama4_text"), "Llama {v}"),
    _Line("qwen", ("qwen", "qwen2", "qwen2_moe", "qwen3", "qwen3_moe", "qwen3_next", "qwen2_vl", "qwen2_5_vl", "qwen3_vl", "qwen3_vl_moe"), "Qwen{v}",
          labels=(("1", "Qwen (1.0)"),)),
    _Line("gemma", ("gemma", "gemma2", "gemma3", "gemma3_text", "gemma3n", "gemma3n_text"), "Gemma {v}"),
    _Line("phi", ("phi", "phi3", "phimoe"), "Phi-{v}"),
    _Line("deepseek", ("deepseek_v2", "deepseek_v3", "deepseek_v32"), "DeepSeek-{v}"),
    _Line("mistral", ("mistral",), "Mistral 7B v{v}", version="v"),
    _Line("mixtral", ("mixtral",), "Mixtral {v}", version="size"),
    _Line("falcon", ("falcon",), "Falcon {v}"),
    _Line("falcon", ("falcon_mamba",), "Falcon Mamba", version="none"),
    _Line("falcon", ("falcon_h1",), "Falcon-H1", version="none"),
    _Line("gpt", ("openai-gpt", "gpt2"), "GPT-{v}"),
    _Line("gpt", ("gpt_neo",), "GPT-Neo", version="none"),
    _Line("gpt", ("gpt_neox",), "GPT-NeoX", version="none"),
    _Line("gpt", ("gptj",), "GPT-J", version="none"),
    _Line("opt", ("opt",), "OPT", version="none"),
    _Line("bloom", ("bloom",), "BLOOM", version="none"),
    _Line("mamba", ("mamba", "mamba2"), "Mamba {v}"),
    _Line("t5", ("t5",), "T5 v{v}", version="none"),
    _Line("mt5", ("mt5",), "mT5", version="none"),
    _Line("umt5", ("umt5",), "umT5", version="none"),
    _Line("bert", ("bert",), "BERT", version="none"),
    _Line("roberta", ("roberta",), "RoBERTa", version="none"),
    _Line("xlm", ("xlm-roberta",), "XLM-RoBERTa", version="none"),
    _Line("distilbert", ("distilbert",), "DistilBERT", version="none"),
    _Line("modernbert", ("modernbert",), "ModernBERT", version="none"),
    _Line("deberta", ("deberta", "deberta-v2"), "DeBERTa v{v}"),
    _Line("internlm", ("internlm", "internlm2", "internlm3"), "InternLM{v}", labels=(("1", "InternLM (1)"),)),
    _Line("chatglm", ("chatglm",), "ChatGLM{v}", labels=(("1", "ChatGLM (1)"), ("4", "GLM-4"))),
    _Line("glm", ("glm", "glm4", "glm4_moe"), "GLM-{v}"),
    _Line("baichuan", ("baichuan",), "Baichuan {v}"),
    _Line("minicpm", ("minicpm", "minicpm3"), "MiniCPM{v}"),
    _Line("olmo", ("olmo", "olmo2", "olmo3"), "OLMo {v}"),
    _Line("granite", ("granite", "granitemoe", "granitemoeshared", "granitemoehybrid"), "Granite {v}"),
    _Line("starcoder", ("starcoder2",), "StarCoder{v}"),
    _Line("ernie", ("ernie4_5", "ernie4_5_moe"), "ERNIE {v}"),
)

_VERSION = re.compile(r"^v?(\d+(?:[._]\d+)?)([a-z]?)$", re.IGNORECASE)
_V_TOKEN = re.compile(r"^v(\d+(?:\.\d+)?)$", re.IGNORECASE)
_SIZE = re.compile(r"^(\d+)x(\d+(?:\.\d+)?)b$", re.IGNORECASE)

# A model_type that fixes the generation by itself: (versions, the reason in words).
_TYPE_VERSIONS: dict[str, tuple[frozenset[str], str]] = {
    "llama4": (frozenset({"4"}), "model_type llama4"),
    "llama4_text": (frozenset({"4"}), "model_type llama4"),
    "qwen": (frozenset({"1"}), "model_type qwen (first-generation Qwen code)"),
    "qwen2_moe": (frozenset({"1.5", "2"}), "model_type qwen2_moe (Qwen1.5-MoE or Qwen2-MoE)"),
    "qwen3": (frozenset({"3"}), "model_type qwen3"),
    "qwen3_moe": (frozenset({"3"}), "model_type qwen3_moe"),
    "qwen3_next": (frozenset({"3"}), "model_type qwen3_next (Qwen3-Next)"),
    "qwen2_vl": (frozenset({"2"}), "model_type qwen2_vl"),
    "qwen2_5_vl": (frozenset({"2.5"}), "model_type qwen2_5_vl"),
    "qwen3_vl": (frozenset({"3"}), "model_type qwen3_vl"),
    "qwen3_vl_moe": (frozenset({"3"}), "model_type qwen3_vl_moe"),
    "gemma": (frozenset({"1"}), "model_type gemma"),
    "gemma2": (frozenset({"2"}), "model_type gemma2"),
    "gemma3": (frozenset({"3"}), "model_type gemma3"),
    "gemma3_text": (frozenset({"3"}), "model_type gemma3_text"),
    "gemma3n": (frozenset({"3n"}), "model_type gemma3n"),
    "gemma3n_text": (frozenset({"3n"}), "model_type gemma3n_text"),
    "phi": (frozenset({"1", "1.5", "2"}), "model_type phi (Phi-1, 1.5 or 2)"),
    "phi3": (frozenset({"3", "3.5", "4"}), "model_type phi3 (Phi-3, 3.5 or 4)"),
    "phimoe": (frozenset({"3.5"}), "model_type phimoe (Phi-3.5-MoE)"),
    "deepseek_v2": (frozenset({"V2", "V2.5"}), "model_type deepseek_v2"),
    "deepseek_v3": (frozenset({"V3", "V3.1", "R1"}), "model_type deepseek_v3"),
    "deepseek_v32": (frozenset({"V3.2"}), "model_type deepseek_v32"),
    "openai-gpt": (frozenset({"1"}), "model_type openai-gpt"),
    "gpt2": (frozenset({"2"}), "model_type gpt2"),
    "mamba": (frozenset({"1"}), "model_type mamba (selective SSM, Mamba-1)"),
    "mamba2": (frozenset({"2"}), "model_type mamba2 (state-space duality, Mamba-2)"),
    "internlm2": (frozenset({"2", "2.5"}), "model_type internlm2 (InternLM2 or InternLM2.5)"),
    "internlm3": (frozenset({"3"}), "model_type internlm3"),
    "glm": (frozenset({"4"}), "model_type glm (GLM-4 in transformers' own code)"),
    "glm4": (frozenset({"4-0414"}), "model_type glm4 (the GLM-4-0414 code)"),
    "glm4_moe": (frozenset({"4.5", "4.6"}), "model_type glm4_moe (GLM-4.5 or 4.6)"),
    "minicpm3": (frozenset({"3"}), "model_type minicpm3"),
    "olmo": (frozenset({"1"}), "model_type olmo"),
    "olmo2": (frozenset({"2"}), "model_type olmo2"),
    "olmo3": (frozenset({"3"}), "model_type olmo3"),
    "granitemoehybrid": (frozenset({"4.0"}), "model_type granitemoehybrid (Granite 4.0)"),
    "starcoder2": (frozenset({"2"}), "model_type starcoder2"),
    "ernie4_5": (frozenset({"4.5"}), "model_type ernie4_5"),
    "ernie4_5_moe": (frozenset({"4.5"}), "model_type ernie4_5_moe"),
    "deberta": (frozenset({"1"}), "model_type deberta (the first DeBERTa)"),
}

_ABSENT = object()


@dataclass(frozen=True)
class _Rule:
    """Config fields that fix the versions of one model_type (every (field, value) must hold)."""

    model_type: str
    when: tuple[tuple[str, object], ...]
    versions: frozenset[str]
    reason: str


_RULES: tuple[_Rule, ...] = (
    # Mistral 7B: v0.1 slides a 4,096-token window, v0.2 drops it, v0.3 grows the vocabulary to 32,768
    _Rule("mistral", (("hidden_size", 4096), ("num_hidden_layers", 32), ("vocab_size", 32000), ("sliding_window", 4096)),
          frozenset({"0.1"}), "Mistral 7B shape, 32,000-token vocabulary, 4,096-token sliding window (v0.1)"),
    _Rule("mistral", (("hidden_size", 4096), ("num_hidden_layers", 32), ("vocab_size", 32000), ("sliding_window", None)),
          frozenset({"0.2"}), "Mistral 7B shape, 32,000-token vocabulary, no sliding window (v0.2)"),
    _Rule("mistral", (("hidden_size", 4096), ("num_hidden_layers", 32), ("vocab_size", 32768)),
          frozenset({"0.3"}), "Mistral 7B shape, 32,768-token vocabulary (v0.3)"),
    # Mixtral: the member (one version each) from the expert count and the width
    _Rule("mixtral", (("num_local_experts", 8), ("hidden_size", 4096)), frozenset({"8x7B"}), "8 experts of width 4,096 (Mixtral 8x7B)"),
    _Rule("mixtral", (("num_local_experts", 8), ("hidden_size", 6144)), frozenset({"8x22B"}), "8 experts of width 6,144 (Mixtral 8x22B)"),
    # Falcon: the first models use the old decoder (one shared K/V head); Falcon 2 shares the new one with 40B/180B
    _Rule("falcon", (("new_decoder_architecture", False),), frozenset({"1"}), "the original Falcon decoder (new_decoder_architecture false)"),
    _Rule("falcon", (("new_decoder_architecture", _ABSENT),), frozenset({"1"}), "the original RefinedWeb decoder"),
    _Rule("falcon", (("new_decoder_architecture", True),), frozenset({"1", "2"}), "the new Falcon decoder (Falcon-40B/180B or Falcon 2)"),
    # T5: v1.0 feeds ReLU, v1.1 (and Flan-T5, tuned from it) gated GELU
    _Rule("t5", (("feed_forward_proj", "relu"),), frozenset({"1.0"}), "ReLU feed-forward (the original T5)"),
    _Rule("t5", (("feed_forward_proj", "gated-gelu"),), frozenset({"1.1"}), "gated-GELU feed-forward (T5 v1.1)"),
    # DeBERTa v2 and v3 share their code; v3 has the 128,100-token vocabulary
    _Rule("deberta-v2", (("vocab_size", 128100),), frozenset({"3"}), "128,100-token vocabulary (DeBERTa v3)"),
    _Rule("deberta-v2", (("vocab_size", 128000),), frozenset({"2"}), "128,000-token vocabulary (DeBERTa v2)"),
    # InternLM: early InternLM2 checkpoints still say model_type internlm; the class they name decides
    _Rule("internlm", (("architectures", ["InternLM2ForCausalLM"]),), frozenset({"2", "2.5"}),
          "the InternLM2 class under the older model_type internlm"),
    _Rule("internlm", (("architectures", ["InternLMForCausalLM"]),), frozenset({"1"}), "the first InternLM class"),
    # ChatGLM: the padded vocabulary tells GLM-4 from ChatGLM2/3; the first ChatGLM has none
    _Rule("chatglm", (("padded_vocab_size", 151552),), frozenset({"4"}), "151,552-token padded vocabulary (GLM-4)"),
    _Rule("chatglm", (("padded_vocab_size", 65024),), frozenset({"2", "3"}), "65,024-token padded vocabulary (ChatGLM2 or ChatGLM3)"),
    _Rule("chatglm", (("padded_vocab_size", _ABSENT), ("vocab_size", 130528)), frozenset({"1"}),
          "130,528-token vocabulary without a padded size (the first ChatGLM-6B)"),
    # Baichuan: a 64,000-token vocabulary in the first models, 125,696 in Baichuan 2
    _Rule("baichuan", (("vocab_size", 64000),), frozenset({"1"}), "64,000-token vocabulary (Baichuan 1)"),
    _Rule("baichuan", (("vocab_size", 125696),), frozenset({"2"}), "125,696-token vocabulary (Baichuan 2)"),
)


def _holds(text: dict, key: str, value: object) -> bool:
    if value is _ABSENT:
        return key not in text
    if value is None:
        return text.get(key) is None
    return bool(text.get(key) == value)


def _line_for(model_type: str, model_id: str = "") -> _Line | None:
    tokens = [t.lower() for t in _id_tokens(model_id)] if model_id else []
    for line in _LINES:
        if model_type not in line.model_types:
            continue
        if line.needs_word and not any(t == line.word or (t.startswith(line.word) and _VERSION.match(t[len(line.word):]))
                                       for t in tokens):
            continue
        return line
    return None


def _id_tokens(model_id: str) -> list[str]:
    """The repo name (not the org) split on '-' (underscores inside a token kept: "3_3")."""
    name = model_id.rsplit("/", 1)[-1].split("@", 1)[0]
    return [t for t in name.split("-") if t]


def version_from_name(model_id: str, word: str, how: str = "number") -> str | None:
    """The version written after ``word`` in the id: "Llama-3.1-8B" -> "3.1", "Qwen2.5-7B" -> "2.5", "gemma-3n-E4B" -> "3n".

    Only a token that *is* the family word, or the family word glued to a
    version ("Qwen2.5"), counts; the version must be a bare number (a size
    such as "7b" or "1.1B" is not a version). DeepSeek versions keep their
    "V" ("V3.1") and accept "R1". ``how="v"`` reads a "v0.3" token anywhere
    after the word (Mistral's ids put the size first); ``how="size"`` reads the
    member right after it ("8x22B").
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
        if how == "v":
            for later in tokens[i + 1:]:
                match = _V_TOKEN.match(later)
                if match:
                    return match.group(1)
            return None
        if how == "size":
            match = _SIZE.match(rest)
            return f"{match.group(1)}x{match.group(2)}B" if match else None
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
    sub = config.get("text_config")
    text: dict = sub if isinstance(sub, dict) else config
    if model_type in _TYPE_VERSIONS:
        versions, reason = _TYPE_VERSIONS[model_type]
        return set(versions), reason
    for rule in _RULES:
        if rule.model_type == model_type and all(_holds(text, key, value) for key, value in rule.when):
            return set(rule.versions), rule.reason
    vocab = text.get("vocab_size")
    max_pos = text.get("max_position_embeddings")
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
    if model_type == "qwen2":
        if arch.num_kv_heads == arch.num_heads:
            return {"1.5"}, "qwen2 code without grouped-query attention (Qwen1.5)"
        return {"2", "2.5"}, "qwen2 code with grouped-query attention (Qwen2 or Qwen2.5)"
    return None, None


def _label(line: _Line, version: str) -> str:
    return dict(line.labels).get(version) or line.label.format(v=version)


def _generation(model_id: str, arch: Architecture, config: dict, evidence: list[str]) -> tuple[str | None, str | None]:
    model_type = arch.model_type
    line = _line_for(model_type, model_id)
    if line is None:
        return None, None
    if line.version == "none":
        allowed, reason = _config_versions(model_type, config, arch)
        if "{v}" not in line.label:
            evidence.append(f"generation from the {'id' if line.needs_word else 'config'}: "
                            + (f"the id names {line.word!r}" if line.needs_word else f"model_type {model_type}"))
            return line.label, "name" if line.needs_word else "config"
        if allowed is not None and len(allowed) == 1:
            evidence.append(f"generation from the config: {reason}")
            return _label(line, next(iter(allowed))), "config"
        return None, None
    allowed, reason = (None, None) if line.needs_word else _config_versions(model_type, config, arch)
    named = version_from_name(model_id, line.word, line.version) if model_id else None
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
