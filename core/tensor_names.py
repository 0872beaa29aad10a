"""Facts read from a stored tensor's name alone, shared by every reader.

Checkpoints number their blocks by convention: Llama ``model.layers.3.``,
GPT-2 ``h.3.``, GGUF ``blk.3.``, BERT ``encoder.layer.3.``, others
``blocks.3.`` / ``block.3.``. Kept free of heavy imports: the Hub header
reader and the weights engine both use it.
"""

from __future__ import annotations

import re

_LAYER = re.compile(r"(?:^|\.)(?:layers|layer|h|blk|blocks|block|decoder\.layers|encoder\.layers)\.(\d+)(?:\.|$)")


def layer_index(name: str) -> int | None:
    """The block index in a tensor name (``model.layers.12.mlp...`` → 12, ``blk.3.attn_q`` → 3), or None."""
    m = _LAYER.search(name)
    return int(m.group(1)) if m else None
