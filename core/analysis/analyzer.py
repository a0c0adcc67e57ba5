"""The turn analyzer: one :class:`TurnAnalysis` per turn, read by both the scorer and the director.

A turn is split into sentences; all of its sentences are embedded in one call (cached per
distinct sentence); every catalogue signal for the speaker's side runs its one detector; the
question type and topics, money amounts and any payment offer are extracted; and the
:class:`CallContext` is threaded from the turn before to the turn after.
"""

from __future__ import annotations

import re
import threading
from collections.abc import Sequence
from datetime import date, datetime
from pathlib import Path

from core.analysis.amounts import find_amounts, find_date, is_recurring
from core.analysis.catalogue import (
    Catalogue,
    CatalogueError,
    default_catalogue,
    load_catalogue,
    shown_path,
    signal_problems,
)
from core.analysis.detectors import (
    FLAGS,
    Detector,
    ExemplarBank,
    SentencePatterns,
    TurnText,
    build_detectors,
    detect_turn,
)
from core.analysis.embedder import Embedder
from core.analysis.graded import GradedReadings
from core.analysis.script import to_simplified, with_original
from core.analysis.types import CallContext, Hit, PaymentOffer, QuestionType, Topic, TurnAnalysis
from core.transcript import Transcript

# Languages the default embedder (all-MiniLM-L6-v2) understands; elsewhere only patterns run.
SEMANTIC_LANGUAGES = frozenset({"en"})

# Catalogue signals this module reads by name. An Analyzer refuses a catalogue without one of
# them: a signal renamed in signals.yaml and not here would never move the call context.
# A CallContext flag an agent turn sets (for the rest of the call) -> the signals that set it.
AGENT_FLAGS: dict[str, tuple[str, ...]] = {
    "self_identified": ("self_identification",),
    "identity_asked": ("identity_check", "identifier_request"),
    "identifier_asked": ("identifier_request",),
    "debt_disclosed": ("debt_mention", "payment_offer"),
    "mini_miranda_given": ("mini_miranda",),
}
# ... and a debtor's (or a third party's) turn.
DEBTOR_FLAGS: dict[str, tuple[str, ...]] = {
    "stop_requested": ("debtor_stop_request",),
    "attorney_mentioned": ("debtor_attorney",),
    "distress_disclosed": ("debtor_distress_severe",),
    "hardship_disclosed": ("debtor_hardship",),
    "dispute_raised": ("debtor_dispute",),
}
NOT_ACCOUNT_HOLDER = "debtor_not_account_holder"
CONFIRMS_IDENTITY = "debtor_confirms_identity"
GIVES_IDENTIFIER = "debtor_gives_identifier"
# The signals whose sentence holds a payment plan, and the agent's recap that may read one back.
OFFER_SIGNALS = ("payment_offer", "debtor_promise")
RECAP = "recap"


def signal_references() -> list[tuple[str, str, str]]:
    """``(file, field, signal)`` for every catalogue signal this module reads by name."""
    here = shown_path(__file__)
    refs = [(here, f"{table}[{flag}]", n) for table, flags in (("AGENT_FLAGS", AGENT_FLAGS), ("DEBTOR_FLAGS", DEBTOR_FLAGS))
            for flag, names in flags.items() for n in names]
    refs += [(here, "OFFER_SIGNALS", n) for n in OFFER_SIGNALS]
    singles = {"NOT_ACCOUNT_HOLDER": NOT_ACCOUNT_HOLDER, "CONFIRMS_IDENTITY": CONFIRMS_IDENTITY,
               "GIVES_IDENTIFIER": GIVES_IDENTIFIER, "RECAP": RECAP}
    return refs + [(here, field, n) for field, n in singles.items()]

