import os
import sys
from pathlib import Path

import pytest
from hypothesis import settings

# Property tests draw the same examples on every run, so a fresh clone passes or fails the same
# way on every machine (random draws found two real scoring bugs, now fixed and kept as examples
# in the tests' history); `HYPOTHESIS_PROFILE=explore make test` draws new ones to look for more.
settings.register_profile("fixed", derandomize=True)
settings.register_profile("explore", derandomize=False)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "fixed"))

# Offline by construction: nothing in the test-suite may reach a model hub.
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
sys.path.insert(0, str(Path(__file__).parent))


@pytest.fixture(autouse=True)
def _isolated_user_dirs(tmp_path_factory, monkeypatch):
    """Point callcoach's user data dir at a temp dir so tests never touch real history.

    The model cache is shared across the session (dequantising the GGUF is slow) but still
    kept out of the user's real cache.
    """
    data = tmp_path_factory.mktemp("userdata")
    monkeypatch.setenv("CALLCOACH_DATA_DIR", str(data))
    cache = tmp_path_factory.getbasetemp() / "model-cache"
    monkeypatch.setenv("CALLCOACH_CACHE_DIR", os.environ.get("CALLCOACH_TEST_CACHE_DIR", str(cache)))


@pytest.fixture
def blank(monkeypatch):
    """Batch scoring with the stand-in analyzer (tests/batch_support.py): no model."""
    from batch_support import score_with

    score_with(monkeypatch)


@pytest.fixture(scope="session")
def an():
    """The real English turn analysis, warmed up: tests/test_analysis*.py."""
    from core.analysis import default_analyzer

    analyzer = default_analyzer()
    analyzer.warm_up()
    return analyzer


@pytest.fixture(scope="session")
def an_zh(an):
    """The real Chinese turn analysis (pattern only; shares the English one's embedder)."""
    from core.analysis import default_analyzer

    return default_analyzer("zh")


from browser_support import browser  # noqa: E402,F401  (the chromium fixture of the browser tests)
