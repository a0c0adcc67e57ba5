"""Validity report: do the scorer's numbers agree with people? (``make validity``)

    python -m evals.validity                      # the dev-label sets, writes docs/VALIDITY.md
    python -m evals.validity --section before     # record the table as the "before" one

Scores the human-labelled development sets in ``../shared/data/dev-labels/`` (its README names
them and their licences) with the product's own analysis and scorer, nothing fitted here:

* ESConv supporter replies, each with the seeker's turn before it, scored as a two-turn call
  (seeker = the other party, supporter = the agent): the reflection detector against the
  "Reflection of feelings" + "Restatement or Paraphrasing" labels (AUROC), the exploration
  (question) reading against "Questions", and the empathy criterion against the README's
  empathic strategies, with the share of replies tied at the modal empathy score.
* ESConv dialogues the seeker rated for empathy (1-5): the call's empathy score (Spearman).
* CommonLit excerpts, each scored as one agent turn: the clarity criterion against the
  teachers' ease-of-reading ``target`` (Spearman, and accuracy on clearly different pairs).
* Davidson tweets: the ``abuse`` signal, offensive-or-hate against neither (F1, false-positive
  rate on neither).

Every set is subsampled deterministically (rows whose text hashes lowest) so the whole run
takes a few minutes on two cores; the limits are options. The trivial baselines are length,
Flesch reading ease and a short swear-word list.
"""

from __future__ import annotations

import json
import re
import time
from dataclasses import asdict, dataclass
from pathlib import Path

import typer

from evals import validity_sets as vs

ROOT = Path(__file__).resolve().parent.parent
DATA = ROOT.parent / "shared" / "data" / "dev-labels"
DOC = ROOT / "docs" / "VALIDITY.md"
README = ROOT / "README.md"
LIMITS = {"strategies": 1200, "dialogues": 60, "readability": 400, "offensive": 4000}
# The trivial word-list baseline for abuse: common English swear words and insults.
SWEARS = re.compile(
    r"\b(?:fuck\w*|shit\w*|bitch\w*|ass|asshole\w*|bastard\w*|damn\w*|cunt\w*|dick\w*|pussy|whore\w*|"
    r"slut\w*|hoe|hoes|idiot\w*|stupid|moron\w*|retard\w*|fag\w*|nigg\w*|twat\w*|crap)\b",
    re.IGNORECASE,
)


@dataclass
class Row:
    set: str
    items: int
    metric: str
    baseline_name: str
    baseline: float
    scorer: float
    modal_share: float | None = None
    note: str = ""


# --- reading the analysis -------------------------------------------------------------------


def reflection_strength(a) -> float:
    """The reflection detector's reading of one agent turn, in [0, 1]."""
    reading = getattr(a, "empathy", None)
    if reading is not None:
        return float(reading.reflection.strength)
    hit = a.first("active_listening")
    return float(hit.score) if hit is not None else 0.0


def exploration_strength(a) -> float:
    """How strongly one agent turn explores the other's situation (open questions), in [0, 1]."""
    reading = getattr(a, "empathy", None)
    if reading is not None:
        return float(reading.exploration.strength)
    return {"open": 1.0, "closed": 0.5}.get(a.question or "", 0.0)


def _words(text: str) -> int:
    return len(text.split())


def _flesch(text: str) -> float:
    from rubrics.metrics import readability

    value = readability(text)
    return float(value) if value is not None else 0.0


def _transcript(tid: str, turns):
    from core.transcript import Transcript, Turn

    return Transcript(id=tid, turns=[Turn(speaker=s, text=t) for s, t in turns])


def _score(scorer, transcripts):
    analyses = scorer.analyzer.analyze_many(transcripts)
    return analyses, [scorer.score_analysed(t, a) for t, a in zip(transcripts, analyses, strict=True)]


# --- the sets ---------------------------------------------------------------------------------


