"""callcoach's cache folder, shared by the model backends and the embedder's cache."""

from __future__ import annotations

import os
from pathlib import Path

CACHE_DIR_ENV = "CALLCOACH_CACHE_DIR"

def cache_root() -> Path:
    """callcoach's cache folder: ``$CALLCOACH_CACHE_DIR`` or the platform's user cache dir."""
    override = os.environ.get(CACHE_DIR_ENV)
    if override:
        return Path(override)
    import platformdirs

    return Path(platformdirs.user_cache_dir("callcoach"))
