"""Reading one config dict safely: limits, transformers' defaults and the typed, range-checked reader.

Why apart: configs are untrusted input (any Hub repo, any local file); every number is type- and
range-checked here before any builder uses it, and nothing is allocated from a size the file claims
(``num_hidden_layers`` is capped at :data:`MAX_LAYERS` before a per-layer tuple is built).
"""

from __future__ import annotations

import builtins
import math

from lmscope.core.errors import ConfigError

MAX_LAYERS = 10_000


MAX_HIDDEN = 1 << 20


MAX_HEADS = 1 << 14


MAX_VOCAB = 1 << 24


MAX_INTERMEDIATE = 1 << 23


MAX_EXPERTS = 1 << 16


MAX_POSITIONS = 1 << 36


# model_type aliases: checkpoints written before their architecture was ported.
MODEL_TYPE_ALIASES = {"RefinedWebModel": "falcon", "RefinedWeb": "falcon"}

# A remote-code class whose checkpoints sometimes carry an older model_type: the class named in
# ``architectures`` is the code that runs (InternLM2's first uploads still said model_type "internlm").
CLASS_MODEL_TYPES = {("internlm", "InternLM2ForCausalLM"): "internlm2"}


# tie_word_embeddings when the config omits it: the default of transformers' config class.
_TIE_DEFAULT_TRUE = frozenset(
    "gemma gemma2 gemma3 gemma3_text falcon mpt bloom opt gpt2 gpt_neo bert roberta distilbert t5 mt5 bart "
    "whisper mamba falcon_mamba lfm2 cohere cohere2 starcoder2 smollm3 ernie4_5 mistral3 gpt_bigcode minicpm".split()
)


# Defaults of transformers' config classes for sub-configs that ship only a few fields
# (LLaVA's text_config, Gemma-3's text/vision configs).
_DEFAULTS: dict[str, dict] = {
    "llama": {"hidden_size": 4096, "intermediate_size": 11008, "num_hidden_layers": 32, "num_attention_heads": 32,
              "vocab_size": 32000, "max_position_embeddings": 2048, "hidden_act": "silu"},
    "gemma3_text": {"hidden_size": 2304, "intermediate_size": 9216, "num_hidden_layers": 26, "num_attention_heads": 8,
                    "num_key_value_heads": 4, "head_dim": 256, "vocab_size": 262208, "max_position_embeddings": 131072,
                    "sliding_window": 4096, "hidden_activation": "gelu_pytorch_tanh", "sliding_window_pattern": 6,
                    "rope_theta": 1000000.0},
    "clip_vision_model": {"hidden_size": 768, "intermediate_size": 3072, "num_hidden_layers": 12,
                          "num_attention_heads": 12, "image_size": 224, "patch_size": 32, "num_channels": 3},
    "siglip_vision_model": {"hidden_size": 768, "intermediate_size": 3072, "num_hidden_layers": 12,
                            "num_attention_heads": 12, "image_size": 224, "patch_size": 16, "num_channels": 3},
    "llama4_vision_model": {"hidden_size": 768, "intermediate_size": 5632, "num_hidden_layers": 34,
                            "num_attention_heads": 16, "image_size": 448, "patch_size": 14, "num_channels": 3,
                            "projector_input_dim": 4096, "projector_output_dim": 4096, "vision_output_dim": 7680},
    "vit": {"hidden_size": 768, "intermediate_size": 3072, "num_hidden_layers": 12, "num_attention_heads": 12,
            "image_size": 224, "patch_size": 16, "num_channels": 3},
    "t5": {"d_model": 512, "d_ff": 2048, "d_kv": 64, "num_layers": 6, "num_heads": 8, "vocab_size": 32128,
           "relative_attention_num_buckets": 32},
    "bart": {"d_model": 1024, "encoder_layers": 12, "decoder_layers": 12, "encoder_ffn_dim": 4096,
             "decoder_ffn_dim": 4096, "encoder_attention_heads": 16, "decoder_attention_heads": 16,
             "vocab_size": 50265, "max_position_embeddings": 1024},
    "whisper": {"d_model": 384, "encoder_layers": 4, "decoder_layers": 4, "encoder_ffn_dim": 1536,
                "decoder_ffn_dim": 1536, "encoder_attention_heads": 6, "decoder_attention_heads": 6,
                "vocab_size": 51865, "num_mel_bins": 80, "max_source_positions": 1500, "max_target_positions": 448},
    "bert": {"hidden_size": 768, "intermediate_size": 3072, "num_hidden_layers": 12, "num_attention_heads": 12,
             "vocab_size": 30522, "max_position_embeddings": 512, "type_vocab_size": 2, "hidden_act": "gelu"},
    "roberta": {"hidden_size": 768, "intermediate_size": 3072, "num_hidden_layers": 12, "num_attention_heads": 12,
                "vocab_size": 50265, "max_position_embeddings": 512, "type_vocab_size": 2, "hidden_act": "gelu"},
    "gpt2": {"n_embd": 768, "n_layer": 12, "n_head": 12, "vocab_size": 50257, "n_positions": 1024},
    "mamba": {"hidden_size": 768, "num_hidden_layers": 32, "vocab_size": 50280, "state_size": 16, "expand": 2,
              "conv_kernel": 4},
}


_MISSING = object()


