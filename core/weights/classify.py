"""Module kind and layer index of a stored tensor, from its name alone.

Checkpoints name tensors by convention, not by schema: Llama ``model.layers.3.
self_attn.q_proj.weight``, GPT-2 ``h.3.attn.c_attn.weight`` (fused QKV), GGUF
``blk.3.attn_q.weight``, BERT ``encoder.layer.3.attention.self.query.weight``,
Mixtral ``block_sparse_moe.experts.2.w1``, DeepSeek ``mlp.shared_experts``,
Mamba ``mixer.in_proj``. The rules below are ordered: the first match wins, and
the more specific patterns (experts, shared experts, router) come before the
generic ones (mlp). Unknown names are "other" — never guessed.
"""

from __future__ import annotations

import re

from lmscope.core.tensor_names import layer_index

__all__ = ["KINDS", "expert_index", "kind_matches", "layer_index", "module_kind"]

# kind -> the family it belongs to (used by --kind attention,mlp filters)
KINDS: dict[str, str] = {
    "embedding": "embedding",
    "attention_q": "attention",
    "attention_k": "attention",
    "attention_v": "attention",
    "attention_o": "attention",
    "attention_qkv": "attention",
    "attention_other": "attention",
    "mlp_up": "mlp",
    "mlp_gate": "mlp",
    "mlp_down": "mlp",
    "mlp_gate_up": "mlp",
    "experts": "experts",
    "shared_experts": "experts",
    "router": "router",
    "norm": "norm",
    "lm_head": "lm_head",
    "mamba_in": "mamba",
    "mamba_out": "mamba",
    "mamba_conv": "mamba",
    "mamba_other": "mamba",
    "vision": "vision",
    "buffer": "other",
    "other": "other",
}

_RULES: tuple[tuple[str, re.Pattern[str]], ...] = tuple(
    (kind, re.compile(pattern))
    for kind, pattern in (
        # buffers: not parameters (GPT-2's causal masks ``attn.bias`` / ``attn.masked_bias`` too)
        ("buffer", r"(position_ids|inv_freq|num_batches_tracked|_buffer)$|(^|\.)attn\.(masked_)?bias$"),
        ("vision", r"(^|\.)(vision_tower|vision_model|visual|vision_encoder|image_encoder|patch_embed|multi_modal_projector|mm_projector|vit)(\.|$)"),
        ("norm", r"(?i)(norm|ln_\d|ln_f|layernorm|layer_norm|_ln|\.ln\.)|(^|\.)(ln|norm)(\.|$)"),
        ("shared_experts", r"shared_expert|shared_mlp|ffn_(gate|up|down)_shexp"),
        ("router", r"(\.gate\.(weight|bias)$|\.router(\.|$)|\.gate$|ffn_gate_inp|\.router\.|e_score_correction|\.wg\.)"),
        ("experts", r"(\.experts\.|\.experts$|\.experts_|block_sparse_moe\.w|ffn_(gate|up|down)_exps|\.experts\b)"),
        ("mamba_conv", r"(mixer|ssm)\.conv1d|ssm_conv1d"),
        ("mamba_in", r"(mixer|ssm)\.in_proj|ssm_in"),
        ("mamba_out", r"(mixer|ssm)\.out_proj|ssm_out"),
        ("mamba_other", r"(mixer|ssm)\.(A_log|D|dt_proj|x_proj|dt_bias)|ssm_(a|d|dt|x)"),
        ("lm_head", r"(^|\.)(lm_head|output|embed_out|cls\.predictions\.decoder)(\.weight|\.bias)?$|^output\.(weight|bias)$"),
        ("embedding", r"(embed_tokens|wte|wpe|word_embeddings|position_embeddings|token_type_embeddings|token_embd|tok_embeddings|embeddings\.|shared\.weight|embed_positions|rel_attn_bias|relative_attention_bias)"),
        ("attention_qkv", r"(qkv_proj|c_attn|query_key_value|\.Wqkv|attn_qkv|\.qkv(\.|$))"),
        ("attention_q", r"(q_proj|\.query(\.|$)|attn_q(\.|$)|\.wq(\.|$)|q_a_proj|q_b_proj)"),
        ("attention_k", r"(k_proj|\.key(\.|$)|attn_k(\.|$)|\.wk(\.|$))"),
        ("attention_v", r"(v_proj|\.value(\.|$)|attn_v(\.|$)|\.wv(\.|$))"),
        ("attention_o", r"(o_proj|out_proj|attention\.output\.dense|self_attn\.dense|attn\.c_proj|attn_output|\.wo(\.|$)|attention\.dense)"),
        ("attention_other", r"(kv_a_proj|kv_b_proj|attn|attention|sinks)"),
        ("mlp_gate_up", r"(gate_up_proj|fc1_gate_up)"),
        ("mlp_gate", r"(gate_proj|\.w1(\.|$)|ffn_gate(\.|$)|\.wi_0)"),
        ("mlp_up", r"(up_proj|\.w3(\.|$)|ffn_up(\.|$)|\.c_fc|intermediate\.dense|\.fc1|dense_h_to_4h|\.wi(\.|$)|\.wi_1)"),
        ("mlp_down", r"(down_proj|\.w2(\.|$)|ffn_down(\.|$)|mlp\.c_proj|output\.dense|\.fc2|dense_4h_to_h|\.wo(\.|$))"),
    )
)


def module_kind(name: str) -> str:
    """The module kind of a tensor name (one of :data:`KINDS`).

    A bias has its module's kind (``q_proj.bias`` is ``attention_q``, like
    ``q_proj.weight``): the rules look at the module path, never the suffix.
    """
    for kind, pattern in _RULES:
        if pattern.search(name):
            if kind == "router" and re.search(r"gate_proj|gate_up", name):
                continue
            return kind
    return "other"


_EXPERT = re.compile(r"(?:^|\.)experts\.(\d+)\.")


def expert_index(name: str) -> int | None:
    """N of a per-expert tensor (``…experts.N.…``; shared experts are not indexed), else None."""
    m = _EXPERT.search(name)
    return int(m.group(1)) if m else None


def kind_matches(kind: str, wanted: tuple[str, ...]) -> bool:
    """True if ``kind`` is selected by ``wanted`` (kinds or families); empty selects all."""
    if not wanted:
        return True
    return kind in wanted or KINDS.get(kind, "other") in wanted
