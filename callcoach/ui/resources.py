"""What every session of the web app shares: the debtor model, the analyzer, personas, history.

The model and the analyzer load lazily, once, on first use (or in the background at start-up),
so ``build_app()`` is instant and tests never load weights they do not use.
"""

from __future__ import annotations

import atexit
import logging
import secrets
import shutil
import tempfile
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

from callcoach.history import HistoryStore, data_dir
from callcoach.ui.i18n import text
from callcoach.users import Users
from simulator.backends import DEFAULT_SPEC
from simulator.backends.base import Backend
from simulator.personas import SHIPPED_DIR, PersonaLibrary, load_personas


class SharedBackend(Backend):
    """One backend for every session, created from its spec on first use."""

    def __init__(self, spec: str | None = None, backend: Backend | None = None, *, adapter: bool = True):
        self._backend = backend
        self._spec = spec
        self._adapter = adapter  # False: the bundled model without the debtor adapter
        self.spec = backend.spec if backend is not None else (spec or DEFAULT_SPEC)
        self._lock = threading.Lock()
        self.error: str | None = None
        self.loading = False
        self.load_seconds: float | None = None

    @property
    def ready(self) -> bool:
        return self._backend is not None

    def get(self) -> Backend:
        if self._backend is not None:
            return self._backend
        with self._lock:
            if self._backend is None:
                from simulator.backends import make_backend

                self.loading = True
                t0 = time.monotonic()
                try:
                    self._backend = make_backend(self._spec, adapter=self._adapter)
                    self.spec = self._backend.spec
                    self.error = None
                except Exception as exc:
                    self.error = f"{type(exc).__name__}: {exc}"
                    logging.getLogger("callcoach.app").error("the debtor model (%s) did not load: %s", self.spec, self.error)
                    raise
                finally:
                    self.loading = False
                    self.load_seconds = time.monotonic() - t0
        return self._backend

    def preload(self) -> threading.Thread:
        """Start loading in a background thread (errors are kept in ``error``)."""

        def run() -> None:
            try:
                self.get()
            except Exception:  # shown in the status line; a call will retry and raise
                pass

        t = threading.Thread(target=run, name="callcoach-model-load", daemon=True)
        t.start()
        return t

    def status(self, lang: str = "en") -> str:
        """The header's line for trainees (the model's spec is in the tooltip and the server log)."""
        if self.ready:
            return text("status.ready", lang)
        if self.error:
            return text("status.failed", lang)
        if self.loading:
            return text("status.loading", lang)
        return text("status.waiting", lang)

    # What the actor and the session read from a backend must come from the loaded one: without
    # these, the tuned model got the base model's prompt in the app.
    # A model that fails to load must not stop a call from starting: the actor falls back to
    # authored lines, and the status line shows the error.
    def _loaded(self, name: str):
        try:
            return getattr(self.get(), name)
        except Exception:
            return getattr(Backend, name)

    @property
    def prompt_style(self) -> str:
        return self._loaded("prompt_style")

    @property
    def default_temperature(self) -> float:
        return self._loaded("default_temperature")

    @property
    def debtor_lines(self) -> str:  # bank lines first with the bundled model, a served model's own
        return self._loaded("debtor_lines")

    @property
    def takes_deadline(self) -> bool:  # a retry after a guard gets only the reply's time left
        return self._loaded("takes_deadline")

    def stream(self, messages, **kw):
        yield from self.get().stream(messages, **kw)

    def generate(self, messages, **kw) -> str:
        return self.get().generate(messages, **kw)

    def close(self) -> None:
        if self._backend is not None:
            self._backend.close()


class SharedAnalyzer:
    """The turn analyzer (and its embedder), created once on first use."""

    def __init__(self, analyzer=None):
        self._analyzer = analyzer
        self._lock = threading.Lock()

    def get(self):
        if self._analyzer is None:
            with self._lock:
                if self._analyzer is None:
                    from core.analysis import default_analyzer

                    self._analyzer = default_analyzer()
        return self._analyzer

    def analyze_turn(self, *args, **kwargs):
        return self.get().analyze_turn(*args, **kwargs)

    def __getattr__(self, name: str):
        # Anything else the scorer asks of an analyzer (its embedder, initial_context...).
        if name.startswith("__") or name in ("_analyzer", "_lock"):
            raise AttributeError(name)
        return getattr(self.get(), name)