def strategies_rows(rows: list[vs.StrategyRow], scorer) -> list[Row]:
    calls = [_transcript(f"esconv-{k}", [("debtor", r.seeker), ("agent", r.supporter)]) for k, r in enumerate(rows)]
    analyses, scores = _score(scorer, calls)
    reply = [a[-1] for a in analyses]
    empathy = [s.criteria["empathy"].score for s in scores]
    length = [_words(r.supporter) for r in rows]
    reflective = [r.strategy in vs.REFLECTIVE for r in rows]
    questions = [r.strategy == "Questions" for r in rows]
    empathic = [r.strategy in vs.EMPATHIC for r in rows]
    asks = [float("?" in r.supporter) for r in rows]
    name = "ESConv replies"
    return [
        Row(name, len(rows), "reflection + restatement vs other strategies, AUROC", "length",
            vs.auroc(reflective, length), vs.auroc(reflective, [reflection_strength(a) for a in reply]),
            note="reflection detector"),
        Row(name, len(rows), "Questions vs other strategies, AUROC", "has '?'",
            vs.auroc(questions, asks), vs.auroc(questions, [exploration_strength(a) for a in reply]),
            note="exploration (open question) reading"),
        Row(name, len(rows), "empathic strategies vs others, AUROC", "length",
            vs.auroc(empathic, length), vs.auroc(empathic, empathy), vs.modal_share(empathy),
            note="empathy criterion; ties at the modal score"),
    ]


def dialogue_rows(rows: list[vs.RatedDialogue], scorer) -> list[Row]:
    calls = [_transcript(f"esconv-dialogue-{k}", r.turns) for k, r in enumerate(rows)]
    _, scores = _score(scorer, calls)
    empathy = [s.criteria["empathy"].score for s in scores]
    rating = [r.empathy for r in rows]
    agent_words = [sum(_words(t) for s, t in r.turns if s == "agent") / max(1, sum(s == "agent" for s, _ in r.turns))
                   for r in rows]
    return [Row("ESConv rated dialogues", len(rows), "call empathy vs the seeker's empathy rating, Spearman",
                "words per reply", vs.spearman(rating, agent_words), vs.spearman(rating, empathy),
                vs.modal_share(empathy), note="empathy criterion")]


def readability_rows(rows: list[vs.ReadabilityRow], scorer) -> list[Row]:
    calls = [_transcript(f"commonlit-{r.id}", [("agent", r.excerpt)]) for r in rows]
    _, scores = _score(scorer, calls)
    clarity = [s.criteria["clarity"].score for s in scores]
    flesch = [_flesch(r.excerpt) for r in rows]
    target = [r.target for r in rows]
    pairs_base, n_pairs = vs.pair_accuracy(rows, flesch)
    pairs_score, _ = vs.pair_accuracy(rows, clarity)
    name = "CommonLit excerpts"
    return [
        Row(name, len(rows), "clarity vs ease of reading, Spearman", "Flesch", vs.spearman(target, flesch),
            vs.spearman(target, clarity), vs.modal_share(clarity), note="clarity criterion"),
        Row(name, len(rows), f"clearly different pairs ordered right ({n_pairs:,} pairs)", "Flesch", pairs_base,
            pairs_score, note="ties count half"),
    ]


def abuse_detector():
    """The analysis's own detector of the ``abuse`` signal (it needs no embeddings)."""
    from core.analysis import default_catalogue
    from core.analysis.detectors import ExemplarBank, build_detectors

    return build_detectors(default_catalogue(), "en", ExemplarBank(), semantic=False)["abuse"]


def offensive_rows(rows: list[vs.OffensiveRow], detector) -> list[Row]:
    from core.analysis import split_sentences
    from core.analysis.detectors import TurnText

    truth = [r.label != "neither" for r in rows]
    flagged = [detector.detect(TurnText(split_sentences(r.text), "en")) is not None for r in rows]
    listed = [bool(SWEARS.search(r.text)) for r in rows]
    ours, base = vs.binary_figures(truth, flagged), vs.binary_figures(truth, listed)
    return [Row("Davidson tweets", len(rows), "offensive or hate vs neither, F1 (false-positive rate)",
                "swear-word list", base["f1"], ours["f1"], vs.modal_share([float(f) for f in flagged]),
                note=f"abuse signal; FPR {ours['fpr']:.1%} (list {base['fpr']:.1%}), "
                     f"precision {ours['precision']:.2f}, recall {ours['recall']:.2f}")]


# --- the report -------------------------------------------------------------------------------