_ABBREVIATIONS = re.compile(
    r"\b(?:mr|mrs|ms|dr|prof|sr|jr|st|vs|etc|no|approx|dept|inc|ltd|co|corp|e\.g|i\.e|a\.m|p\.m)\.$",
    re.IGNORECASE,
)
_EN_SPLIT = re.compile(r"(?<=[.!?])[\"'’”)\]]*\s+|\n+|(?<=[.!?]{2})")
_ZH_SPLIT = re.compile(r"(?<=[。！？!?；;])|\n+")
# A sentence typed as a question without its question mark: a question word first (after "ok",
# "so", "and"...), then a subject or verb ("how have things been", "whats your zip"); "how
# about Friday" and "what a day" are not questions without the mark.
_EN_QUESTION_START = re.compile(
    r"^\W*(?:(?:ok(?:ay)?|k|so|and|well|alright|aight|hey|hi|um|uh|but|then|now|look|like|just|oh|yeah|right)\b[\s,]*)*"
    r"(?:(?:how|what|whats|wats|when|where|why|who|which)(?:'s|'re)?\s+(?:(?:is|are|was|were|do|does|did|have|has|can|could|would|will|should)(?:n'?t)?|won'?t|r|much|many|long|often|things|you|your|u|ur|ya|time|day|date|kind|sort|amount|number|happened|went|made|caused|the|my|our|that|this)"
    # "who lives there with you", "whats ur budget", "hows it going": a sentence opened by who,
    # what's or how's asks
    r"|(?:who|whose|what's|whats|wats|how's|hows|when's|whens|where's|wheres)\s+[a-z]+"
    r"|(?:(?:can|could|would|do|does|did|is|are|have|has)(?:n'?t)?|will|won'?t|can'?t|r)\s+(?:you|u|ya|it|this|that|there|we|i|he|she|they|your))\b",
    re.IGNORECASE,
)


# Typed turns run a remark and a question together with a comma ("aw sorry to hear that, r u
# working right now"): each clause may open a question.
_CLAUSE = re.compile(r"[,;:]|\s[-–—]+\s")


# A clause after the first opens a question only with a verb before its subject ("r u working",
# "what do you do", "hows work"): "call me back, when you get paid" and "..., what you owe is"
# are statements.
_EN_CLAUSE_QUESTION = re.compile(
    r"^\W*(?:(?:ok(?:ay)?|k|so|and|but|then|now|also|just|oh)\b[\s,]*)*"
    r"(?:(?:(?:can|could|would|do|does|did|is|are|have|has)(?:n'?t)?|will|won'?t|can'?t|r)\s+(?:you|u|ya|it|this|that|there|we|i|he|she|they|your|ur)"
    r"|(?:how|what|when|where|why|who)\s+(?:(?:is|are|was|were|do|does|did|have|has|can|could|would|will|should)(?:n'?t)?|won'?t|can'?t|r)"
    r"|(?:how's|hows|what's|whats|wats|who's|whos))\b",
    re.IGNORECASE,
)


def _opens_question(sentence: str) -> bool:
    first, *rest = _CLAUSE.split(sentence)
    return bool(_EN_QUESTION_START.search(first.strip())) or any(_EN_CLAUSE_QUESTION.search(c.strip()) for c in rest)


def typed_question(text: str) -> bool:
    """A sentence of ``text`` is a question typed without its mark ("how have things been", "r u
    working", "ok so when can you pay", "thx, how r u"): the one reading of it, for the analysis
    and the director."""
    return any(_opens_question(s.strip()) for s in re.split(r"[.!?\n]+", text) if s.strip())
_TAG = re.compile(r"^\W*(?:ok(?:ay)?|k|alright|all right|right|yeah|yes|got it|understood|fair|you know|capisce|好吗|好不好|行吗|可以吗|明白吗|对吧)\W*$", re.I)


def tag_only(text: str) -> bool:
    """The turn's only questions are tags after a statement ("... will be used for that purpose.
    Okay?"): a check that the listener heard, answered with an okay, not a question of fact."""
    sentences = [s.strip() for s in re.split(r"(?<=[.!?。！？])\s*", text) if s.strip()]
    asking = [s for s in sentences if "?" in s or "？" in s or typed_question(s)]
    return bool(asking) and len(sentences) > 1 and all(_TAG.match(s) for s in asking)


_ZH_QUESTION_END = re.compile(r"[?？]\s*$|[吗呢吧么]\s*[。.]?$")


def split_sentences(text: str, language: str = "en") -> list[str]:
    """Split a turn into sentences ("Mr. Smith" and "$1,200.50" stay whole)."""
    text = text.strip()
    if not text:
        return []
    if language == "zh":
        parts = [p.strip() for p in _ZH_SPLIT.split(text)]
        return [p for p in parts if p and re.search(r"\w", p)]
    out: list[str] = []
    pending = ""
    for piece in _EN_SPLIT.split(text):
        if not piece or not piece.strip():
            continue
        pending = f"{pending} {piece.strip()}".strip() if pending else piece.strip()
        if _ABBREVIATIONS.search(pending):
            continue  # "Mr." is not the end of a sentence
        out.append(pending)
        pending = ""
    if pending:
        out.append(pending)
    return [s for s in out if re.search(r"\w", s)]


def local_hour(started_at: object) -> int | None:
    """The hour of an ISO timestamp as written (its own offset is the debtor's local time)."""
    parsed = _parse_time(started_at)
    return parsed.hour if parsed else None


