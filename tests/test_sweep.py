"""Every model type transformers registers with a causal-LM, masked-LM, seq2seq or image-text-to-text
head: the analytic engine equals the class on the meta device, or refuses ("approximate", a parse
refusal) — never a silent mismatch.

Each type is swept with its config class's defaults and seeded variations (tests/sweep_configs.py);
the oracle is tests/meta_oracle.py (independent of lmscope.core.exact). A type declared verified
(``VERIFIED_MODEL_TYPES``) must be compared at least once (or be a fixture checked in
tests/test_params.py when transformers cannot build its own defaults). Coverage:
``python tests/sweep_configs.py``.
"""

from __future__ import annotations

import re
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent))
import oracle  # noqa: E402
import sweep_configs  # noqa: E402

from lmscope.core.params import VERIFIED_MODEL_TYPES  # noqa: E402

TYPES = sweep_configs.model_types()
FIXTURE_TYPES = {str(oracle.load_config(n).get("model_type")) for n in oracle.config_names()}


@pytest.mark.parametrize("model_type", TYPES)
def test_analytic_equals_class_or_refuses(model_type):
    result = sweep_configs.sweep_type(model_type)
    assert not result["mismatched"], f"{model_type}: analytic ≠ class for (label, analytic, class) {result['mismatched']}"
    if model_type in VERIFIED_MODEL_TYPES:
        assert result["matched"] or model_type in FIXTURE_TYPES, f"{model_type} is declared verified but never compared"
        default = sweep_configs.default_config(model_type)
        for label, why in result["refused"]:
            # a default may leave a field the estimates need unset (DeepSeek-V2's num_experts_per_tok is None:
            # the class builds, its forward cannot route; GLM-4-MoE's head_dim with 96 heads over a width of 4096);
            # the seeded variations are compared
            unset = [k for k in re.findall(r"'([A-Za-z_]+)'", why) if default.get(k) is None]
            assert label != "default" or unset, result["refused"]


def test_sweep_covers_every_head_mapping():
    assert len(TYPES) > 300  # transformers 5.x registers ~340; a broken enumeration must not pass quietly
    assert VERIFIED_MODEL_TYPES <= set(TYPES) | FIXTURE_TYPES | {"vit", "kimi_k2"}


def test_unknown_types_are_refused_not_approximated_silently():
    from lmscope.core.params import count_parameters
    from lmscope.core.parse import architecture_from_config

    config = {"model_type": "never_heard_of_it", "hidden_size": 64, "num_hidden_layers": 2,
              "num_attention_heads": 4, "intermediate_size": 128, "vocab_size": 100}
    params = count_parameters(architecture_from_config(config))
    assert params.method == "approximate" and "never_heard_of_it" in params.note


def _dense_decoder_configs() -> list:
    """(type, label, config) for every verified type's swept configs that build a dense, text-only decoder."""
    from meta_oracle import meta_total

    from lmscope.core.architecture import Objective
    from lmscope.core.errors import ConfigError
    from lmscope.core.parse import architecture_from_config

    out = []
    for model_type in sorted(VERIFIED_MODEL_TYPES & set(TYPES)):
        try:
            configs = sweep_configs.configs_for(model_type)
        except Exception:  # noqa: BLE001, S112 - the config class itself cannot make a default (counted in the sweep)
            continue
        for label, config in configs:
            try:
                arch = architecture_from_config(config)
            except ConfigError:
                continue
            if arch.objective is Objective.CAUSAL_LM and arch.moe is None and arch.vision is None and not arch.encoder_layers:
                try:
                    meta_total(config)
                except Exception:  # noqa: BLE001, S112 - transformers cannot build this variation (the sweep counts it)
                    continue
                out.append(pytest.param(config, id=f"{model_type}-{label}"))
    return out


