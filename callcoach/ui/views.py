"""HTML fragments for the web app: persona cards, the debtor panel, coaching flags, history.

Everything a persona file or a trainee typed is escaped here, before it reaches the page.
"""

from __future__ import annotations

from collections.abc import Sequence
from html import escape

from callcoach.coaching import Flag, Hint
from core.analysis.types import CallContext
from simulator.director import DebtorState
from simulator.personas import Persona
from simulator.session import LearnedFact

DIFFICULTY_ORDER = {"easy": 0, "medium": 1, "hard": 2}
MAX_LINE_CHARS = 1000  # one thing said on the phone; longer input is refused with a message


def error_html(message: str) -> str:
    """A problem the user can fix, shown next to what they were doing (empty: nothing shown)."""
    if not message:
        return ""
    return f'<div class="cc-error" role="alert">{escape(message)}</div>'


def notice_html(message: str) -> str:
    return f'<div class="cc-notice" role="status">{escape(message)}</div>' if message else ""

# The persona picker: a gr.HTML whose value is the chosen persona id and whose ``cards`` prop
# lists the personas. Clicking a card sets the value and fires ``change``.
PICKER_TEMPLATE = """<div class="cc-cards" role="listbox" aria-label="Debtor personas">${cards.map(c => `
<button type="button" role="option" class="cc-card ${c.id === value ? 'cc-selected' : ''}" data-id="${c.id}" aria-selected="${c.id === value}">
  <div class="cc-card-top"><span class="cc-avatar cc-t-${c.temperament}">${c.initials}</span>
  <span class="cc-card-name">${c.name}</span><span class="cc-diff cc-d-${c.difficulty}">${c.difficulty}</span></div>
  <div class="cc-card-sit">${c.situation}</div>
  <div class="cc-card-meta"><span class="cc-tag">${c.temperament_label}</span><span class="cc-card-debt">${c.debt}</span></div>
</button>`).join('')}</div>"""

PICKER_JS = """element.addEventListener('click', (e) => {
  const card = e.target.closest('[data-id]');
  if (!card) return;
  props.value = card.dataset.id;
  trigger('change');
});"""


def _money(amount: float, currency: str = "USD") -> str:
    sign = "$" if currency == "USD" else f"{currency} "
    return f"{sign}{amount:,.2f}"


def persona_cards(personas: Sequence[Persona]) -> list[dict]:
    """Card data for the picker (escaped), easiest first."""
    ordered = sorted(personas, key=lambda p: (DIFFICULTY_ORDER.get(p.difficulty, 9), p.name))
    cards = []
    for p in ordered:
        initials = "".join(w[0] for w in p.name.split()[:2]).upper()
        cards.append({
            "id": escape(p.id),
            "name": escape(p.name),
            "initials": escape(initials),
            "situation": escape(p.situation),
            "temperament": escape(p.temperament.value),
            "temperament_label": escape(p.temperament.value.replace("_", " ").capitalize()),
            "difficulty": escape(p.difficulty),
            "debt": escape(f"{_money(p.debt.amount, p.debt.currency)} \u00b7 {p.debt.days_past_due} days late"),
        })
    return cards


def on_line_html(persona: Persona, ended: bool = False, *, test: bool = False) -> str:
    """The strip above the chat: who you are talking to, and whether the call is live."""
    state = '<span class="cc-live cc-off">Call ended</span>' if ended else '<span class="cc-live">On the line</span>'
    if test:
        state += '<span class="cc-tag cc-test">Test call: not counted in progress</span>'
    return (
        f'<div class="cc-online">{state}<b>{escape(persona.name)}</b>'
        f'<span class="cc-diff cc-d-{escape(persona.difficulty)}">{escape(persona.difficulty)}</span>'
        f'<span class="cc-muted">{escape(persona.situation)}</span></div>'
    )


def _meter(label: str, value: float, kind: str) -> str:
    v = max(0.0, min(100.0, value))
    return (
        f'<div class="cc-meter"><div class="cc-meter-head"><span>{label}</span><span>{v:.0f}</span></div>'
        f'<div class="cc-meter-bar"><div class="cc-m-{kind}" style="width:{v:.0f}%"></div></div></div>'
    )


def _check(done: bool, label: str) -> str:
    return f'<li class="{"cc-done" if done else "cc-todo"}">{escape(label)}</li>'


