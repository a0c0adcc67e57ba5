"""HTML fragments for the web app: persona cards, the debtor panel, coaching flags, history.

Each fragment is a jinja2 template in ``callcoach/ui/templates`` (autoescaped, ``core.html``):
everything a persona file, a model or a trainee wrote reaches the page as text. Their words are
in the page's language (``lang``; ``callcoach/ui/strings``), given to each template as ``t``.
"""

from __future__ import annotations

from collections.abc import Sequence
from html import escape

from callcoach.coaching import Flag, Hint
from callcoach.ui.i18n import Words, words
from callcoach.ui.scorecard import outcome_text
from core.analysis.types import CallContext
from core.html import render
from simulator.director import DebtorState
from simulator.personas import Persona
from simulator.session import LearnedFact

DIFFICULTY_ORDER = {"easy": 0, "medium": 1, "hard": 2}
MAX_LINE_CHARS = 1000  # one thing said on the phone; longer input is refused with a message


def error_html(message: str) -> str:
    """A problem the user can fix, shown next to what they were doing (empty: nothing shown)."""
    if not message:
        return ""
    return render("callcoach.ui", "message.html.j2", kind="error", role="alert", message=message)


def notice_html(message: str) -> str:
    return render("callcoach.ui", "message.html.j2", kind="notice", role="status", message=message) if message else ""

# The persona picker: a gr.HTML whose value is the chosen persona id and whose ``cards`` prop
# lists the personas (``label`` names the list for a screen reader). Clicking a card sets the
# value and fires ``change``.
PICKER_TEMPLATE = """<div class="cc-cards" role="listbox" aria-label="${label}">${cards.map(c => `
<button type="button" role="option" class="cc-card ${c.id === value ? 'cc-selected' : ''}" data-id="${c.id}" aria-selected="${c.id === value}">
  <div class="cc-card-top"><span class="cc-avatar cc-t-${c.temperament}">${c.initials}</span>
  <span class="cc-card-name">${c.name}</span><span class="cc-diff cc-d-${c.difficulty}">${c.difficulty_label}</span></div>
  <div class="cc-card-sit">${c.situation}</div>
  <div class="cc-card-meta"><span class="cc-tag">${c.temperament_label}</span><span class="cc-card-debt">${c.debt}</span></div>
</button>`).join('')}</div>"""

PICKER_JS = """element.addEventListener('click', (e) => {
  const card = e.target.closest('[data-id]');
  if (!card) return;
  props.value = card.dataset.id;
  trigger('change');
});"""


_CURRENCY_SIGNS = {"USD": "$", "CNY": "\u00a5", "RMB": "\u00a5"}


def _money(amount: float, currency: str = "USD") -> str:
    sign = _CURRENCY_SIGNS.get(currency.upper(), f"{currency} ")
    return f"{sign}{amount:,.2f}"


def temperament_label(temperament: str, t: Words) -> str:
    return t.get(f"temperament.{temperament}", temperament.replace("_", " ").capitalize())


def difficulty_label(difficulty: str, t: Words) -> str:
    return t.get(f"difficulty.{difficulty}", difficulty)


def persona_cards(personas: Sequence[Persona], lang: str = "en") -> list[dict]:
    """Card data for the picker (escaped), easiest first."""
    t = words(lang)
    ordered = sorted(personas, key=lambda p: (DIFFICULTY_ORDER.get(p.difficulty, 9), p.name))
    cards = []
    for p in ordered:
        card = {
            "id": p.id,
            "name": p.name,
            "initials": "".join(w[0] for w in p.name.split()[:2]).upper(),
            "situation": p.situation,
            "temperament": p.temperament.value,
            "temperament_label": temperament_label(p.temperament.value, t),
            "difficulty": p.difficulty,
            "difficulty_label": difficulty_label(p.difficulty, t),
            "debt": t("persona.days_late", amount=_money(p.debt.amount, p.debt.currency), days=p.debt.days_past_due),
        }
        # The one escape() left in views: these values are props for PICKER_TEMPLATE, which the
        # browser fills in with JavaScript ${...} (Gradio's html_template) and no escaping, so no
        # jinja2 template ever sees them. Escaped here, they reach the page as text.
        cards.append({k: escape(v) for k, v in card.items()})
    return cards


