"""The live-call eval's blind audit: a packet for annotators, and the shares computed from their labels.

The same method as the intent audit (evals/intent_audit.py): an annotator sees only what a trainee
sees - the persona card, the call so far and the debtor's line - never where the line came from.
For every point of a call where the model spoke, the packet also holds the persona's hand-written
line for the same intent at the same point, so generated and authored lines are judged in one
shuffled set and the authored ones give the ceiling. Lines the debtor said from its authored
fallbacks are in the packet as what the trainee met.

Files in a packet folder:
    items.jsonl            what the annotator sees, one item per line (id, debtor, call so far, line)
    cards.json             the persona cards a trainee sees, by debtor name (no hidden facts or numbers)
    items.md               the cards and the items, for reading
    key.jsonl              which source each item came from (keep it from the annotator)
    labels-template.jsonl  one row per item to fill in: {"item": "i001", "labels": ["ok"], "note": ""}

Label categories (one or more per item; ``ok`` alone):
    ok                   a real person on the phone could say this here
    garbled              does not make sense as English or as a thought
    off_point            makes sense but does not fit this moment of the call
    contradicts_persona  says something against the card (facts, names, people, what they owe)
    ignores_question     the collector asked something direct and the line does not answer or refuse it
    breaks_logic         goes against the call so far (agrees then refuses, closes a call that goes on, ...)
"""

from __future__ import annotations

import json
import random
from collections import Counter
from enum import Enum
from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from core.files import atomic_write_text
from evals.live_proxies import GENERATED
from simulator.intents import Intent
from simulator.personas import Persona, load_personas


class Category(str, Enum):
    ok = "ok"
    garbled = "garbled"
    off_point = "off_point"
    contradicts_persona = "contradicts_persona"
    ignores_question = "ignores_question"
    breaks_logic = "breaks_logic"


CATEGORY_HELP = {
    Category.ok: "a real person on the phone could say this here",
    Category.garbled: "does not make sense as language (English or Chinese) or as a thought",
    Category.off_point: "makes sense but does not fit this moment of the call",
    Category.contradicts_persona: "says something against the card (facts, names, people, what they owe)",
    Category.ignores_question: "the collector asked something direct and the line neither answers nor refuses it",
    Category.breaks_logic: "goes against the call so far (agrees then refuses, closes a call that goes on, ...)",
}
PROBLEMS = [c for c in Category if c is not Category.ok]
# The first target: garbled, off-point and contradicting lines together at most 5%.
CORE_PROBLEMS = (Category.garbled, Category.off_point, Category.contradicts_persona)


class AuditError(ValueError):
    """A labels or key file that cannot be used (the message names the file and line)."""


