"""Atomic file writes: a reader never sees half a file, a failure leaves the old one as it was.

A module of its own (not in :mod:`lmscope.core.export`) so that writing a file
costs no import of the report renderers: ``lmscope weights -o FILE`` and the
report folders write through it.
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

from lmscope.core.errors import SourceError
from lmscope.core.redact import redact


def _file_mode(target: Path) -> int:
    """The existing file's permissions, else what a plain ``open()`` would give (0666 minus umask)."""
    try:
        return target.stat().st_mode & 0o7777
    except OSError:
        umask = os.umask(0)
        os.umask(umask)
        return 0o666 & ~umask


def write_atomic(path: str | os.PathLike[str], text: str | bytes) -> Path:
    """Write ``text`` to ``path`` atomically; see :func:`_write_atomic`. One-line :class:`SourceError` on any failure."""
    try:
        return _write_atomic(path, text)
    except OSError as err:  # in the checks before writing: a name too long, a loop of symlinks
        from lmscope.core.redact import shown

        raise SourceError(f"cannot write {shown(path)}: {err.strerror or shown(err)}") from None


def _write_atomic(path: str | os.PathLike[str], text: str | bytes) -> Path:
    """Write ``text`` to ``path`` atomically (temp file in the same folder, fsync, ``os.replace``).

    ``text`` may be bytes (a PNG): written as is, not redacted (pictures hold no tokens).

    A reader never sees a half-written file; on failure the old file is left
    as it was. A symlink keeps pointing at the (replaced) file; a device or
    FIFO (``/dev/stdout``, ``/dev/null``, a named pipe) is written into, never
    replaced. Raises :class:`SourceError` with one line when the path cannot
    be written.
    """
    target = Path(path).expanduser()
    folder = target.parent if str(target.parent) else Path(".")
    binary = isinstance(text, bytes)
    if not isinstance(text, bytes):
        text = redact(text)
    mode, encoding = ("wb", None) if binary else ("w", "utf-8")
    newline = None if binary else ""
    if target.is_dir():
        raise SourceError(f"cannot write {target}: it is a directory")
    if target.exists() and not target.is_file():
        # a device or FIFO (/dev/null, /dev/stdout, a pipe): write into it; os.replace would swap
        # the node itself for a regular file
        try:
            with open(target, mode, encoding=encoding, newline=newline) as handle:
                handle.write(text)
        except OSError as err:
            raise SourceError(f"cannot write {target}: {err.strerror or err}") from None
        return target
    if target.is_symlink():
        # replace the file the link points at, not the link itself
        target = Path(os.path.realpath(target))
        folder = target.parent
    tmp_name = None
    try:
        fd, tmp_name = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp", dir=folder)
        os.chmod(tmp_name, _file_mode(target))
        with os.fdopen(fd, mode, encoding=encoding, newline=newline) as handle:
            handle.write(text)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp_name, target)
        tmp_name = None
    except OSError as err:
        raise SourceError(f"cannot write {target}: {err.strerror or err}") from None
    finally:
        if tmp_name is not None:
            try:
                os.unlink(tmp_name)
            except OSError:
                pass
    return target


__all__ = ["write_atomic"]
