"""Encoders and encoder–decoder models (BERT, DistilBERT, T5, BART/mBART, Whisper)."""

from __future__ import annotations

from lmscope.core.architecture import (
    FFN,
    LayerSpec,
    Mixer,
    Objective,
)
from lmscope.core.errors import ConfigError
from lmscope.core.parse.dims import _core_dims, _finish
from lmscope.core.parse.reader import MAX_HEADS, MAX_INTERMEDIATE, MAX_LAYERS, MAX_POSITIONS, MAX_VOCAB, _Reader


def _bert(r: _Reader, model_type: str) -> dict:
    d = _core_dims(r, model_type)
    n = d["num_layers"]
    d.update(
        objective=Objective.MASKED_LM, intermediate_size=r.int("intermediate_size", hi=MAX_INTERMEDIATE),
        norm="layernorm", norm_bias=True, gated_ffn=False, attention_bias=True, mlp_bias=True,
        position_encoding="learned", rope=None, position_embeddings=d["max_position_embeddings"] or 512,
        token_type_embeddings=r.int("type_vocab_size", default=2, lo=0, hi=1 << 16), embedding_norm=True,
        final_norm=False, pooler=True,
    )
    name = str(r.raw("_name_or_path", default=""))
    if "sentence-transformers" in name:
        d["objective"] = Objective.EMBEDDING
    d.update(_mixers=[Mixer.FULL] * n, _ffns=[FFN.DENSE] * n, _window=None, _notes=[])
    return _finish(d)


def _distilbert(r: _Reader, model_type: str) -> dict:
    hidden = r.int("dim", "hidden_size")
    n = r.int("n_layers", "num_hidden_layers", hi=MAX_LAYERS)
    heads = r.int("n_heads", "num_attention_heads", hi=MAX_HEADS)
    if hidden % heads:
        raise ConfigError(f"config.json: field 'dim' ({hidden}) is not divisible by n_heads ({heads})")
    pos = r.int("max_position_embeddings", default=512, hi=MAX_POSITIONS)
    return _finish({
        "objective": Objective.MASKED_LM, "hidden_size": hidden, "num_layers": n, "num_heads": heads,
        "num_kv_heads": heads, "head_dim": hidden // heads, "intermediate_size": r.int("hidden_dim", hi=MAX_INTERMEDIATE),
        "vocab_size": r.int("vocab_size", hi=MAX_VOCAB), "activation": r.str("activation", default="gelu"),
        "gated_ffn": False, "norm": "layernorm", "norm_bias": True, "attention_bias": True, "mlp_bias": True,
        "tied_embeddings": r.bool("tie_word_embeddings", default=True), "max_position_embeddings": pos,
        "position_encoding": "learned", "rope": None, "position_embeddings": pos, "embedding_norm": True,
        "final_norm": False,
        "_mixers": [Mixer.FULL] * n, "_ffns": [FFN.DENSE] * n, "_window": None, "_notes": [],
    })


def _t5(r: _Reader, model_type: str) -> dict:
    hidden = r.int("d_model")
    n_enc = r.int("num_layers", hi=MAX_LAYERS)
    n_dec = r.int("num_decoder_layers", default=n_enc, hi=MAX_LAYERS)
    heads = r.int("num_heads", hi=MAX_HEADS)
    ff = r.int("d_ff", hi=MAX_INTERMEDIATE)
    proj = r.str("feed_forward_proj", default="relu") or "relu"
    gated = proj.startswith("gated-")
    return _finish({
        "objective": Objective.SEQ2SEQ, "hidden_size": hidden, "num_layers": n_dec, "num_heads": heads,
        "num_kv_heads": heads, "head_dim": r.int("d_kv", hi=1 << 16), "intermediate_size": ff,
        "vocab_size": r.int("vocab_size", hi=MAX_VOCAB), "activation": proj.replace("gated-", ""),
        # transformers 5 ties T5's head always (``tie_word_embeddings: false`` now only stops the
        # decoder-output scaling: configuration_t5.py), so the class never holds a separate lm_head
        "gated_ffn": gated, "norm": "rmsnorm", "tied_embeddings": True,
        "max_position_embeddings": r.opt_int("n_positions", hi=MAX_POSITIONS), "position_encoding": "relative",
        "rope": None, "norms_per_layer": 3,
        "encoder_layers": tuple(LayerSpec(Mixer.FULL, FFN.DENSE) for _ in range(n_enc)),
        "extra_dims": (("relative_attention_num_buckets", r.int("relative_attention_num_buckets", default=32, hi=1 << 16)),
                       ("relative_bias_every_layer", int(model_type == "umt5"))),
        "_mixers": [Mixer.FULL] * n_dec, "_ffns": [FFN.DENSE] * n_dec, "_window": None, "_notes": [],
    })


