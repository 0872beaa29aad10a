"""User-facing errors: one line each, shown without a traceback.

Everything lmscope raises for bad input derives from :class:`LmscopeError`;
the CLI prints ``str(err)`` on one line to stderr and exits 1, the TUI shows
it as a notification. Messages never contain a token (see ``redact``).
"""

from __future__ import annotations


class LmscopeError(Exception):
    """A problem the user can act on; ``str()`` is a complete one-line message."""

    exit_code = 1

    def __str__(self) -> str:  # keep messages on one line
        return " ".join(super().__str__().split())


class ConfigError(LmscopeError):
    """A config.json that is malformed, hostile, or describes an impossible model."""


class SourceError(LmscopeError):
    """A model specifier that cannot be resolved or a file that cannot be read."""


class FileFormatError(SourceError):
    """A truncated or lying safetensors/GGUF/ONNX file."""


class HubError(LmscopeError):
    """A Hub failure: gated, missing, rate-limited, offline, SSL..."""


class UsageError(LmscopeError):
    """Bad command-line usage (exit 2)."""

    exit_code = 2