@pytest.mark.parametrize("config", _dense_decoder_configs())
def test_lora_modules_are_the_class_modules(config):
    """LoRA adapts modules: lmscope's adapter modules (fused projections merged) are, shape for shape, the
    nn.Linear/Conv1D modules of the class that PEFT's all-linear adapts (output head excluded)."""
    from meta_oracle import meta_linear_modules

    from lmscope.core.estimate.lora import adapter_modules, lora_trainable_parameters
    from lmscope.core.parse import architecture_from_config

    arch = architecture_from_config(config)
    expected = sorted(meta_linear_modules(config))
    ours = sorted((m.d_in, m.d_out) for m in adapter_modules(arch) for _ in range(m.count))
    assert ours == expected
    assert lora_trainable_parameters(arch, 8) == sum(8 * (i + o) for i, o in expected)


# Variations the seeded generator does not reach (fields it leaves alone), each compared with the class.
TARGETED = [
    ("glm4_moe", {"hidden_size": 64, "num_attention_heads": 8, "head_dim": 16, "num_key_value_heads": 2,
                  "use_qk_norm": True, "attention_bias": True, "first_k_dense_replace": 2, "num_hidden_layers": 4,
                  "partial_rotary_factor": 0.5, "n_routed_experts": 8, "num_experts_per_tok": 2,
                  "moe_intermediate_size": 32, "intermediate_size": 96, "vocab_size": 300}),
    ("granitemoehybrid", {"hidden_size": 64, "num_attention_heads": 4, "num_key_value_heads": 2, "num_hidden_layers": 4,
                          "layer_types": ["mamba", "attention", "mamba", "attention"], "mamba_n_heads": 4,
                          "mamba_d_head": 32, "mamba_d_state": 16, "num_local_experts": 0, "num_experts_per_tok": 0,
                          "shared_intermediate_size": 96, "position_embedding_type": "rope", "vocab_size": 300}),
    ("granitemoehybrid", {"hidden_size": 64, "num_attention_heads": 4, "num_key_value_heads": 4, "num_hidden_layers": 3,
                          "layer_types": ["mamba", "mamba", "attention"], "mamba_n_heads": 8, "mamba_d_head": 16,
                          "mamba_d_state": 16, "num_local_experts": 4, "num_experts_per_tok": 2,
                          "intermediate_size": 48, "shared_intermediate_size": 96, "vocab_size": 300}),
    ("ernie4_5_moe", {"hidden_size": 64, "num_attention_heads": 4, "num_key_value_heads": 2, "num_hidden_layers": 6,
                      "use_bias": True, "moe_num_experts": 4, "moe_k": 2, "moe_intermediate_size": 32,
                      "moe_num_shared_experts": 1, "moe_layer_start_index": 1, "moe_layer_end_index": 4,
                      "moe_layer_interval": 2, "intermediate_size": 96, "vocab_size": 300, "tie_word_embeddings": False}),
    ("ernie4_5_moe", {"hidden_size": 64, "num_attention_heads": 4, "num_key_value_heads": 2, "num_hidden_layers": 3,
                      "use_bias": True, "moe_num_experts": 4, "moe_k": 2, "moe_intermediate_size": 32,
                      "moe_num_shared_experts": 0, "intermediate_size": 96, "vocab_size": 300, "tie_word_embeddings": True}),
    ("ernie4_5", {"hidden_size": 64, "num_attention_heads": 4, "num_key_value_heads": 2, "num_hidden_layers": 2,
                  "use_bias": True, "intermediate_size": 96, "vocab_size": 300}),
    ("bamba", {"hidden_size": 64, "num_attention_heads": 4, "num_key_value_heads": 2, "num_hidden_layers": 5,
               "attn_layer_indices": [0, 3], "mamba_n_heads": 8, "mamba_d_head": 16, "mamba_n_groups": 2,
               "mamba_d_state": 16, "intermediate_size": 96, "vocab_size": 300, "mamba_proj_bias": True}),
]


@pytest.mark.parametrize(("model_type", "overrides"), TARGETED, ids=[t for t, _ in TARGETED])
def test_targeted_variations_equal_the_class(model_type, overrides):
    from meta_oracle import meta_total

    from lmscope.core.params import count_parameters
    from lmscope.core.parse import architecture_from_config

    config = dict(sweep_configs.default_config(model_type), **overrides)
    params = count_parameters(architecture_from_config(config))
    assert params.method == "analytic", params.note
    assert params.total == meta_total(config)
