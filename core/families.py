"""Which family a model belongs to, from its config or GGUF metadata.

Why a table: families are added every month and each one is a fact
("model_type X is family Y"), not logic. One row per family keeps the facts in
one place, lets tests check the table for duplicates, and keeps detection a
lookup instead of a growing if-chain. Rows are tried in order of specificity:
an exact ``model_type`` match first, then an ``architectures[0]`` prefix, then a
GGUF ``general.architecture`` name. Name hints (the repo id) only refine a
family whose members share a model_type (Phi-3 / Phi-3.5 / Phi-4, Yi on the
Llama code).
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Family:
    """One model family and every name it is known by."""

    name: str
    model_types: tuple[str, ...] = ()
    architecture_prefixes: tuple[str, ...] = ()  # architectures[0] starts with one of these
    gguf_archs: tuple[str, ...] = ()


FAMILIES: tuple[Family, ...] = (
    Family("Llama", ("llama",), ("LlamaFor", "LlamaModel"), ("llama",)),
    Family("Llama-4", ("llama4", "llama4_text"), ("Llama4",), ("llama4",)),
    Family("Mistral", ("mistral", "mistral3", "ministral"), ("MistralFor", "Mistral3"), ()),
    Family("Mixtral", ("mixtral",), ("MixtralFor",), ()),
    Family("Qwen2", ("qwen2",), ("Qwen2For",), ("qwen2",)),
    Family("Qwen2-MoE", ("qwen2_moe",), ("Qwen2MoeFor",), ("qwen2moe",)),
    Family("Qwen2-VL", ("qwen2_vl", "qwen2_5_vl"), ("Qwen2VL", "Qwen2_5_VL"), ("qwen2vl",)),
    Family("Qwen3", ("qwen3",), ("Qwen3For",), ("qwen3",)),
    Family("Qwen3-MoE", ("qwen3_moe",), ("Qwen3MoeFor",), ("qwen3moe",)),
    Family("Qwen3-Next", ("qwen3_next",), ("Qwen3NextFor",), ("qwen3next",)),
    Family("DeepSeek-V2", ("deepseek_v2",), ("DeepseekV2",), ("deepseek2",)),
    Family("DeepSeek-V3", ("deepseek_v3",), ("DeepseekV3",), ()),
    Family("DeepSeek-V3.2", ("deepseek_v32",), ("DeepseekV32",), ()),
    Family("Kimi-K2", ("kimi_k2",), (), ()),
    Family("Gemma", ("gemma",), ("GemmaFor",), ("gemma",)),
    Family("Gemma-2", ("gemma2",), ("Gemma2",), ("gemma2",)),
    Family("Gemma-3", ("gemma3", "gemma3_text"), ("Gemma3",), ("gemma3",)),
    Family("Gemma-3n", ("gemma3n", "gemma3n_text"), ("Gemma3n",), ("gemma3n",)),
    Family("Phi", ("phi",), ("PhiFor",), ("phi2",)),
    Family("Phi-3", ("phi3",), ("Phi3For",), ("phi3",)),
    Family("Phi-3.5-MoE", ("phimoe",), ("PhiMoE",), ()),
    Family("Falcon", ("falcon", "RefinedWebModel", "RefinedWeb"), ("FalconFor", "RWFor"), ("falcon",)),
    Family("Falcon-H1", ("falcon_h1",), ("FalconH1",), ()),
    Family("Falcon-Mamba", ("falcon_mamba",), ("FalconMamba",), ()),
    Family("MPT", ("mpt",), ("MPTFor", "MptFor"), ("mpt",)),
    Family("BLOOM", ("bloom",), ("BloomFor",), ("bloom",)),
    Family("OPT", ("opt",), ("OPTFor",), ()),
    Family("GPT-2", ("gpt2",), ("GPT2",), ("gpt2",)),
    Family("GPT-J", ("gptj",), ("GPTJ",), ("gptj",)),
    Family("GPT-Neo", ("gpt_neo",), ("GPTNeoFor",), ()),
    Family("GPT-NeoX", ("gpt_neox",), ("GPTNeoX",), ("gptneox",)),
    Family("GPT-BigCode", ("gpt_bigcode",), ("GPTBigCode",), ("starcoder",)),
    Family("BERT", ("bert",), ("BertFor", "BertModel"), ("bert",)),
    Family("RoBERTa", ("roberta", "xlm-roberta"), ("Roberta", "XLMRoberta"), ()),
    Family("DistilBERT", ("distilbert",), ("DistilBert",), ()),
    Family("ModernBERT", ("modernbert",), ("ModernBert",), ()),
    Family("T5", ("t5", "mt5", "umt5"), ("T5", "MT5", "UMT5"), ("t5",)),
    Family("BART", ("bart", "mbart"), ("Bart", "MBart"), ()),
    Family("Whisper", ("whisper",), ("Whisper",), ()),
    Family("ViT", ("vit",), ("ViT",), ()),
    Family("CLIP", ("clip", "siglip"), ("CLIP", "Siglip"), ("clip",)),
    Family("LLaVA", ("llava", "llava_next", "llava_onevision"), ("Llava",), ()),
    Family("Mamba", ("mamba",), ("MambaFor", "MambaModel"), ("mamba",)),
    Family("Mamba-2", ("mamba2",), ("Mamba2",), ("mamba2",)),
    Family("Jamba", ("jamba",), ("Jamba",), ("jamba",)),
    Family("Nemotron-H", ("nemotron_h",), ("NemotronH",), ("nemotron_h",)),
    Family("Nemotron", ("nemotron",), ("NemotronFor",), ("nemotron",)),
    Family("Nemotron-NAS", ("nemotron-nas", "deci", "deci_lm"), ("DeciLM",), ("deci",)),
    Family("GLM", ("chatglm", "glm", "glm4"), ("ChatGLM", "GlmFor", "Glm4For"), ("chatglm", "glm4")),
    Family("GLM-4-MoE", ("glm4_moe",), ("Glm4Moe",), ("glm4moe",)),
    Family("MiMo", ("mimo",), ("MiMo",), ()),
    Family("gpt-oss", ("gpt_oss",), ("GptOss",), ("gpt-oss",)),
    Family("LFM2", ("lfm2",), ("Lfm2",), ("lfm2",)),
    Family("Granite", ("granite",), ("GraniteFor",), ("granite",)),
    Family("Granite-MoE", ("granitemoe", "granitemoehybrid", "granitemoeshared"), ("GraniteMoe",), ("granitemoe",)),
    Family("OLMo", ("olmo", "olmo2", "olmo3"), ("OlmoFor", "Olmo2", "Olmo3"), ("olmo", "olmo2")),
    Family("OLMoE", ("olmoe",), ("Olmoe",), ("olmoe",)),
    Family("Cohere", ("cohere", "cohere2"), ("Cohere",), ("command-r", "cohere2")),
    Family("StarCoder2", ("starcoder2",), ("Starcoder2",), ("starcoder2",)),
    Family("InternLM", ("internlm", "internlm2", "internlm3"), ("InternLM",), ("internlm2",)),
    Family("Baichuan", ("baichuan",), ("Baichuan",), ("baichuan",)),
    Family("StableLM", ("stablelm", "stablelm_epoch"), ("StableLm",), ("stablelm",)),
    Family("DBRX", ("dbrx",), ("Dbrx",), ("dbrx",)),
    Family("Persimmon", ("persimmon",), ("Persimmon",), ()),
    Family("MiniMax", ("minimax", "minimax_m1", "minimax_m2"), ("MiniMax",), ()),
    Family("SmolLM3", ("smollm3",), ("SmolLM3",), ("smollm3",)),
    Family("EXAONE", ("exaone", "exaone4"), ("Exaone",), ("exaone", "exaone4")),
    Family("ERNIE-4.5", ("ernie4_5", "ernie4_5_moe"), ("Ernie4_5",), ("ernie4_5",)),
    Family("Hunyuan", ("hunyuan_v1_dense", "hunyuan_v1_moe"), ("HunYuan",), ()),
    Family("Seed-OSS", ("seed_oss",), ("SeedOss",), ("seed_oss",)),
    Family("Apertus", ("apertus",), ("Apertus",), ()),
    Family("Arcee", ("arcee",), ("Arcee",), ()),
    Family("Bamba", ("bamba",), ("Bamba",), ()),
    Family("RWKV", ("rwkv", "rwkv5", "rwkv6", "rwkv7"), ("Rwkv",), ("rwkv6", "rwkv7")),
)

# Refinements by name for families that share a model_type: (family, needle in the
# lower-cased repo id / _name_or_path, refined family). First match wins.
_NAME_REFINEMENTS: tuple[tuple[str, str, str], ...] = (
    ("Phi-3", "phi-4", "Phi-4"),
    ("Phi-3", "phi-3.5", "Phi-3.5"),
    ("Phi-3", "phi-3_5", "Phi-3.5"),
    ("Llama", "yi-", "Yi"),
    ("Llama", "/yi", "Yi"),
    ("Llama", "tinyllama", "TinyLlama"),
    ("Llama", "deepseek-r1-distill-llama", "DeepSeek-R1-Distill (Llama)"),
    ("Qwen2", "deepseek-r1-distill-qwen", "DeepSeek-R1-Distill (Qwen)"),
    ("Nemotron-H", "nemotron-3", "Nemotron-3"),
    ("Mistral", "codestral", "Codestral"),
    ("Phi", "phi-1", "Phi-1"),
    ("GLM", "glm-4", "GLM-4"),
    ("GLM", "chatglm", "ChatGLM"),
)

_BY_MODEL_TYPE: dict[str, Family] = {mt.lower(): f for f in FAMILIES for mt in f.model_types}
_BY_GGUF: dict[str, Family] = {g.lower(): f for f in FAMILIES for g in f.gguf_archs}


def detect_family(
    model_type: str | None,
    architectures: tuple[str, ...] | list[str] | None = (),
    gguf_arch: str | None = None,
    name: str | None = None,
) -> str:
    """The human family name ("Qwen3-MoE", "DeepSeek-V3", ...) for a model.

    ``name`` (a repo id or ``_name_or_path``) only refines families that share a
    model_type. Nothing matched gives ``"Unknown (<model_type>)"``.
    """
    family = _lookup(model_type, architectures or (), gguf_arch)
    if family is None:
        label = model_type or gguf_arch or (architectures[0] if architectures else None) or "?"
        return f"Unknown ({label})"
    return _refine(family.name, name)


def _lookup(model_type: str | None, architectures, gguf_arch: str | None) -> Family | None:
    if isinstance(model_type, str) and model_type.lower() in _BY_MODEL_TYPE:
        return _BY_MODEL_TYPE[model_type.lower()]
    arch0 = architectures[0] if architectures and isinstance(architectures[0], str) else None
    if arch0:
        best: tuple[int, Family] | None = None
        for fam in FAMILIES:
            for prefix in fam.architecture_prefixes:
                if arch0.startswith(prefix) and (best is None or len(prefix) > best[0]):
                    best = (len(prefix), fam)
        if best is not None:
            return best[1]
    if isinstance(gguf_arch, str) and gguf_arch.lower() in _BY_GGUF:
        return _BY_GGUF[gguf_arch.lower()]
    return None


def _refine(family: str, name: str | None) -> str:
    if not name:
        return family
    lowered = name.lower()
    for fam, needle, refined in _NAME_REFINEMENTS:
        if fam == family and needle in lowered:
            return refined
    return family


def family_names() -> tuple[str, ...]:
    """Every family name in the table (refinements not included)."""
    return tuple(f.name for f in FAMILIES)
