"""Independent oracles for tests: transformers' own classes built on the meta device.

Why: every parameter count and FLOP figure lmscope prints is checked against
the model class itself (``sum(p.numel() for p in model.parameters())``) and
against ``torch.utils.flop_counter.FlopCounterMode`` over a meta-device
forward. Nothing here repeats a decision of ``lmscope.core.exact`` or
``lmscope.core.parse``: no alias table, no guessing a missing ``model_type``,
nothing dropped from the config. The choices are transformers' own:

- the config class: ``CONFIG_MAPPING[model_type]``; when transformers does not
  know the ``model_type`` but ``architectures[0]`` names a class it ships, that
  class's own ``config_class`` (the checkpoint says which class reads it).
  Anything else is "not native" (``None``): those fixtures are checked by hand
  from their modeling code or published sizes (tests/test_params.py lists them).
- the model class: the Auto class of the checkpoint's task (``AUTO_BY_TASK``,
  read from the suffix of ``architectures[0]``) asked for this config type —
  ``AutoModelForCausalLM.from_config`` and so on. Where transformers' Auto
  class for that task is not the class ``architectures[0]`` names, the counts
  can legitimately differ (another head); ``auto_class_differs`` reports it
  and the tests say so instead of comparing.
- matmul weights per token (``oracle_matmul_per_token``): the weights of every
  ``nn.Linear``/``Conv1D`` a text token passes through, plus the routed share
  of fused expert tensors (``num_experts_per_tok`` of their leading experts
  dimension) and router matrices — walked on the meta model, not classified
  by name the way lmscope does.

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

# The checkpoint's task, from the suffix transformers gives its task heads, and the
# Auto classes that serve it (tried in order: the first that knows the config type).
AUTO_BY_TASK = (
    ("ForCausalLM", ("AutoModelForCausalLM",)),
    ("LMHeadModel", ("AutoModelForCausalLM",)),
    ("ForMaskedLM", ("AutoModelForMaskedLM",)),
    ("ForConditionalGeneration", ("AutoModelForImageTextToText", "AutoModelForSeq2SeqLM", "AutoModelForSpeechSeq2Seq")),
    ("Model", ("AutoModel",)),
)


def config_names() -> list[str]:
    """Every fixture folder name (``org--name``), sorted."""
    return sorted(p.parent.name for p in CONFIG_DIR.glob("*/config.json"))


def load_config(name: str) -> dict:
    """The raw config.json dict of one fixture."""
    return json.loads((CONFIG_DIR / name / "config.json").read_text())


def _quiet() -> None:
    from transformers.utils import logging as hf_logging

    hf_logging.set_verbosity_error()
    logging.getLogger("transformers").setLevel(logging.ERROR)
    warnings.filterwarnings("ignore")


def _first_architecture(config: dict) -> str:
    archs = config.get("architectures") or []
    return archs[0] if archs and isinstance(archs[0], str) else ""


def build_hf_config(config: dict):
    """transformers' config object for this dict (see the module docstring), or None when not native."""
    import transformers
    from transformers import CONFIG_MAPPING

    _quiet()
    data = copy.deepcopy(config)
    model_type = config.get("model_type")
    if model_type in CONFIG_MAPPING:
        return CONFIG_MAPPING[model_type].from_dict(data)
    named = getattr(transformers, _first_architecture(config), None) if _first_architecture(config) else None
    config_class = getattr(named, "config_class", None)
    if config_class is not None:
        data.pop("model_type", None)
        return config_class.from_dict(data)
    return None


def auto_class(config: dict, hf_config):
    """The Auto class for the checkpoint's task that knows this config type (``AutoModel`` as the fallback)."""
    import transformers

    arch = _first_architecture(config)
    for suffix, names in AUTO_BY_TASK:
        if arch.endswith(suffix):
            for name in names:
                auto = getattr(transformers, name)
                if type(hf_config) in auto._model_mapping:
                    return auto
    return transformers.AutoModel


def model_class(config: dict, hf_config):
    """The concrete class transformers' Auto class picks for this config."""
    return auto_class(config, hf_config)._model_mapping[type(hf_config)]


def auto_class_differs(name: str) -> bool:
    """True when the Auto class's choice is not the class ``architectures[0]`` names (counts may differ)."""
    config = load_config(name)
    hf_config = build_hf_config(config)
    return hf_config is not None and model_class(config, hf_config).__name__ != _first_architecture(config)


@functools.cache
def meta_model(name: str):
    """The fixture's model, as transformers' Auto class builds it, on the meta device (None if not native)."""
    import torch

    config = load_config(name)
    hf_config = build_hf_config(config)
    if hf_config is None:
        return None
    with torch.device("meta"):
        return auto_class(config, hf_config).from_config(hf_config)


