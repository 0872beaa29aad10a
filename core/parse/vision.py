"""Vision towers and VLM wrappers (ViT, LLaVA-style, Gemma-3, Llama-4): the language model inside is read by its own builder."""

from __future__ import annotations

from lmscope.core.architecture import (
    FFN,
    Mixer,
    Objective,
    VisionSpec,
)
from lmscope.core.errors import ConfigError
from lmscope.core.parse.decoder import _decoder
from lmscope.core.parse.dims import _finish
from lmscope.core.parse.reader import _DEFAULTS, MAX_HEADS, MAX_HIDDEN, MAX_INTERMEDIATE, MAX_LAYERS, _Reader


def _vision_spec(v: _Reader, kind: str) -> VisionSpec:
    hidden = v.int("hidden_size")
    heads = v.int("num_attention_heads", hi=MAX_HEADS)
    if hidden % heads:
        raise ConfigError(f"config.json: field '{v.where}hidden_size' is not divisible by num_attention_heads")
    return VisionSpec(
        hidden_size=hidden,
        num_layers=v.int("num_hidden_layers", hi=MAX_LAYERS),
        num_heads=heads,
        intermediate_size=v.int("intermediate_size", hi=MAX_INTERMEDIATE),
        image_size=v.int("image_size", hi=1 << 16),
        patch_size=v.int("patch_size", hi=1 << 12),
        kind=kind,
        num_channels=v.int("num_channels", default=3, hi=64),
    )


def _vit(r: _Reader, model_type: str) -> dict:
    vision = _vision_spec(r, "vit")
    n = vision.num_layers
    return _finish({
        "objective": Objective.VISION, "hidden_size": vision.hidden_size, "num_layers": n,
        "num_heads": vision.num_heads, "num_kv_heads": vision.num_heads,
        "head_dim": vision.hidden_size // vision.num_heads, "intermediate_size": vision.intermediate_size,
        "vocab_size": 0, "activation": r.str("hidden_act", default="gelu"), "gated_ffn": False, "norm": "layernorm",
        "norm_bias": True, "attention_bias": r.bool("qkv_bias", default=True), "mlp_bias": True,
        "attention_out_bias": True, "position_encoding": "learned", "rope": None, "vision": vision,
        "pooler": True, "lm_head": False, "final_norm": True,
        "_mixers": [Mixer.FULL] * n, "_ffns": [FFN.DENSE] * n, "_window": None, "_notes": [],
    })


def _vlm(r: _Reader, model_type: str) -> dict:
    from lmscope.core.parse import _BUILDERS  # the table names this builder: imported when it runs

    text_key = {"llava": "llama", "llava_next": "llama", "llava_onevision": "qwen2", "gemma3": "gemma3_text",
                "llama4": "llama4_text"}.get(model_type)
    raw_text = r.raw("text_config") or {}
    if not isinstance(raw_text, dict):
        raise ConfigError("config.json: field 'text_config' must be a JSON object")
    text_type = raw_text.get("model_type") if isinstance(raw_text.get("model_type"), str) else text_key
    text_type = text_type or "llama"
    text = _Reader(raw_text, "text_config.", _DEFAULTS.get(text_type, {}))
    d = _BUILDERS.get(text_type, _decoder)(text, text_type)
    d["objective"] = Objective.VLM
    v_raw = r.raw("vision_config")
    if isinstance(v_raw, dict):
        v_type = v_raw.get("model_type") if isinstance(v_raw.get("model_type"), str) else None
        v_type = v_type or {"gemma3": "siglip_vision_model", "llava_onevision": "siglip_vision_model",
                            "llama4": "llama4_vision_model"}.get(model_type, "clip_vision_model")
        v = _Reader(v_raw, "vision_config.", _DEFAULTS.get(v_type, {}))
        kind = {"clip_vision_model": "clip", "siglip_vision_model": "siglip", "llama4_vision_model": "llama4"}.get(v_type)
        if kind is None or model_type not in _BUILDERS:
            d["_notes_extra"] = (f"vision tower ({v_type}) not counted by the analytic formulas "
                                 "(the exact count includes it)",)
            v_raw = None
    if isinstance(v_raw, dict) and kind is not None:
        spec = _vision_spec(v, kind)
        text_hidden = d["hidden_size"]
        if kind == "siglip" and v.bool("vision_use_head", default=True):
            spec = _replace(spec, kind="siglip_head")
        if model_type == "gemma3":
            spec = _replace(spec, projector="gemma3", projector_dims=(text_hidden,))
        elif model_type == "llama4":
            spec = _replace(spec, projector="llama4", projector_dims=(
                v.int("projector_input_dim", hi=MAX_HIDDEN), v.int("projector_output_dim", hi=MAX_HIDDEN),
                v.int("vision_output_dim", hi=MAX_HIDDEN), text_hidden,
                int(v.bool("multi_modal_projector_bias"))))
        else:
            spec = _replace(spec, projector="mlp2", projector_dims=(text_hidden, int(r.bool("multimodal_projector_bias", default=True))))
        d["vision"] = spec
    d["notes"] = d["notes"] + d.pop("_notes_extra", ())
    if model_type in ("llava_next", "llava_onevision"):
        d["extra_dims"] = d.get("extra_dims", ()) + (("image_newline", d["hidden_size"]),)
    # the wrapper's tie flag wins over the text config's (transformers reads the top-level one);
    # LLaVA-style configs also tie when only the text config says so (configuration_llava.py)
    if model_type in ("llava", "llava_onevision", "llava_next_video"):
        d["tied_embeddings"] = r.bool("tie_word_embeddings", default=False) or d["tied_embeddings"]
    elif model_type == "llama4":
        pass  # Llama4ForConditionalGeneration holds a whole Llama4ForCausalLM: its text config's flag decides
    elif r.raw("tie_word_embeddings") is not None:
        d["tied_embeddings"] = r.bool("tie_word_embeddings")
    elif model_type == "llava":
        d["tied_embeddings"] = False
    return d


def _replace(spec: VisionSpec, **changes) -> VisionSpec:
    from dataclasses import replace

    return replace(spec, **changes)