@dataclass
class AppResources:
    """Everything the tabs share. One instance per ``build_app()``."""

    backend: SharedBackend
    analyzer: SharedAnalyzer
    data_dir: Path
    base_persona_dirs: list[Path] = field(default_factory=lambda: [SHIPPED_DIR])
    rubric: str = "default-en"
    users: Users | None = None  # None: a local, single-person app (no login)
    lang: str | None = None  # the page's language (--lang); None: the browser's (callcoach.ui.i18n)
    history: HistoryStore = field(init=False)
    downloads_dir: Path = field(init=False)
    _scorer: object = field(init=False, default=None, repr=False)
    _scorers: dict = field(init=False, default_factory=dict, repr=False)  # other languages' scorers
    _scorer_lock: threading.Lock = field(init=False, default_factory=threading.Lock, repr=False)

    def __post_init__(self) -> None:
        self.data_dir.mkdir(parents=True, exist_ok=True)
        self.custom_personas_dir.mkdir(parents=True, exist_ok=True)
        self.exports_dir.mkdir(parents=True, exist_ok=True)
        self.history = HistoryStore(self.data_dir / "history.sqlite3")
        # Files handed to the browser are copies in a private temp folder: Gradio serves files
        # only from its allowed places (the temp dir is one; the user data dir is not, and must
        # not be, since it holds every trainee's history).
        self.downloads_dir = Path(tempfile.mkdtemp(prefix="callcoach-downloads-"))
        atexit.register(shutil.rmtree, self.downloads_dir, ignore_errors=True)

    @property
    def browser_secret(self) -> str:
        """The key that encrypts what the app keeps in each browser (the trainee's name, the call
        in progress); kept in the data dir so it outlives a restart."""
        path = self.data_dir / ".browser-secret"
        try:
            return path.read_text(encoding="utf-8").strip()
        except OSError:
            key = secrets.token_urlsafe(24)
            try:
                path.write_text(key, encoding="utf-8")
                path.chmod(0o600)
            except OSError:  # a read-only data dir: the name is remembered until the next restart
                pass
            return key

    def offer(self, path: Path | str | None) -> str | None:
        """A copy of a saved file that Gradio may serve as a download (None stays None)."""
        if path is None:
            return None
        path = Path(path)
        folder = Path(tempfile.mkdtemp(dir=self.downloads_dir))
        return str(shutil.copy2(path, folder / path.name))

    @property
    def custom_personas_dir(self) -> Path:
        return self.data_dir / "personas"

    @property
    def exports_dir(self) -> Path:
        return self.data_dir / "exports"

    def scorer(self, language: str | None = None, analyzer=None):
        """The scorer of a call in ``language``, built once (its exemplar embeddings too).

        The app's rubric, bound to the shared analyzer, for its own language (and when no
        language is given); for another language, the shipped rubric of that language
        (``default-zh`` for Chinese) bound to ``analyzer`` (the call's own, which reads that
        language), as the Evaluator routes an uploaded transcript.
        """
        from rubrics.scorer import Scorer

        with self._scorer_lock:
            if self._scorer is None:
                self._scorer = Scorer(self.rubric, self.analyzer)
            if language is None or language == self._scorer.rubric.language:
                return self._scorer
            scorer = self._scorers.get(language)
            if scorer is None:
                from rubrics.loader import DEFAULT_RUBRICS

                if language not in DEFAULT_RUBRICS:  # no rubric of its own: the app's
                    return self._scorer
                scorer = self._scorers[language] = Scorer(DEFAULT_RUBRICS[language], analyzer)
            return scorer

    def persona_dirs(self) -> list[Path]:
        return [*self.base_persona_dirs, self.custom_personas_dir]

    def personas(self) -> PersonaLibrary:
        """Read the persona folders now: a file a trainer just saved shows up without a restart."""
        return load_personas(self.persona_dirs())

    def personas_for(self, lang: str | None) -> list:
        """The personas a page in ``lang`` offers: those who speak it (a Chinese page, the Chinese
        personas); every persona when none does yet, so the page is never empty."""
        every = list(self.personas().personas.values())
        own = [p for p in every if p.language == lang]
        return own or every


def make_resources(backend=None, analyzer=None, personas_dirs=None, data_dir_path=None, rubric="default-en",
                   adapter: bool = True, users: Users | None = None, lang: str | None = None) -> AppResources:
    """Resources from build_app()'s arguments: objects are used as given, strings are specs."""
    shared = backend if isinstance(backend, SharedBackend) else (
        SharedBackend(spec=backend, adapter=adapter) if backend is None or isinstance(backend, str) else SharedBackend(backend=backend)
    )
    ana = analyzer if isinstance(analyzer, SharedAnalyzer) else SharedAnalyzer(analyzer)
    root = Path(data_dir_path) if data_dir_path else data_dir()
    base = [Path(p) for p in personas_dirs] if personas_dirs is not None else [SHIPPED_DIR]
    return AppResources(shared, ana, root, base, rubric, users, lang)