def run(data: Path, limits: dict[str, int | None], scorer=None, log=print, only: set[str] | None = None) -> list[Row]:
    """Score every set (or the ``only`` ones); ``limits`` caps the rows of each (None: all)."""
    from rubrics import Scorer

    scorer = scorer or Scorer("default-en")
    scorer.warm_up()
    steps = [
        ("strategies", lambda: strategies_rows(
            vs.read_strategies(data / "esconv_strategies.jsonl", limits["strategies"]), scorer)),
        ("dialogues", lambda: dialogue_rows(
            vs.read_rated_dialogues(data / "esconv_failed_dialogues.json", limits["dialogues"]), scorer)),
        ("readability", lambda: readability_rows(
            vs.read_readability(data / "commonlit_readability.csv", limits["readability"]), scorer)),
        ("offensive", lambda: offensive_rows(
            vs.read_offensive(data / "davidson_offensive.csv", limits["offensive"]), abuse_detector())),
    ]
    out: list[Row] = []
    for name, step in steps:
        if only and name not in only:
            continue
        started = time.perf_counter()
        rows = step()
        log(f"{name}: {time.perf_counter() - started:.0f} s")
        out += rows
    return out


def table(rows: list[Row]) -> str:
    head = "| set | items | metric | trivial baseline | scorer | tied at modal score | what is scored |\n"
    head += "|---|---:|---|---|---:|---:|---|\n"
    lines = [
        f"| {r.set} | {r.items:,} | {r.metric} | {r.baseline_name}: {r.baseline:.2f} | **{r.scorer:.2f}** | "
        f"{'' if r.modal_share is None else f'{r.modal_share:.0%}'} | {r.note} |"
        for r in rows
    ]
    return head + "\n".join(lines) + "\n"


TEMPLATE = """# Validity: do the scores agree with people?

`make validity` (`python -m evals.validity`) scores public human-labelled sets with the product's
own turn analysis and scorer and writes this page. Nothing is fitted to these sets by the script.
See `evals/validity.py` for what each row scores and how the sets are subsampled.

## Now

<!-- validity:now -->
<!-- /validity:now -->

## Before

<!-- validity:before -->
<!-- /validity:before -->
"""


def write_section(doc: Path, section: str, body: str) -> None:
    """Replace the text between the section's markers (creating the page from the template)."""
    from core.files import atomic_write_text

    text = doc.read_text(encoding="utf-8") if doc.is_file() else TEMPLATE
    start, end = f"<!-- validity:{section} -->", f"<!-- /validity:{section} -->"
    if start not in text or end not in text:
        raise SystemExit(f"{doc}: the markers {start} ... {end} are missing; restore them or delete the file")
    before, rest = text.split(start, 1)
    _, after = rest.split(end, 1)
    atomic_write_text(doc, f"{before}{start}\n{body}{end}{after}")


def main(
    data: Path = typer.Option(DATA, help="The dev-labels folder."),
    doc: Path = typer.Option(DOC, help="The page to write."),
    section: str = typer.Option("now", help="Which table of the page to write: now or before."),
    json_out: Path = typer.Option(Path("out/validity.json"), "--json", help="The figures as JSON."),
    strategies: int = typer.Option(LIMITS["strategies"], help="ESConv replies scored (0: all)."),
    dialogues: int = typer.Option(LIMITS["dialogues"], help="ESConv rated dialogues scored (0: all)."),
    readability: int = typer.Option(LIMITS["readability"], help="CommonLit excerpts scored (0: all)."),
    offensive: int = typer.Option(LIMITS["offensive"], help="Davidson tweets scored (0: all)."),
    only: str = typer.Option("", help="Score only these sets (comma-separated: strategies, dialogues, "
                                      "readability, offensive); the table then has only their rows."),
) -> None:
    """Score the dev-label sets and write the validity table."""
    if section not in ("now", "before"):
        raise SystemExit(f"--section must be 'now' or 'before', not {section!r}")
    limits = {"strategies": strategies, "dialogues": dialogues, "readability": readability, "offensive": offensive}
    chosen = {s.strip() for s in only.split(",") if s.strip()}
    if chosen - set(limits):
        raise SystemExit(f"--only: unknown set(s) {', '.join(sorted(chosen - set(limits)))}; choose from {', '.join(limits)}")
    try:
        rows = run(data, {k: (v or None) for k, v in limits.items()}, only=chosen or None)
    except vs.LabelSetError as exc:
        raise SystemExit(str(exc)) from None
    body = table(rows)
    write_section(doc, section, body)
    if section == "now" and doc == DOC and "<!-- validity:readme -->" in README.read_text(encoding="utf-8"):
        write_section(README, "readme", body)  # the README's score section shows the same table
    json_out.parent.mkdir(parents=True, exist_ok=True)
    json_out.write_text(json.dumps([asdict(r) for r in rows], indent=2), encoding="utf-8")
    print(body)
    print(f"written to {doc} ({section}) and {json_out}")


if __name__ == "__main__":
    typer.run(main)