@functools.cache
def oracle_total(name: str) -> int | None:
    """Unique parameters of the fixture's class (tied weights once), or None if not native."""
    model = meta_model(name)
    if model is None:
        return None
    return sum(p.numel() for p in model.parameters())


@functools.cache
def oracle_named_counts(name: str) -> tuple[tuple[str, int], ...]:
    """(parameter name, numel) for every unique parameter of the fixture's class."""
    model = meta_model(name)
    if model is None:
        return ()
    return tuple((n, p.numel()) for n, p in model.named_parameters())


@functools.cache
def oracle_named_shapes(name: str) -> tuple[tuple[str, tuple[int, ...]], ...]:
    """(parameter name, shape) for every unique parameter of the fixture's class."""
    model = meta_model(name)
    if model is None:
        return ()
    return tuple((n, tuple(p.shape)) for n, p in model.named_parameters())


@functools.cache
def oracle_matmul_per_token(name: str) -> int | None:
    """Weights one text token multiplies by, walked on the meta model (None if not native).

    Counted: every ``nn.Linear``/``Conv1D`` weight (not biases) of the language
    model and its output head; of a fused experts tensor (3-D, leading dimension
    = experts) the ``num_experts_per_tok`` share a token is routed to; router
    matrices held as plain parameters. Not counted, each for a general reason:
    embedding lookups and norms (no matrix product); a ``pooler`` (it reads the
    first token of a sequence once, not every token); a vision tower and its
    projector in an image-text model (they act on image patches — only the
    ``language_model`` and the output head see text tokens).
    """
    import torch
    from transformers.pytorch_utils import Conv1D

    model = meta_model(name)
    if model is None:
        return None
    top_k = _top_k(model)
    total = 0
    for module_name, module in _text_path_modules(model, with_head=True):
        if isinstance(module, (torch.nn.Linear, Conv1D)):
            total += module.weight.numel()
            continue
        kind = (module_name + type(module).__name__).lower()
        for param_name, param in module.named_parameters(recurse=False):
            if param.ndim == 3 and "expert" in kind:
                assert top_k, f"{name}: fused experts but no num_experts_per_tok"
                total += param.numel() * top_k // param.shape[0]
            elif param.ndim == 2 and "router" in kind and "bias" not in param_name:
                total += param.numel()
    return total


def _top_k(model) -> int | None:
    text_config = getattr(model.config, "text_config", None) or model.config
    return getattr(text_config, "num_experts_per_tok", None)


def _text_path_modules(model, *, with_head: bool):
    """(name, module) for every module a text token passes through: the ``language_model`` of an
    image-text model (else the whole model) and, with ``with_head``, the output head; no ``pooler``."""
    language_model = next((m for n, m in model.named_modules() if n.split(".")[-1] == "language_model"), None)
    head = model.get_output_embeddings()
    roots = [language_model] if language_model is not None else [model]
    if with_head and language_model is not None:
        roots.append(head)
    seen: set[int] = set()
    for root in roots:
        if root is None:
            continue
        for module_name, module in root.named_modules():
            if id(module) in seen or "pooler" in module_name.split("."):
                continue
            seen.add(id(module))
            if not with_head and module is head:
                continue
            yield module_name, module


@functools.cache
def oracle_linear_shapes(name: str) -> tuple[tuple[int, int, int], ...] | None:
    """(d_in, d_out, how many) of every weight matrix a text token can pass through, output head excluded:
    each ``nn.Linear``/``Conv1D`` and, for a fused experts tensor [E, a, b], E matrices — the matrices a
    weight-only quantizer or PEFT's "all-linear" touches (None if not native). The two layouts of a fused
    tensor are told apart by the module's Linear-like neighbours only in shape, so experts report (a, b)."""
    import torch
    from transformers.pytorch_utils import Conv1D

    model = meta_model(name)
    if model is None:
        return None
    out = []
    for module_name, module in _text_path_modules(model, with_head=False):
        if isinstance(module, torch.nn.Linear):
            out.append((module.in_features, module.out_features, 1))
        elif isinstance(module, Conv1D):
            out.append((module.weight.shape[0], module.weight.shape[1], 1))
        elif "expert" in (module_name + type(module).__name__).lower():
            out.extend((p.shape[1], p.shape[2], p.shape[0]) for p in module.parameters(recurse=False) if p.ndim == 3)
    return tuple(out)


@functools.cache
def oracle_prefill_flops(name: str, seq_len: int, batch: int = 1, attn: str = "sdpa") -> int:
    """FlopCounterMode total of one meta-device forward over batch × seq_len tokens.

    Uses ``attn`` ("sdpa" or "eager"); classes without SDPA support need "eager".
    """
    import torch
    from torch.utils.flop_counter import FlopCounterMode

    config = load_config(name)
    hf_config = build_hf_config(config)
    hf_config._attn_implementation = attn
    cls = model_class(config, hf_config)  # the Auto class's choice, as for the counts
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


