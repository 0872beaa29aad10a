"""The sweep's oracle: any config dict's class, built on the meta device, counted by torch.

Written apart from ``lmscope.core.exact`` on purpose (tests never compare the
engine with itself): the class comes from transformers' own auto mappings,
the count is ``sum(p.numel() for p in model.parameters())`` (tied tensors
once). Results are memoized per process by the canonical JSON of the config.
"""

from __future__ import annotations

import functools
import json
import logging
import warnings


def _quiet() -> None:
    from transformers.utils import logging as hf_logging

    hf_logging.set_verbosity_error()
    logging.getLogger("transformers").setLevel(logging.ERROR)
    warnings.filterwarnings("ignore")


def head_class_name(model_type: str) -> str | None:
    """The head class's name from the first mapping that knows the type (nothing is imported)."""
    from transformers.models.auto import modeling_auto

    for mapping in HEAD_MAPPINGS:
        name = getattr(modeling_auto, mapping).get(model_type)
        if isinstance(name, str):
            return name
    return None


def head_class(model_type: str, arch: str | None = None):
    """The class for ``arch`` when transformers has it, else the first head mapping's class."""
    import transformers

    for name in (arch, head_class_name(model_type)):
        if name and isinstance(getattr(transformers, name, None), type):
            return getattr(transformers, name)
    return None


# In order of preference: a type with several heads is swept with the most complete one
# (BART's seq2seq class, not its decoder-only ForCausalLM; BERT's masked-LM class).
HEAD_MAPPINGS = (
    "MODEL_FOR_SPEECH_SEQ_2_SEQ_MAPPING_NAMES",
    "MODEL_FOR_SEQ_TO_SEQ_CAUSAL_LM_MAPPING_NAMES",
    "MODEL_FOR_IMAGE_TEXT_TO_TEXT_MAPPING_NAMES",
    "MODEL_FOR_MASKED_LM_MAPPING_NAMES",
    "MODEL_FOR_CAUSAL_LM_MAPPING_NAMES",
)


@functools.lru_cache(maxsize=8)
def _meta_model(canonical: str):
    import torch
    from transformers import CONFIG_MAPPING

    _quiet()
    config = json.loads(canonical)
    model_type = config["model_type"]
    archs = config.get("architectures") or [None]
    hf_config = CONFIG_MAPPING[model_type].from_dict({k: v for k, v in config.items() if k != "auto_map"})
    cls = head_class(model_type, archs[0])
    with torch.device("meta"):
        return cls._from_config(hf_config)


@functools.cache
def _meta_total(canonical: str) -> int:
    return sum(p.numel() for p in _meta_model(canonical).parameters())


def meta_linear_modules(config: dict) -> list[tuple[int, int]]:
    """(in, out) of every ``nn.Linear``/``Conv1D`` module of ``config``'s class but its output head and pooler —
    the modules PEFT's ``target_modules="all-linear"`` adapts (walked on the class, not named by lmscope)."""
    import torch
    from transformers.pytorch_utils import Conv1D

    model = _meta_model(json.dumps(config, sort_keys=True, default=str))
    head = model.get_output_embeddings()
    out = []
    for name, module in model.named_modules():
        if module is head or "pooler" in name.split("."):
            continue
        if isinstance(module, torch.nn.Linear):
            out.append((module.in_features, module.out_features))
        elif isinstance(module, Conv1D):
            out.append((module.weight.shape[0], module.weight.shape[1]))
    return out


def meta_total(config: dict) -> int:
    """Unique parameters of ``config``'s class (architectures[0], else the head mapping's class)."""
    return _meta_total(json.dumps(config, sort_keys=True, default=str))