class ConfigUnsupported(ConfigError):
    """The config is well-formed but names something the analytic engine cannot read.

    Why apart from :class:`ConfigError` (an impossible or malformed value,
    always an error): a missing field, a null or an unknown layer kind does
    not make the model wrong — the report goes on with the exact engine and
    the stored headers, and says which figures are missing.
    """


class _Reader:
    """Typed, range-checked access to one (possibly nested) config dict."""

    def __init__(self, data: dict, where: str = "", defaults: dict | None = None, parent: _Reader | None = None):
        if not isinstance(data, dict):
            raise ConfigError(f"config.json: {where or 'top level'} is not a JSON object")
        self.data = data
        self.where = where
        self.defaults = defaults or {}
        self.parent = parent

    def _find(self, names: tuple[str, ...]) -> tuple[str, object]:
        for name in names:
            if self.data.get(name) is not None:
                return name, self.data[name]
        for name in names:
            if self.defaults.get(name) is not None:
                return name, self.defaults[name]
        if self.parent is not None:
            return self.parent._find(names)
        return names[0], _MISSING

    def has(self, *names: str) -> bool:
        return self._find(names)[1] is not _MISSING

    def raw(self, *names: str, default=None):
        value = self._find(names)[1]
        return default if value is _MISSING else value

    def int(self, *names: str, default=_MISSING, lo: int = 1, hi: int = MAX_HIDDEN) -> int:
        name, value = self._find(names)
        if value is _MISSING:
            if default is _MISSING:
                raise ConfigUnsupported(f"config.json: missing field '{self.where}{names[0]}'")
            return default
        return _check_int(f"{self.where}{name}", value, lo, hi)

    def opt_int(self, *names: builtins.str, lo: builtins.int = 1, hi: builtins.int = MAX_HIDDEN) -> builtins.int | None:
        """An optional size: absent, null and 0 all mean "none".

        Why 0 too: configs write 0 for "no such part" (Qwen3-MoE's
        ``shared_expert_intermediate_size: 0``, ``sliding_window: 0``) and
        transformers builds those classes without the part.
        """
        name, value = self._find(names)
        if lo >= 1 and value == 0 and not isinstance(value, bool):
            return None
        return self.int(*names, default=None, lo=lo, hi=hi)

    def float(self, *names: str, default=None, lo: float = 0.0, hi: float = 1e15) -> float | None:
        name, value = self._find(names)
        if value is _MISSING:
            return default
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise ConfigError(f"config.json: field '{self.where}{name}' must be a number, got {_show(value)}")
        if isinstance(value, int) and abs(value) > 1 << 1000:  # beyond any float: math.isfinite would overflow
            raise ConfigError(f"config.json: field '{self.where}{name}' is out of range: {_show(value)}")
        if not math.isfinite(value) or value < lo or value > hi:
            raise ConfigError(f"config.json: field '{self.where}{name}' is out of range: {_show(value)}")
        return float(value)

    def bool(self, *names: str, default: bool = False) -> bool:
        name, value = self._find(names)
        if value is _MISSING:
            return default
        if isinstance(value, bool):
            return value
        if isinstance(value, int) and value in (0, 1):
            return bool(value)
        raise ConfigError(f"config.json: field '{self.where}{name}' must be true or false, got {_show(value)}")

    def str(self, *names: str, default: str | None = None) -> str | None:
        name, value = self._find(names)
        if value is _MISSING:
            return default
        if not isinstance(value, str):
            raise ConfigError(f"config.json: field '{self.where}{name}' must be a string, got {_show(value)}")
        return value

    def list(self, name: builtins.str, max_len: builtins.int = MAX_LAYERS) -> builtins.list | None:
        value = self.raw(name)
        if value is None:
            return None
        if not isinstance(value, list):
            raise ConfigError(f"config.json: field '{self.where}{name}' must be a list, got {_show(value)}")
        if len(value) > max_len:
            raise ConfigError(f"config.json: field '{self.where}{name}' has {len(value)} entries (limit {max_len})")
        return value

    def sub(self, name: builtins.str, defaults_key: builtins.str | None = None) -> _Reader | None:
        value = self.data.get(name)
        if value is None:
            return None
        if not isinstance(value, dict):
            raise ConfigError(f"config.json: field '{self.where}{name}' must be a JSON object")
        key = defaults_key or value.get("model_type")
        return _Reader(value, f"{self.where}{name}.", _DEFAULTS.get(key if isinstance(key, str) else "", {}))


def _show(value: object) -> str:
    text = repr(value)
    return text if len(text) <= 40 else text[:37] + "..."


def _check_int(name: str, value: object, lo: int, hi: int) -> int:
    if isinstance(value, bool):
        raise ConfigError(f"config.json: field '{name}' must be a whole number, got {_show(value)}")
    if isinstance(value, float):
        if not math.isfinite(value) or value != int(value):
            raise ConfigError(f"config.json: field '{name}' must be a whole number, got {_show(value)}")
        value = int(value)
    if not isinstance(value, int):
        raise ConfigError(f"config.json: field '{name}' must be a whole number, got {_show(value)}")
    if value < lo:
        raise ConfigError(f"config.json: field '{name}' must be at least {lo}, got {value}")
    if value > hi:
        raise ConfigError(f"config.json: field '{name}' is implausibly large: {value} (limit {hi})")
    return value