class Label(BaseModel):
    """One annotator's reading of one packet item."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    item: str
    labels: list[Category] = Field(min_length=1)
    note: str | None = None
    # optional: what the annotator reads the line as doing (an intent of simulator/intents.py)
    intent: Intent | None = None

    @field_validator("labels")
    @classmethod
    def _ok_alone(cls, v: list[Category]) -> list[Category]:
        if Category.ok in v and len(v) > 1:
            raise ValueError("'ok' cannot be combined with a problem; choose ok or the problems")
        return v


class KeyRow(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    item: str
    sources: list[str] = Field(min_length=1)  # model, fallback or authored (one text may be two)
    call: str
    persona: str
    line: int
    turn: int
    intent: str
    backend: str | None = None


def persona_card(p: Persona) -> dict:
    """What a trainee knows of the debtor before calling (no hidden facts, meters or capacity)."""
    card = {
        "name": p.name, "situation": p.situation, "age": p.profile.age, "occupation": p.profile.occupation,
        "household": p.profile.household, "background": " ".join(p.profile.background.split()),
        "debt": f"{p.debt.creditor}, {p.debt.product} ending {p.debt.account_last4}: "
        + (f"{p.debt.amount:,.2f} {p.debt.currency}" if p.debt.currency != "USD" else f"${p.debt.amount:,.2f}")
        + f", {p.debt.days_past_due} days past due",
    }
    if p.third_party:
        card["on the phone"] = f"{p.name}, {p.third_party.relation} (account holder: {p.third_party.account_holder})"
    if p.attorney:
        card["attorney"] = f"{p.attorney.name}, {p.attorney.firm}, {p.attorney.phone}"
    return card


def _speaker(t: dict, p: Persona) -> str:
    return "Collector" if t["speaker"] == "agent" else p.name.split()[0]


def packet_items(rows: list[dict], personas: dict[str, Persona], seed: int = 0, positions: int | None = None) -> tuple[list[dict], list[dict]]:
    """(items, key): each reply, plus the authored line at every point the model spoke, shuffled.

    ``positions``: only that many call positions (replies), drawn at random with ``seed``; each
    keeps its authored twin, so the sample stays paired.
    """
    if positions is not None and positions < len(rows):
        rows = random.Random(f"positions-{seed}").sample(rows, positions)
    drafts = []
    for r in rows:
        p = personas[r["persona"]]
        call = [{"speaker": _speaker(t, p), "text": t["text"]} for t in r["so_far"]]
        where = {"call": r["call"], "persona": r["persona"], "line": r["line"], "turn": r["turn"], "intent": r["intent"], "backend": r.get("backend")}
        if r["source"] in GENERATED:
            same = r["authored"].strip() == r["reply"].strip()
            drafts.append((call, r["reply"], ["model", "authored"] if same else ["model"], where))
            if not same:
                drafts.append((call, r["authored"], ["authored"], where))
        else:
            drafts.append((call, r["reply"], [{"authored": "detail"}.get(r["source"], r["source"])], where))
    random.Random(seed).shuffle(drafts)
    items, key = [], []
    width = max(3, len(str(len(drafts))))
    for k, (call, line, sources, where) in enumerate(drafts, 1):
        item = f"i{k:0{width}d}"
        items.append({"item": item, "debtor": personas[where["persona"]].name, "call_so_far": call, "line": line})
        key.append({"item": item, "sources": sources, **where})
    return items, key


def _items_md(items: list[dict], cards: dict[str, dict]) -> str:
    out = ["# Live-call audit packet", "", "For each item read the debtor's card and the call so far, then label the last line in "
           "labels-template.jsonl (`\"labels\": [\"ok\"]`, or one or more problems):", ""]
    out += [f"- `{c.value}`: {text}" for c, text in CATEGORY_HELP.items()] + ["", "## The debtors", ""]
    for name, card in cards.items():
        out += [f"### {name}", "", *(f"- {k}: {v}" for k, v in card.items() if k != "name"), ""]
    out += ["## Items", ""]
    for it in items:
        out += [f"### {it['item']} - {it['debtor']}", ""]
        out += [f"> **{t['speaker']}:** {t['text']}  " for t in it["call_so_far"]]
        out += ["", f"**Line to judge ({it['debtor'].split()[0]}):** {it['line']}", ""]
    return "\n".join(out) + "\n"


def write_packet(
    rows: list[dict], out: Path, seed: int = 0, personas: dict[str, Persona] | None = None, positions: int | None = None
) -> dict[str, int]:
    """Write the packet files; returns how many items each source has."""
    personas = personas if personas is not None else load_personas().personas
    items, key = packet_items(rows, personas, seed, positions)

    def jsonl(data: list[dict]) -> str:
        return "".join(json.dumps(x, ensure_ascii=False) + "\n" for x in data)

    cards = {p.name: persona_card(p) for p in sorted(personas.values(), key=lambda p: p.name) if p.name in {it["debtor"] for it in items}}
    out.mkdir(parents=True, exist_ok=True)
    atomic_write_text(out / "items.jsonl", jsonl(items))
    atomic_write_text(out / "cards.json", json.dumps(cards, indent=2, ensure_ascii=False) + "\n")
    atomic_write_text(out / "items.md", _items_md(items, cards))
    atomic_write_text(out / "key.jsonl", jsonl(key))
    atomic_write_text(out / "labels-template.jsonl", jsonl([{"item": it["item"], "labels": [], "note": ""} for it in items]))
    return dict(Counter(s for k in key for s in k["sources"]))


def _read(path: Path, model: type[BaseModel]) -> list:
    if not path.is_file():
        raise AuditError(f"{path}: no such file")
    rows = []
    for n, text in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
        if not text.strip():
            continue
        try:
            rows.append(model.model_validate_json(text))
        except ValidationError as exc:
            err = exc.errors()[0]
            field = ".".join(str(x) for x in err["loc"]) or "row"
            hint = " (label every item: ok, or one or more of " + ", ".join(c.value for c in PROBLEMS) + ")" if field.startswith("labels") else ""
            raise AuditError(f"{path}:{n}: {field}: {err['msg']}{hint}") from None
    return rows


def load_labels(path: Path) -> list[Label]:
    labels = _read(path, Label)
    seen: set[str] = set()
    for lab in labels:
        if lab.item in seen:
            raise AuditError(f"{path}: item {lab.item} is labelled twice; keep one row per item")
        seen.add(lab.item)
    return labels


def load_key(path: Path) -> list[KeyRow]:
    return _read(path, KeyRow)


def audit(labels: list[Label], key: list[KeyRow]) -> dict:
    """Per source: labelled items, the share that is ok, and the share with each problem."""
    by_item = {k.item: k for k in key}
    unknown = [lab.item for lab in labels if lab.item not in by_item]
    if unknown:
        raise AuditError(f"labels for items not in the key: {', '.join(unknown[:5])} (is this the packet's key.jsonl?)")
    labelled = {lab.item: set(lab.labels) for lab in labels}
    read_as = {lab.item: lab.intent.value for lab in labels if lab.intent is not None}
    out: dict[str, dict] = {}
    for source in sorted({s for k in key for s in k.sources}):
        items = [k.item for k in key if source in k.sources]
        done = [labelled[i] for i in items if i in labelled]
        n = len(done)
        figures = {
            "items": len(items), "labelled": n,
            "ok": round(sum(Category.ok in x for x in done) / n, 3) if n else None,
            "garbled_off_point_or_contradicts": round(sum(bool(x & set(CORE_PROBLEMS)) for x in done) / n, 3) if n else None,
        }
        figures.update({c.value: round(sum(c in x for x in done) / n, 3) if n else None for c in PROBLEMS})
        read = [(read_as[i], by_item[i].intent) for i in items if i in read_as]
        if read:  # the annotator also named the intent: how often it is the one the director asked for
            figures["intent_read_as_asked"] = round(sum(a == b for a, b in read) / len(read), 3)
        out[source] = figures
    return out


def before_after_rows(after: list[dict], before: list[dict]) -> list[dict]:
    """A packet's rows for two versions of the same calls: every reply of ``after``, and the reply
    of ``before`` (source ``before``) wherever the two versions said something different."""
    old = {(r["call"], r["line"]): r for r in before}
    rows = list(after)
    seen = {(r["call"], r["line"]) for r in after}
    for r in after:
        o = old.get((r["call"], r["line"]))
        if o is not None and o["reply"] != r["reply"]:
            rows.append({**o, "source": "before"})
    rows += [{**o, "source": "before"} for pos, o in old.items() if pos not in seen]
    return rows


def versions(labels: list[Label], key: list[KeyRow]) -> dict:
    """Shares over whole calls for a before/after packet (``before_after_rows``): "after" counts
    every reply of the after version, "before" the before line wherever it differs and the after
    line elsewhere (the two said the same)."""
    labelled = {lab.item: set(lab.labels) for lab in labels}
    after: dict[tuple, set] = {}
    before: dict[tuple, set] = {}
    for k in key:
        if k.item not in labelled:
            continue
        (before if k.sources == ["before"] else after)[(k.call, k.line)] = labelled[k.item]
    before = {**after, **before}
    out = {}
    for name, got in (("before", before), ("after", after)):
        n = len(got)
        figures = {"items": n, "labelled": n,
                   "ok": round(sum(Category.ok in x for x in got.values()) / n, 3) if n else None,
                   "garbled_off_point_or_contradicts": round(sum(bool(x & set(CORE_PROBLEMS)) for x in got.values()) / n, 3) if n else None}
        figures.update({c.value: round(sum(c in x for x in got.values()) / n, 3) if n else None for c in PROBLEMS})
        out[name] = figures
    return out


def audit_table(figures: dict) -> str:
    cols = ["items", "labelled", "ok", "garbled_off_point_or_contradicts", *(c.value for c in PROBLEMS)]
    if any("intent_read_as_asked" in f for f in figures.values()):
        cols.append("intent_read_as_asked")
    lines = ["| source | " + " | ".join(c.replace("_", " ") for c in cols) + " |", "|---" * (len(cols) + 1) + "|"]
    for source, f in figures.items():
        cells = [str(f[c]) if c in ("items", "labelled") else ("-" if f.get(c) is None else f"{f[c]:.1%}") for c in cols]
        lines.append(f"| {source} | " + " | ".join(cells) + " |")
    return "\n".join(lines)
