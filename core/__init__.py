"""lmscope.core: the UI-free engine.

Importing this package must stay cheap (< 50 ms) and must not import textual,
torch, transformers or huggingface_hub; modules that need them import them
inside the functions that use them.
"""

from lmscope.core.architecture import FFN, Architecture, LayerSpec, Mixer, Objective
from lmscope.core.errors import ConfigError, LmscopeError, SourceError
from lmscope.core.results import Estimate, ParameterBreakdown, Settings

__all__ = [
    "Architecture",
    "ConfigError",
    "Estimate",
    "FFN",
    "LayerSpec",
    "LmscopeError",
    "Mixer",
    "Objective",
    "ParameterBreakdown",
    "Settings",
    "SourceError",
]