def _parse_time(value: object) -> datetime | None:
    if isinstance(value, datetime):
        return value
    if not isinstance(value, str) or not value.strip():
        return None
    try:
        return datetime.fromisoformat(value.strip().replace("Z", "+00:00"))
    except ValueError:
        return None


def initial_context(transcript: Transcript) -> CallContext:
    """The context before a call's first turn, from its metadata (started_at, first_contact)."""
    md = transcript.metadata or {}
    return CallContext(first_contact=bool(md.get("first_contact", True)), local_hour=local_hour(md.get("started_at")))


def _default_model_id() -> str:
    from core.analysis.embedder import default_model_path

    return default_model_path()


class Analyzer:
    """Analyses turns against the signal catalogue (patterns + embedding exemplars).

    Build it once and reuse it: the catalogue is parsed and its exemplars embedded once (on
    first use, or by :meth:`warm_up`). Thread-safe: per-call state lives on the stack.
    """

    def __init__(
        self,
        embedder: Embedder | None = None,
        catalogue_path: Path | str | None = None,
        language: str = "en",
    ) -> None:
        self.catalogue: Catalogue = load_catalogue(catalogue_path) if catalogue_path else default_catalogue()
        problems = signal_problems(signal_references(), self.catalogue)
        if problems:
            raise CatalogueError(problems)
        if language not in self.catalogue.languages:
            raise ValueError(f"language {language!r} is not in the signal catalogue ({self.catalogue.languages})")
        self.language = language
        self.semantic = language in SEMANTIC_LANGUAGES
        self._embedder = embedder
        self._bank = ExemplarBank()
        self._detectors = build_detectors(self.catalogue, language, self._bank, semantic=self.semantic)
        self._by_side = {
            side: {n: d for n, d in self._detectors.items() if n in self.catalogue.for_speaker(side)}
            for side in ("agent", "debtor")
        }
        self._patterns = {side: SentencePatterns(dets, language) for side, dets in self._by_side.items()}
        self._topics: list[tuple[Topic, slice, float, list[re.Pattern[str]]]] = []
        for topic, spec in self.catalogue.topics.items():
            sl = self._bank.add(list(spec.exemplars)) if self.semantic else slice(0, 0)
            pats = [re.compile(p, FLAGS) for p in spec.patterns.get(language, [])]
            self._topics.append((topic, sl, spec.threshold, pats))
        q = self.catalogue.question
        self._q_open = [re.compile(p, FLAGS) for p in q.open.get(language, [])]
        self._q_open_any = [re.compile(p, FLAGS) for p in q.open_anywhere.get(language, [])]
        self._q_imperative = [re.compile(p, FLAGS) for p in q.imperative_open.get(language, [])]
        self._graded = GradedReadings(language, self._bank if self.semantic else None, self.split_sentences,
                                      embedder=lambda: self.embedder)
        self._ready = False
        self._lock = threading.Lock()

    # ------------------------------------------------------------------ set-up

    @property
    def embedder(self) -> Embedder | None:
        """The sentence embedder (None for a pattern-only language such as zh)."""
        if self._embedder is None and self.semantic:
            from core.analysis.embedder import default_embedder

            self._embedder = default_embedder()
        return self._embedder

    @property
    def signal_names(self) -> frozenset[str]:
        return frozenset(self._detectors)

    def _ensure_ready(self) -> None:
        if self._ready:
            return
        with self._lock:
            if not self._ready:
                if self.semantic:
                    emb = self.embedder
                    model_id = str(getattr(emb, "path_or_name", None) or _default_model_id())
                    self._bank.embed(emb.encode, model_id=model_id)
                self._ready = True

    def warm_up(self) -> None:
        """Load the model, embed the exemplars and run one turn, so real turns are fast."""
        self._ensure_ready()
        self._graded.warm_up()
        self.analyze_turn("Hello, how are you today?", speaker="agent")

    def split_sentences(self, text: str) -> list[str]:
        return split_sentences(text, self.language)

    def initial_context(self, transcript: Transcript) -> CallContext:
        """The context before a call's first turn (:func:`initial_context`)."""
        return initial_context(transcript)

    # ------------------------------------------------------------------ analysis

    def _turn_text(self, text: str, extra: Sequence[str] = ()) -> TurnText:
        """The turn's sentences, embedded with any ``extra`` texts the graded readings need."""
        sentences = self.split_sentences(text)
        turn = TurnText(sentences=sentences, language=self.language)
        if self.semantic and (sentences or extra) and self._bank.matrix is not None:
            emb = self.embedder.encode([*sentences, *extra])  # one call per turn
            turn.vectors = emb
            turn.sims = emb[: len(sentences)] @ self._bank.matrix.T
        return turn

    def analyze_turn(
        self,
        text: str,
        speaker: str = "agent",
        index: int = 0,
        context: CallContext | None = None,
        *,
        today: date | None = None,
    ) -> TurnAnalysis:
        """Analyse one turn given the call so far; ``.context`` is before it, ``.after`` after it.

        Chinese is read in Simplified characters (OpenCC, :mod:`core.analysis.script`) and quoted
        as it was said, whichever reader asks: the scorer, the director, live coaching."""
        if self.language == "zh":
            simple = to_simplified(text or "")
            if simple != (text or ""):
                analysis = self.analyze_turn(simple, speaker, index, context, today=today)
                return with_original(analysis, text or "", simple)
        self._ensure_ready()
        context = context if context is not None else CallContext()
        speaker = speaker if speaker in ("agent", "debtor", "third_party") else "debtor"
        side = "agent" if speaker == "agent" else "debtor"
        turn = self._turn_text(text or "", self._graded.extra_texts(side, text or "", context.last_other))
        hits = detect_turn(self._by_side[side], turn, self._patterns[side])
        names = {h.signal for h in hits}
        question, topic_list = self._questions(turn) if side == "agent" else self._questions(turn, topics=False)
        amounts = tuple(a.value for a in find_amounts(text or ""))
        offer = self._offer(turn, hits, today)
        empathy, clarity = self._graded.read(side, turn.sentences, context.last_other, names, turn.vectors)
        after = update_context(context, speaker, names)
        if side != "agent":
            after = after.evolve(last_other=text or "")
        return TurnAnalysis(
            index=index,
            speaker=speaker,
            text=text,
            hits=hits,
            question=question,
            question_topics=topic_list,
            offer=offer,
            amounts=amounts,
            context=context,
            after=after,
            empathy=empathy,
            clarity=clarity,
        )

    def analyze_transcript(self, transcript: Transcript) -> list[TurnAnalysis]:
        """One analysis per turn (every speaker), the context threaded through the call."""
        self._ensure_ready()
        ctx = initial_context(transcript)
        today = _call_date(transcript)
        out: list[TurnAnalysis] = []
        for i, turn in enumerate(transcript.turns):
            speaker, text = _speaker_text(turn)
            a = self.analyze_turn(text, speaker=speaker, index=i, context=ctx, today=today)
            out.append(a)
            ctx = a.after
        return out

    def analyze_many(self, transcripts: Sequence[Transcript], batch_size: int = 4096) -> list[list[TurnAnalysis]]:
        """Analyse a batch: every distinct sentence of the batch is embedded once, in large batches."""
        self._ensure_ready()
        if self.semantic:
            distinct = self.texts_to_embed(transcripts)
            for start in range(0, len(distinct), batch_size):
                self.embedder.encode(distinct[start : start + batch_size])
            agent = [text for t in transcripts for speaker, text in map(_speaker_text, t.turns) if speaker == "agent"]
            self._graded.prepare(agent)
        return [self.analyze_transcript(t) for t in transcripts]

    def texts_to_embed(self, transcripts: Sequence[Transcript]) -> list[str]:
        """Every distinct text analysing ``transcripts`` embeds, in first-seen order: each sentence
        of each turn, and the clarity reading's canonical form of each agent turn."""
        sentences = (s for t in transcripts for turn in t.turns for s in self.split_sentences(_speaker_text(turn)[1]))
        agent = [text for t in transcripts for speaker, text in map(_speaker_text, t.turns) if speaker == "agent"]
        return list(dict.fromkeys([*sentences, *self._graded.canonical_texts(agent)]))

    # ------------------------------------------------------------------ structure

    def _is_question(self, s: str) -> bool:
        if s.rstrip().endswith(("?", "？")):
            return True
        if self.language == "en":
            # typed without a question mark: "how have things been", "ok so when can you pay"
            return _opens_question(s)
        return self.language == "zh" and bool(_ZH_QUESTION_END.search(s))

    def _question_type(self, s: str) -> QuestionType | None:
        if any(rx.search(s) for rx in self._q_imperative):
            return "open"
        if not self._is_question(s):
            return None
        if any(rx.search(s) for rx in self._q_open) or any(rx.search(s) for rx in self._q_open_any):
            return "open"
        return "closed"

    def _questions(self, turn: TurnText, topics: bool = True) -> tuple[QuestionType | None, tuple[Topic, ...]]:
        kinds: list[QuestionType] = []
        scored: dict[Topic, float] = {}
        for i, s in enumerate(turn.matched):
            kind = self._question_type(s)
            if kind is None:
                continue
            kinds.append(kind)
            if not topics:
                continue
            for topic, sl, threshold, pats in self._topics:
                score = 0.0
                if any(rx.search(s) for rx in pats):
                    score = 1.0
                elif turn.sims is not None and sl.stop > sl.start:
                    best = float(turn.sims[i, sl].max())
                    score = best if best >= threshold else 0.0
                if score > scored.get(topic, 0.0):
                    scored[topic] = score
        question: QuestionType | None = "open" if "open" in kinds else ("closed" if kinds else None)
        ordered = tuple(t for t, _ in sorted(scored.items(), key=lambda kv: -kv[1]))
        return question, ordered

    def _offer(self, turn: TurnText, hits: tuple[Hit, ...], today: date | None) -> PaymentOffer | None:
        """The payment plan of an agent's payment_offer, a debtor's promise, or an agent's recap
        that reads a plan back (an amount with a date or a cadence), when it has an amount."""
        source = next((h for h in hits if h.signal in OFFER_SIGNALS), None)
        if source is None:
            recap = next((h for h in hits if h.signal == RECAP), None)
            # "so that's $1,200 you owe" is no plan: a recapped plan says when or how often
            if recap is None or not find_amounts(recap.quote):
                return None
            if not (is_recurring(recap.quote) or find_date(recap.quote, today)):
                return None
            source = recap
        sentence = source.quote
        amounts = find_amounts(sentence)
        if not amounts:  # the plan sentence and its amount may be split: "$50 a month. Would that work?"
            for s in turn.sentences:
                amounts = find_amounts(s)
                if amounts:
                    sentence = s
                    break
        if not amounts:
            return None
        recurring = is_recurring(sentence)
        amount = amounts[0]
        if recurring and len(amounts) > 1:
            # "of the $1,200, could you do $100 a month?": the instalment is the one next to its cadence
            amount = min(amounts, key=lambda a: _distance_to_cadence(sentence, a.end))
        whole = " ".join(turn.sentences)
        when = find_date(sentence, today) or find_date(whole, today)
        return PaymentOffer(
            amount=amount.value,
            monthly=recurring,
            date_text=when[0] if when else None,
            days_from_now=when[1] if when else None,
        )


