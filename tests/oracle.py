"""Independent oracles for tests: real transformers classes built on the meta device.

Why: every parameter count and FLOP figure lmscope prints is checked against
the model class itself (``sum(p.numel() for p in model.parameters())`` of the
class named by ``architectures[0]``) and against
``torch.utils.flop_counter.FlopCounterMode`` over a meta-device forward. This
module is written apart from ``lmscope.core.exact`` on purpose — tests must
never compare the engine with itself.

Models are cached per process (``functools.lru_cache``) so each config is
instantiated once per test session; meta tensors allocate nothing, so even a
671B model costs only seconds.
"""

from __future__ import annotations

import copy
import functools
import json
import logging
import warnings
from pathlib import Path

FIXTURES = Path(__file__).parent / "fixtures"
CONFIG_DIR = FIXTURES / "configs"

# Configs whose model_type transformers does not know but whose architecture is
# native under another name (the checkpoints were written before the port).
_MODEL_TYPE_ALIASES = {"RefinedWebModel": "falcon", "RefinedWeb": "falcon", "kimi_k2": "deepseek_v3"}


def config_names() -> list[str]:
    """Every fixture folder name (``org--name``), sorted."""
    return sorted(p.parent.name for p in CONFIG_DIR.glob("*/config.json"))


def load_config(name: str) -> dict:
    """The raw config.json dict of one fixture."""
    return json.loads((CONFIG_DIR / name / "config.json").read_text())


def _oracle_model_type(config: dict) -> str | None:
    mt = config.get("model_type")
    if mt is None and "type_vocab_size" in config and config.get("max_position_embeddings") == 514:
        return "roberta"  # FacebookAI/roberta-base ships no model_type
    return _MODEL_TYPE_ALIASES.get(mt, mt)


def _quiet() -> None:
    from transformers.utils import logging as hf_logging

    hf_logging.set_verbosity_error()
    logging.getLogger("transformers").setLevel(logging.ERROR)
    warnings.filterwarnings("ignore")


def build_hf_config(config: dict):
    """A transformers config object for this dict, or None when transformers lacks the type."""
    from transformers import CONFIG_MAPPING

    _quiet()
    mt = _oracle_model_type(config)
    if mt not in CONFIG_MAPPING:
        return None
    data = copy.deepcopy(config)
    data.pop("auto_map", None)
    data.pop("quantization_config", None)  # meta instantiation of the float class
    data["model_type"] = mt
    return CONFIG_MAPPING[mt].from_dict(data)


def model_class(config: dict, hf_config):
    """The class named by architectures[0] when transformers has it, else the base AutoModel class."""
    import transformers

    archs = config.get("architectures") or []
    if archs and hasattr(transformers, archs[0]):
        return getattr(transformers, archs[0])
    if archs and archs[0].endswith("ForCausalLM"):
        return transformers.AutoModelForCausalLM._model_mapping[type(hf_config)]
    return transformers.AutoModel._model_mapping[type(hf_config)]


@functools.lru_cache(maxsize=None)
def meta_model(name: str):
    """The fixture's model class instantiated on the meta device (None if not native)."""
    import torch

    config = load_config(name)
    hf_config = build_hf_config(config)
    if hf_config is None:
        return None
    cls = model_class(config, hf_config)
    with torch.device("meta"):
        model = cls._from_config(hf_config)
    return model


@functools.lru_cache(maxsize=None)
def oracle_total(name: str) -> int | None:
    """Unique parameters of the fixture's class (tied weights once), or None if not native."""
    model = meta_model(name)
    if model is None:
        return None
    return sum(p.numel() for p in model.parameters())


@functools.lru_cache(maxsize=None)
def oracle_named_counts(name: str) -> tuple[tuple[str, int], ...]:
    """(parameter name, numel) for every unique parameter of the fixture's class."""
    model = meta_model(name)
    if model is None:
        return ()
    return tuple((n, p.numel()) for n, p in model.named_parameters())


@functools.lru_cache(maxsize=None)
@functools.lru_cache(maxsize=None)
def oracle_named_shapes(name: str) -> tuple[tuple[str, tuple[int, ...]], ...]:
    """(parameter name, shape) for every unique parameter of the fixture's class."""
    model = meta_model(name)
    if model is None:
        return ()
    return tuple((n, tuple(p.shape)) for n, p in model.named_parameters())


@functools.lru_cache(maxsize=None)
def oracle_prefill_flops(name: str, seq_len: int, batch: int = 1, attn: str = "sdpa") -> int:
    """FlopCounterMode total of one meta-device forward over batch × seq_len tokens.

    Uses ``attn`` ("sdpa" or "eager"); classes without SDPA support need "eager".
    """
    import torch
    from torch.utils.flop_counter import FlopCounterMode

    config = load_config(name)
    hf_config = build_hf_config(config)
    hf_config._attn_implementation = attn
    cls = model_class(config, hf_config)
    # MoE: the "batched_mm" experts path multiplies each (token, routed expert) pair with a bmm whose
    # shape does not depend on the routing data, so it runs on meta and the counter sees top-k work.
    extra = {"experts_implementation": "batched_mm"} if getattr(cls, "_can_set_experts_implementation", None) else {}
    with torch.device("meta"):
        try:
            model = cls._from_config(hf_config, attn_implementation=attn, **extra)
        except (TypeError, ValueError):
            if not extra:
                raise
            model = cls._from_config(hf_config, attn_implementation=attn)
    model.eval()
    ids = torch.zeros((batch, seq_len), dtype=torch.long, device="meta")
    kwargs = {"input_ids": ids}
    args = _forward_args(model)
    if "use_cache" in args:
        kwargs["use_cache"] = False
    if "decoder_input_ids" in args:
        kwargs["decoder_input_ids"] = ids
    counter = FlopCounterMode(display=False)
    # transformers inspects position_ids for packed sequences with a data-dependent
    # .item(), impossible on meta tensors; packing does not change any FLOP count.
    import transformers.masking_utils as masking

    original = masking.find_packed_sequence_indices
    masking.find_packed_sequence_indices = lambda position_ids: None
    try:
        with torch.no_grad(), counter:
            model(**kwargs)
    finally:
        masking.find_packed_sequence_indices = original
    return counter.get_total_flops()


def _forward_args(model) -> set[str]:
    import inspect

    return set(inspect.signature(model.forward).parameters)
