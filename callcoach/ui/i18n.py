"""The web app's words in each language, and which language a page is in.

Every word a user reads on the page is in ``callcoach/ui/strings/<language>.yaml`` (English is
the reference; each other file has exactly its keys, checked by the tests), looked up with one
function, :func:`text` (``words(lang)`` is the same lookup bound to a language, for templates).

Which language a page shows, first that applies (:func:`choose_language`):

1. ``?lang=zh`` (or ``en``) in the page's address;
2. the language picked in the page's header (kept in the browser);
3. the app's language: ``python app.py --lang zh`` or ``CALLCOACH_LANG``;
4. the browser's language: Gradio's ``gr.I18n`` shows the labels in it from the first paint,
   and the page tells the server which one it chose;
5. English.

Component labels are built with ``gr.I18n`` keys (:class:`Labels`), so the browser's language
shows at once; on load and on a switch the server sets them in the page's language, so a page
whose language was picked (1-3) reads the same everywhere, the HTML the server renders included.
"""

from __future__ import annotations

import re
import string
from collections.abc import Callable, Iterable
from functools import cache
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from core.datafile import DataFileError, LongText, ShortText, load_file

STRINGS_DIR = Path(__file__).parent / "strings"
LANGUAGES = ("en", "zh")  # the reference first
DEFAULT_LANGUAGE = "en"
GUIDE = "callcoach/ui/strings/en.yaml (the reference: every key, with comments)"

Key = Annotated[str, Field(pattern=r"^[a-z][a-z0-9_]*$", max_length=60)]


class StringsError(DataFileError):
    """A strings file that cannot be used (one line per problem)."""


class StringsFile(BaseModel):
    """One language's words: ``strings.<section>.<key>``, looked up as ``"section.key"``."""

    model_config = ConfigDict(extra="forbid")

    version: Literal[1]
    language: str = Field(pattern=r"^[a-z]{2}$")
    name: ShortText = Field(description="The language's own name, as the language picker shows it")
    strings: dict[Key, dict[Key, LongText]]


@cache
def strings_file(lang: str) -> StringsFile:
    """The validated strings file of ``lang`` (read once)."""
    path = STRINGS_DIR / f"{lang}.yaml"
    loaded = load_file(StringsFile, path, guide=GUIDE, error=StringsError)
    if loaded.language != lang:
        raise StringsError([f"{path}: language: '{loaded.language}' must match the file name '{lang}'"])
    return loaded


@cache
def table(lang: str) -> dict[str, str]:
    """``"section.key" -> text`` for ``lang``; a key it lacks falls back to English (the tests
    keep the files in step, so this only shields a page from a half-translated file)."""
    own = {f"{s}.{k}": v for s, keys in strings_file(lang).strings.items() for k, v in keys.items()}
    return own if lang == DEFAULT_LANGUAGE else {**table(DEFAULT_LANGUAGE), **own}


def supported(lang: str | None) -> str:
    """``lang`` if the app has its words, else English."""
    return lang if lang in LANGUAGES else DEFAULT_LANGUAGE


def text(key: str, lang: str | None = None, /, **fields: Any) -> str:
    """The words for ``key`` ("section.key") in ``lang`` (default English), ``{fields}`` filled in."""
    value = table(supported(lang))[key]
    return value.format(**fields) if fields else value


def has(key: str) -> bool:
    return key in table(DEFAULT_LANGUAGE)