def _distance_to_cadence(sentence: str, pos: int) -> int:
    from core.analysis.amounts import RECURRING

    starts = [m.start() for m in RECURRING.finditer(sentence)]
    return min((abs(s - pos) for s in starts), default=10**6)


def _speaker_text(turn: object) -> tuple[str, str]:
    # a Transcript built with model_copy(update=...) may hold plain dicts instead of Turns
    if isinstance(turn, dict):
        return str(turn.get("speaker", "debtor")), str(turn.get("text") or "")
    return turn.speaker, turn.text or ""


def _call_date(transcript: Transcript) -> date | None:
    parsed = _parse_time((transcript.metadata or {}).get("started_at"))
    return parsed.date() if parsed else None


def update_context(before: CallContext, speaker: str, signals: set[str] | frozenset[str]) -> CallContext:
    """The call context after a turn by ``speaker`` that produced ``signals``."""
    if speaker == "agent":
        flags = {f: getattr(before, f) or not signals.isdisjoint(names) for f, names in AGENT_FLAGS.items()}
        return before.evolve(agent_turns=before.agent_turns + 1, **flags)
    changes: dict[str, bool] = {f: getattr(before, f) or not signals.isdisjoint(names) for f, names in DEBTOR_FLAGS.items()}
    if NOT_ACCOUNT_HOLDER in signals or speaker == "third_party":
        changes.update(third_party=True, identity_verified=False, name_confirmed=False, identifier_confirmed=False)
    elif speaker == "debtor":
        # Only answers to the agent's own check count: a name said before anyone asked, or a
        # date of birth nobody asked for, verifies nothing.
        name = before.name_confirmed or (before.identity_asked and CONFIRMS_IDENTITY in signals)
        detail = before.identifier_confirmed or (before.identifier_asked and GIVES_IDENTIFIER in signals)
        changes.update(name_confirmed=name, identifier_confirmed=detail, identity_verified=name and detail)
        if name:
            changes.update(third_party=False)
    return before.evolve(**changes)


__all__ = ["Analyzer", "Detector", "initial_context", "split_sentences", "update_context", "local_hour"]