def _routed_share(model) -> tuple[int, int]:
    """(parameters in fused expert tensors, the part of them one token is routed to)."""
    hf_config = model.config
    text_config = getattr(hf_config, "text_config", None) or hf_config
    top_k = getattr(text_config, "num_experts_per_tok", None)
    stored = routed = 0
    for module_name, module in model.named_modules():
        params = list(module.parameters(recurse=False))
        fused = any(p.ndim == 3 for p in params)  # [experts, a, b]: a fused experts module (shared experts are Linear)
        if not fused or "expert" not in (module_name + type(module).__name__).lower():
            continue
        for param in params:  # its weights and per-expert biases, all led by the experts dimension
            stored += param.numel()
            routed += param.numel() * top_k // param.shape[0]
    return stored, routed


@functools.cache
def oracle_active_per_token(name: str) -> int | None:
    """Parameters one token touches: the total less the experts it is not routed to (None if not native)."""
    model = meta_model(name)
    return None if model is None else active_per_token_of(model)


def active_per_token_of(model) -> int:
    """:func:`oracle_active_per_token` for a model already built (e.g. from a default config)."""
    stored, routed = _routed_share(model)
    return sum(p.numel() for p in model.parameters()) - stored + routed


@functools.cache
def oracle_components(name: str) -> dict[str, int] | None:
    """Embeddings, norms and LM head of a decoder-only language model, read off module types (None otherwise).

    ``embeddings``: every ``nn.Embedding``; ``lm_head``: the output module's own
    parameters unless they are the embedding's (tied); ``norms``: normalisation
    modules (class name containing "Norm") that are a child of a decoder layer
    or of the model itself — one inside a sub-block (q/k norms, gated norms in
    a mixer) belongs to that sub-block. Encoders (BERT, ViT, seq2seq) and
    image-text models place norms inside sublayer outputs, so they are left out.
    """
    model = meta_model(name)
    return None if model is None else components_of(model)


def components_of(model) -> dict[str, int] | None:
    """:func:`oracle_components` for a model already built (None unless a decoder-only language model)."""
    import torch

    names = {n.split(".")[-1] for n, _ in model.named_modules()}
    if model.get_output_embeddings() is None or names & {"encoder", "language_model", "vision_tower", "vision_model"}:
        return None
    layers = {n for n, m in model.named_modules() if isinstance(m, torch.nn.ModuleList)}
    parents = {n for n, m in model.named_modules() if n.rsplit(".", 1)[0] in layers} | {n for n, m in model.named_modules() if n.count(".") <= 1}
    embedding_ids = {id(m.weight) for m in model.modules() if isinstance(m, torch.nn.Embedding)}
    out = {"embeddings": 0, "norms": 0, "lm_head": 0}
    seen: set[int] = set()
    for module_name, module in model.named_modules():
        parent = module_name.rsplit(".", 1)[0] if "." in module_name else ""
        for param in module.parameters(recurse=False):
            if id(param) in seen:
                continue
            seen.add(id(param))
            if isinstance(module, torch.nn.Embedding):
                out["embeddings"] += param.numel()
            elif "norm" in type(module).__name__.lower() and (parent in parents or parent == ""):
                out["norms"] += param.numel()
    head = model.get_output_embeddings()
    if head is not None and id(head.weight) not in embedding_ids:
        out["lm_head"] = sum(p.numel() for p in head.parameters())
    return out


def default_class_on_meta(hf_config):
    """(class, model on the meta device, its config dict with ``architectures``) for a transformers
    default config: the causal-LM class where there is one, else the base model class."""
    import torch
    import transformers

    mapping = transformers.AutoModelForCausalLM._model_mapping
    cls = mapping[type(hf_config)] if type(hf_config) in mapping else transformers.AutoModel._model_mapping[type(hf_config)]
    with torch.device("meta"):
        model = cls._from_config(hf_config)
    config = hf_config.to_dict()
    config["architectures"] = [cls.__name__]
    return cls, model, config


def counted_prefill(model, seq_len: int = 64, batch: int = 2):
    """The FlopCounterMode that watched one no-cache prefill of ``batch`` × ``seq_len`` zeros on the meta device."""
    import torch
    from torch.utils.flop_counter import FlopCounterMode

    counter = FlopCounterMode(display=False)
    with torch.no_grad(), counter:
        model(input_ids=torch.zeros((batch, seq_len), dtype=torch.long, device="meta"), use_cache=False)
    return counter