def _bart_like(r: _Reader, model_type: str) -> dict:
    hidden = r.int("d_model")
    n_enc = r.int("encoder_layers", hi=MAX_LAYERS)
    n_dec = r.int("decoder_layers", hi=MAX_LAYERS)
    heads = r.int("decoder_attention_heads", hi=MAX_HEADS)
    enc_heads = r.int("encoder_attention_heads", hi=MAX_HEADS)
    if hidden % heads or hidden % enc_heads:
        raise ConfigError("config.json: field 'd_model' is not divisible by the attention heads")
    whisper = model_type == "whisper"
    ffn = r.int("decoder_ffn_dim", hi=MAX_INTERMEDIATE)
    enc_ffn = r.int("encoder_ffn_dim", hi=MAX_INTERMEDIATE)
    d: dict[str, object] = {  # the builder fields _finish reads (values of every field type)
        "objective": Objective.SPEECH if whisper else Objective.SEQ2SEQ, "hidden_size": hidden, "num_layers": n_dec,
        "num_heads": heads, "num_kv_heads": heads, "head_dim": hidden // heads, "intermediate_size": ffn,
        "vocab_size": r.int("vocab_size", hi=MAX_VOCAB), "activation": r.str("activation_function", default="gelu"),
        "gated_ffn": False, "norm": "layernorm", "norm_bias": True, "attention_bias": True, "mlp_bias": True,
        "tied_embeddings": r.bool("tie_word_embeddings", default=True), "position_encoding": "learned", "rope": None,
        "norms_per_layer": 3,
        "encoder_layers": tuple(LayerSpec(Mixer.FULL, FFN.DENSE, intermediate_size=enc_ffn) for _ in range(n_enc)),
        "_mixers": [Mixer.FULL] * n_dec, "_ffns": [FFN.DENSE] * n_dec, "_window": None, "_notes": [],
    }
    if whisper:
        tgt = r.int("max_target_positions", hi=MAX_POSITIONS)
        d.update(max_position_embeddings=tgt, position_embeddings=tgt, final_norm=True, extra_dims=(
            ("encoder_heads", enc_heads), ("num_mel_bins", r.int("num_mel_bins", hi=1 << 16)),
            ("encoder_positions", r.int("max_source_positions", hi=MAX_POSITIONS)), ("k_proj_bias", 0),
            ("encoder_final_norm", 1), ("encoder_embedding_norm", 0)))
    else:
        pos = r.int("max_position_embeddings", hi=MAX_POSITIONS)
        final = model_type == "mbart" or r.bool("add_final_layer_norm")  # mBART is pre-LN: both stacks end in a LayerNorm
        d.update(max_position_embeddings=pos, position_embeddings=pos + 2, embedding_norm=r.bool("normalize_embedding", default=True),
                 final_norm=final, extra_dims=(("encoder_heads", enc_heads), ("encoder_positions", pos + 2),
                                               ("k_proj_bias", 1), ("encoder_final_norm", int(final)),
                                               ("encoder_embedding_norm", 1)))
    return _finish(d)