def on_line_html(persona: Persona, ended: bool = False, *, test: bool = False, lang: str = "en") -> str:
    """The strip above the chat: who you are talking to, and whether the call is live."""
    t = words(lang)
    return render("callcoach.ui", "on_line.html.j2", t=words(lang, html=True), persona=persona, ended=ended, test=test,
                  difficulty=difficulty_label(persona.difficulty, t))


def debtor_panel(
    persona: Persona, state: DebtorState, context: CallContext, *, ended: bool = False, outcome: str | None = None,
    turns: int = 0, learned: Sequence[LearnedFact] = (), lang: str = "en",
) -> str:
    """Mood meters, what the debtor has told you so far, and the call checklist.

    ``learned`` holds the hidden facts the debtor actually said (``CallSession.learned_facts``):
    the panel quotes the debtor's words, and never shows a fact the trainee has not heard.
    """
    t = words(lang)
    checklist = [(context.self_identified, t("persona.said_who")),
                 (context.identity_verified or context.third_party, t("persona.checked_who"))]
    if not context.third_party:
        checklist += [(context.mini_miranda_given, t("persona.disclosure")),
                      (state.promise is not None, t("persona.plan"))]
    meters = [(t(f"persona.{kind}"), max(0.0, min(100.0, value)), kind)
              for kind, value in (("trust", state.trust), ("anger", state.anger), ("distress", state.distress))]
    hidden = len(persona.hidden_facts)
    return render(
        "callcoach.ui", "debtor_panel.html.j2", t=words(lang, html=True), persona=persona, mood=mood_text(state.mood(), t), turns=turns,
        amount=_money(persona.debt.amount, persona.debt.currency), meters=meters, learned=list(learned),
        hidden=hidden, left=hidden - len(learned), checklist=checklist, ended=ended, outcome=outcome,
    )


def mood_text(mood: str, t: Words) -> str:
    """The director's mood words ("irritated, guarded") in the page's language, where the strings
    files have them (a persona's own mood words are shown as they are)."""
    return t("persona.list_sep").join(t.get(f"mood.{w.strip().replace(' ', '_')}", w.strip()) for w in mood.split(",") if w.strip())


# Plain text symbols in coloured badges: emoji fonts are often missing on training PCs.
_ICONS = {"stop": "\u2716", "warn": "!", "good": "\u2714"}


def coaching_html(turns: Sequence[tuple[int, Sequence[Flag]]], call_end: Sequence[tuple[int, Flag]] = (),
                  lang: str = "en") -> str:
    """Flags for the latest agent turn, then problems from earlier turns, then any rule that
    only the end of the call settled (something required was never said).

    Lines are numbered as the trainee counts them: their own lines, 1, 2, 3...
    """
    latest_line, latest = turns[-1] if turns else (None, ())
    return render(
        "callcoach.ui", "coaching.html.j2", t=words(lang, html=True), empty=not turns and not call_end, icons=_ICONS,
        latest_line=latest_line, latest=list(latest), call_end=list(call_end),
        earlier=[(i, f) for i, flags in turns[:-1] for f in flags if f.level != "good"][-4:],
    )


def hint_html(hint: Hint | None, lang: str = "en") -> str:
    return "" if hint is None else render("callcoach.ui", "hint.html.j2", t=words(lang, html=True), hint=hint)


def history_outcome(record, lang: str = "en") -> str:
    t = words(lang)
    if not record.ended_at:
        return t("outcome.in_progress")
    return t("outcome.abandoned") if record.outcome == "abandoned" else outcome_text(record.outcome, lang=lang)


def history_table_rows(records, persona_names: dict[str, str] | None = None, lang: str = "en") -> list[list]:
    """Rows for the history table: when, trainee, persona, turns, outcome, score, result."""
    t = words(lang)
    names = persona_names or {}
    rows = []
    for r in records:
        result = "" if r.passed is None else (t("progress.pass") if r.passed else t("progress.fail"))
        rows.append([
            (r.started_at or "")[:16].replace("T", " "), r.trainee, names.get(r.persona or "", r.persona or ""), r.n_turns,
            history_outcome(r, lang), "" if r.overall is None else f"{r.overall:.1f}", result,
        ])
    return rows


HISTORY_HEADER_KEYS = ["progress.when", "progress.trainee", "progress.persona", "progress.turns", "progress.outcome",
                       "progress.score", "progress.result"]


def history_headers(lang: str = "en") -> list[str]:
    t = words(lang)
    return [t(k) for k in HISTORY_HEADER_KEYS]


HISTORY_HEADERS = history_headers()