class Words:
    """:func:`text` bound to a language: ``t("panel.facts")``.

    Templates get ``words(lang, html=True)`` as ``t``: the strings files' words are the app's own,
    written into the page as a template's literal text would be (an apostrophe stays one), and
    the ``{fields}`` filled into them (a persona's name, a count) are escaped.
    """

    def __init__(self, lang: str | None = None, html: bool = False):
        self.lang = supported(lang)
        self.html = html

    def __call__(self, key: str, /, **fields: Any) -> str:
        if not self.html:
            return text(key, self.lang, **fields)
        from markupsafe import Markup

        value = Markup(table(self.lang)[key])
        return value.format(**fields) if fields else value

    def plural(self, key: str, n: int, /, **fields: Any) -> str:
        """``key_one`` for one, ``key_other`` for any other count (``{n}`` is the count)."""
        return self(f"{key}_{'one' if n == 1 else 'other'}", n=n, **fields)

    def get(self, key: str, default: str) -> str:
        """The words for ``key`` if the strings files have it, else ``default`` (names that come
        from data files: a temperament, a criterion or an outcome added there later)."""
        if has(key):
            return self(key)
        if self.html:
            from markupsafe import escape

            return escape(default)
        return default


def words(lang: str | None = None, html: bool = False) -> Words:
    return Words(lang, html)


def language_names() -> list[tuple[str, str]]:
    """``(the language's own name, code)`` for the language picker: English, 中文."""
    return [(strings_file(lang).name, lang) for lang in LANGUAGES]


# --- which language ----------------------------------------------------------------------------

_TAG = re.compile(r"^\s*([A-Za-z]{2,3})(?:[-_][A-Za-z0-9]+)*\s*$")
_CHINESE = {"zh", "cmn", "yue", "zho", "chi"}


def language_of(tag: str | None) -> str | None:
    """The app language a language tag names ('zh-CN', 'zh_TW', 'zh-Hant' -> 'zh'; 'en-GB' ->
    'en'), or None for a language the app has no words for (or no tag)."""
    m = _TAG.match(tag or "")
    if not m:
        return None
    base = m.group(1).lower()
    base = "zh" if base in _CHINESE else base
    return base if base in LANGUAGES else None


def from_accept_language(header: str | None) -> str | None:
    """The first language of an Accept-Language header the app has words for (by its q weight)."""
    ranked = []
    for i, part in enumerate((header or "").split(",")):
        tag, _, params = part.partition(";")
        q = 1.0
        if params.strip().startswith("q="):
            try:
                q = float(params.strip()[2:])
            except ValueError:
                q = 0.0
        ranked.append((-q, i, tag))
    for _, _, tag in sorted(ranked):
        lang = language_of(tag)
        if lang:
            return lang
    return None


def choose_language(*candidates: str | None) -> str:
    """The first candidate that names a language the app has, else English (see the module's
    docstring for the order the app passes them in)."""
    for c in candidates:
        lang = language_of(c)
        if lang:
            return lang
    return DEFAULT_LANGUAGE


# --- the files kept in step ----------------------------------------------------------------------


def placeholders(value: str) -> set[str]:
    return {name for _, name, _, _ in string.Formatter().parse(value) if name}


def strings_problems(langs: Iterable[str] = LANGUAGES) -> list[str]:
    """Keys one language has and another lacks, and texts whose ``{placeholders}`` differ."""
    langs = list(langs)
    ref = {f"{s}.{k}": v for s, keys in strings_file(langs[0]).strings.items() for k, v in keys.items()}
    problems = []
    for lang in langs[1:]:
        own = {f"{s}.{k}": v for s, keys in strings_file(lang).strings.items() for k, v in keys.items()}
        path = STRINGS_DIR / f"{lang}.yaml"
        problems += [f"{path}: strings.{k}: missing (it is in {langs[0]}.yaml)" for k in sorted(ref.keys() - own.keys())]
        problems += [f"{path}: strings.{k}: not in {langs[0]}.yaml (add it there, or remove it)" for k in sorted(own.keys() - ref.keys())]
        problems += [
            f"{path}: strings.{k}: placeholders {sorted(placeholders(own[k]))} differ from {langs[0]}.yaml's {sorted(placeholders(ref[k]))}"
            for k in sorted(ref.keys() & own.keys()) if placeholders(ref[k]) != placeholders(own[k])
        ]
    return problems


# --- component labels ----------------------------------------------------------------------------

