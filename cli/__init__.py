"""lmscope: everything worth knowing about a language model, in the terminal."""

__version__ = "0.1.0"
