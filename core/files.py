"""Atomic file writes: a reader sees the old file or the new one, never half of either."""

from __future__ import annotations

import os
import stat
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path


@contextmanager
def atomic_path(path: Path | str, suffix: str = ".tmp") -> Iterator[Path]:
    """A temp file beside ``path`` to write to; renamed over ``path`` when the block ends
    without an error, deleted otherwise. The folder is created when missing. The file gets the
    permissions a new file would (``mkstemp`` makes 0600), or those of the file it replaces."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, name = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=suffix)
    os.close(fd)
    tmp = Path(name)
    try:
        os.chmod(tmp, _file_mode(path))
        yield tmp
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)


def atomic_write_text(path: Path | str, text: str, *, errors: str = "strict") -> None:
    """Write ``text`` as UTF-8 to ``path`` atomically and durably (flushed to disk first)."""
    with atomic_path(path) as tmp, tmp.open("w", encoding="utf-8", errors=errors, newline="") as fh:
        fh.write(text)
        fh.flush()
        os.fsync(fh.fileno())


def _file_mode(path: Path) -> int:
    try:
        return stat.S_IMODE(path.stat().st_mode)
    except OSError:
        umask = os.umask(0)
        os.umask(umask)
        return 0o666 & ~umask