# Props Gradio's I18n does not translate (6.x shows "[object Object]" or the raw key): built with
# the default language's words, and set in the page's language on load.
_PLAIN = {("File", "label"), ("Code", "label"), ("Dataframe", "headers")}


class Labels:
    """The components whose words come from the strings files, and what to set when the page's
    language is known.

    ``ui(gr.Textbox, {"label": "practice.name"}, max_lines=1)`` builds the component with a
    ``gr.I18n`` key for each worded prop (a list of keys for a table's headers) and remembers it;
    ``updates(lang)`` gives every one of them its words in ``lang``, plus what each
    ``on_language`` hook adds (HTML the server renders, a table's rows). ``i18n()`` is the
    ``gr.I18n`` for ``launch()``: every key used, in every language.
    """

    def __init__(self, default: str | None = None):
        self.default = supported(default)
        self._items: list[tuple[Any, dict[str, str | list[str]]]] = []
        self._hooks: list[tuple[list, Callable[[str], dict]]] = []

    def __call__(self, cls: type, worded: dict[str, str | list[str]], /, **kwargs: Any):
        from gradio.i18n import I18nData

        built: dict[str, Any] = {}
        for prop, key in worded.items():
            if isinstance(key, list):
                built[prop] = [text(k, self.default) for k in key]
            elif (cls.__name__, prop) in _PLAIN:
                built[prop] = text(key, self.default)
            else:
                built[prop] = I18nData(key)
        component = cls(**built, **kwargs)
        self._items.append((component, worded))
        return component

    def on_language(self, outputs: list, hook: Callable[[str], dict]) -> None:
        """Also run ``hook(lang)`` (updates for ``outputs``) whenever the page's language is set."""
        self._hooks.append((list(outputs), hook))

    @property
    def outputs(self) -> list:
        seen: dict[int, Any] = {}
        for c, _ in self._items:
            seen.setdefault(c._id, c)
        for outs, _ in self._hooks:
            for c in outs:
                seen.setdefault(c._id, c)
        return list(seen.values())

    def keys(self) -> set[str]:
        return {k for _, worded in self._items for key in worded.values() for k in ([key] if isinstance(key, str) else key)}

    def updates(self, lang: str) -> dict:
        import gradio as gr

        out: dict = {}
        for component, worded in self._items:
            props: dict[str, Any] = {}
            for prop, key in worded.items():
                if isinstance(key, list):  # a table's headers: Gradio takes them with the rows
                    props["value"] = {"data": [], "headers": [text(k, lang) for k in key]}
                else:
                    props[prop] = text(key, lang)
            out = merge(out, {component: gr.update(**props)})
        for _, hook in self._hooks:
            out = merge(out, {c: _as_update(v) for c, v in hook(lang).items()})
        return out

    def i18n(self, force: str | None = None):
        """The ``gr.I18n`` for ``launch()``. ``force``: an app whose language is set (``--lang``)
        gives every browser that language's words, so the page is in it from the first paint."""
        import gradio as gr

        keys = sorted(self.keys())
        return gr.I18n(**{lang: {k: text(k, force or lang) for k in keys} for lang in LANGUAGES})


def _as_update(value: Any) -> dict:
    from gradio.blocks import Block

    if isinstance(value, dict) and value.get("__type__") == "update":
        return dict(value)
    if isinstance(value, Block):
        return {**value.constructor_args, "__type__": "update"}
    return {"__type__": "update", "value": value}


def merge(*updates: dict) -> dict:
    """Callback outputs (``{component: value or update}``) merged: two for the same component
    become one update with both (a label and a value, say); a later one wins a prop both set."""
    out: dict = {}
    for upd in updates:
        for comp, value in upd.items():
            out[comp] = value if comp not in out else {**_as_update(out[comp]), **_as_update(value)}
    return out


__all__ = [
    "LANGUAGES", "DEFAULT_LANGUAGE", "Labels", "StringsError", "StringsFile", "Words", "choose_language",
    "from_accept_language", "language_names", "language_of", "merge", "strings_problems", "supported", "text", "words",
]