def debtor_panel(
    persona: Persona, state: DebtorState, context: CallContext, *, ended: bool = False, outcome: str | None = None,
    turns: int = 0, learned: Sequence[LearnedFact] = (),
) -> str:
    """Mood meters, what the debtor has told you so far, and the call checklist.

    ``learned`` holds the hidden facts the debtor actually said (``CallSession.learned_facts``):
    the panel quotes the debtor's words, and never shows a fact the trainee has not heard.
    """
    holder = persona.account_holder
    html = [
        # data-turns lets tests (and scripts) wait until a turn is fully processed
        f'<div class="cc-panel" data-turns="{turns}">',
        f'<div class="cc-panel-name">{escape(persona.name)}</div>',
        f'<div class="cc-panel-sub">{escape(persona.debt.creditor)} \u00b7 {escape(persona.debt.product)} \u00b7 '
        f'{escape(_money(persona.debt.amount, persona.debt.currency))}</div>',
    ]
    if persona.third_party:
        html.append(f'<div class="cc-panel-sub">Account holder: {escape(holder)}</div>')
    html.append(f'<div class="cc-mood">Mood: <b>{escape(state.mood())}</b></div>')
    html.append(_meter("Trust", state.trust, "trust") + _meter("Anger", state.anger, "anger") + _meter("Distress", state.distress, "distress"))
    html.append('<div class="cc-sec">Facts learned</div>')
    hidden = len(persona.hidden_facts)
    if learned:
        html.append('<ul class="cc-facts">' + "".join(f"<li>&ldquo;{escape(f.said)}&rdquo;</li>" for f in learned) + "</ul>")
        left = hidden - len(learned)
        if left > 0:
            html.append(f'<div class="cc-muted">{left} more thing{"s" if left != 1 else ""} to find out.</div>')
    else:
        html.append(f'<div class="cc-muted">None yet. {hidden} thing{"s" if hidden != 1 else ""} to find out: ask open questions.</div>')
    html.append('<div class="cc-sec">Call checklist</div><ul class="cc-checklist">')
    html.append(_check(context.self_identified, "Said who you are"))
    html.append(_check(context.identity_verified or context.third_party, "Checked who you're speaking to"))
    if not context.third_party:
        html.append(_check(context.mini_miranda_given, "Gave the debt-collector disclosure"))
        html.append(_check(state.promise is not None, "Agreed a plan they can keep"))
    html.append("</ul>")
    if ended:
        html.append(f'<div class="cc-ended">Call ended{": " + escape(outcome) if outcome else ""}</div>')
    html.append("</div>")
    return "".join(html)


# Plain text symbols in coloured badges: emoji fonts are often missing on training PCs.
_ICONS = {"stop": "\u2716", "warn": "!", "good": "\u2714"}


def coaching_html(turns: Sequence[tuple[int, Sequence[Flag]]], call_end: Sequence[tuple[int, Flag]] = ()) -> str:
    """Flags for the latest agent turn, then problems from earlier turns, then any rule that
    only the end of the call settled (something required was never said).

    Lines are numbered as the trainee counts them: their own lines, 1, 2, 3...
    """
    if not turns and not call_end:
        return '<div class="cc-coach cc-muted">Coaching notes appear here after each thing you say.</div>'
    html = ['<div class="cc-coach">']
    if turns:
        latest_line, latest = turns[-1]
        html.append(f'<div class="cc-sec">Your last line (line {latest_line})</div>')
        if latest:
            html.append('<ul class="cc-flags">')
            for f in latest:
                html.append(f'<li class="cc-flag cc-f-{f.level}"><span class="cc-ficon">{_ICONS.get(f.level, "")}</span><span>{escape(f.message)}{_quote(f)}</span></li>')
            html.append("</ul>")
        else:
            html.append('<div class="cc-muted">Nothing to flag. Keep going.</div>')
    earlier = [(i, f) for i, flags in turns[:-1] for f in flags if f.level != "good"]
    if earlier:
        html.append('<div class="cc-sec">Earlier</div><ul class="cc-flags cc-earlier">')
        for i, f in earlier[-4:]:
            html.append(f'<li class="cc-flag cc-f-{f.level}"><span class="cc-turnref">Line {i}</span><span>{escape(f.message)}</span></li>')
        html.append("</ul>")
    if call_end:
        html.append('<div class="cc-sec">When the call ended</div><ul class="cc-flags">')
        for i, f in call_end:
            html.append(f'<li class="cc-flag cc-f-{f.level}"><span class="cc-turnref">Line {i}</span><span>{escape(f.message)}{_quote(f)}</span></li>')
        html.append("</ul>")
    html.append("</div>")
    return "".join(html)


def _quote(f: Flag) -> str:
    """The words that raised a problem, under its message (praise needs no evidence)."""
    if f.level == "good" or not f.quote:
        return ""
    return f'<span class="cc-fquote">&ldquo;{escape(f.quote)}&rdquo;</span>'


def hint_html(hint: Hint | None) -> str:
    if hint is None:
        return ""
    return f'<div class="cc-hint"><div class="cc-sec">Suggested next line</div><div class="cc-hint-text">&ldquo;{escape(hint.text)}&rdquo;</div></div>'


def history_outcome(record) -> str:
    from rubrics.scorecard import outcome_label

    if not record.ended_at:
        return "In progress"
    return "Abandoned (not finished)" if record.outcome == "abandoned" else outcome_label(record.outcome)


def history_table_rows(records, persona_names: dict[str, str] | None = None) -> list[list]:
    """Rows for the history table: when, trainee, persona, turns, outcome, score, result."""
    names = persona_names or {}
    rows = []
    for r in records:
        result = "" if r.passed is None else ("Pass" if r.passed else "Fail")
        rows.append([
            (r.started_at or "")[:16].replace("T", " "), r.trainee, names.get(r.persona or "", r.persona or ""), r.n_turns,
            history_outcome(r), "" if r.overall is None else f"{r.overall:.1f}", result,
        ])
    return rows


HISTORY_HEADERS = ["When", "Trainee", "Persona", "Turns", "Outcome", "Score", "Result"]
