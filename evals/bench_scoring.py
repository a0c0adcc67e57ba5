"""Benchmark: scoring throughput against the embedder's own throughput, turn latency, peak RSS.

    python -m evals.bench_scoring --n 1000 --turns 20 --out out/bench-scoring.json

1. Generates ``n`` synthetic ``turns``-turn calls (seeded templates with names, amounts and
   dates, so most sentences are distinct, as in real calls).
2. Scores them in chunks through ``Scorer.score_many`` (analysis + rubric), timed: transcripts/s.
3. The bound: the same embedding model encodes exactly the distinct sentences the run
   embeds, straight through sentence-transformers (no cache, no analysis), once before and
   once after the scoring run (the mean is used; a shared machine's load drifts):
   transcripts/s if embedding were the only cost. Target: scoring >= 0.8 x the bound.
4. Per-turn latency of live analysis (``LiveScorer.add_turn``) after warm-up, on new sentences.
5. Peak RSS of the process.

Writes the figures as JSON (a benchmark, not a pass/fail test).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import random
import resource
import statistics
import sys
import time
from pathlib import Path

from core.transcript import Transcript

FIRST = ["Maria", "John", "Priya", "Tony", "Dana", "Greg", "Linda", "Kevin", "Walter", "Aisha", "Luis", "Mei",
         "Omar", "Sofia", "Ben", "Chloe", "Ravi", "Nina", "Pete", "Grace", "Hassan", "Ivy", "Jorge", "Kate"]
LAST = ["Lopez", "Smith", "Shah", "Russo", "Wells", "Park", "Chen", "Brown", "Novak", "Khan", "Garcia", "Li",
        "Haddad", "Rossi", "Cole", "Martin", "Patel", "Ivanova", "Young", "Kim", "Ali", "Stone", "Diaz", "Ward"]
AGENTS = ["Sam", "Alex", "Jordan", "Chris", "Taylor", "Morgan", "Casey", "Riley", "Jamie", "Drew"]
CREDITORS = ["Acme Bank", "Summit Card", "Northside Credit", "Lakeview Finance", "Harbor Loans", "Pine Medical"]
DAYS = ["Friday", "Monday", "the 15th", "the 1st", "next Tuesday", "the 20th", "Thursday", "the 28th"]
JOBS = ["lost my job", "had my hours cut", "was in the hospital", "went through a divorce", "had to pay for a funeral",
        "got laid off", "had a car accident", "had my shop close"]

OPEN = [
    "Good {tod}, this is {agent} from {collector}. May I speak with {first} {last}?",
    "Hello, my name is {agent} and I'm calling from {collector}. Am I speaking with {first} {last}?",
    "Hi, this is {agent} with {collector}. Is this {first}?",
]
VERIFY = [
    "Thank you, {first}. To confirm I have the right person, could you give me your date of birth?",
    "Thanks. For security, can you confirm the last four digits of your account, {first}?",
    "Great, {first}. Could you please confirm your home zip code for me?",
]
MIRANDA = [
    "Thank you. This is an attempt to collect a debt and any information obtained will be used for that purpose. I'm calling about your {creditor} account with a balance of ${amount}.",
    "Thanks, {first}. I need to let you know this is an attempt to collect a debt, and any information we get will be used for that purpose. Your {creditor} balance is ${amount}.",
]
AGENT_MID = [
    "I'm sorry to hear that you {job}, {first}. That sounds really hard.",
    "Can you tell me a little about what's been happening since {month}?",
    "What would you be able to manage each month without straining your budget?",
    "I understand, {first}. Thank you for telling me about that.",
    "How are things going with work at the moment?",
    "We could set up ${monthly} a month, with the first payment on {day}. Would that work?",
    "If ${monthly} is too much, we could start with ${small} and review it in {months} months.",
    "Let me check what options {creditor} allows for an account like yours.",
    "So you're saying your income dropped after {month}, and rent comes first. Is that right?",
    "There are no extra fees for paying by phone, and you can pay online as well.",
    "You have the right to dispute this balance, and I can send you the details in writing.",
    "Is {day} a good day for the first payment, or would another day suit you better?",
    "Does that plan make sense to you, {first}?",
]
CLOSE = [
    "So to recap: ${monthly} a month starting {day}, paid by card. Thank you for your time, {first}, have a good day.",
    "Just to confirm, ${monthly} on {day} and then monthly. Thanks for working with me, goodbye.",
]
DEBTOR = [
    "Yes, this is {first}.", "Speaking.", "Yeah, who's asking?", "It's {dob}.", "Sure, it's {zip}.",
    "I know, I've been meaning to call about it.", "Honestly, I {job} in {month} and it's been tough.",
    "I can't pay ${amount} right now.", "Maybe ${monthly} a month, if that's okay.",
    "I get paid on {day}, so that would work.", "Okay.", "That sounds fair.", "I'm not sure I can do that.",
    "My rent went up to ${rent} and I have two kids.", "Can you send me something in writing first?",
    "Alright, let's do it.", "Thanks for being understanding.", "I'll try my best.",
]
MONTHS = ["January", "February", "March", "April", "May", "June", "July", "August", "September", "October"]


def make_transcripts(n: int, turns: int, seed: int = 7) -> list[Transcript]:
    """``n`` synthetic English calls of exactly ``turns`` turns, agent first."""
    rng = random.Random(seed)
    calls = []
    for k in range(n):
        slots = {
            "first": rng.choice(FIRST), "last": rng.choice(LAST), "agent": rng.choice(AGENTS),
            "collector": rng.choice(["Acme Recovery", "Summit Collections", "Northside Recovery"]),
            "creditor": rng.choice(CREDITORS), "amount": f"{rng.randint(150, 4000)}",
            "monthly": f"{rng.randint(3, 30) * 5}", "small": f"{rng.randint(2, 6) * 5}",
            "day": rng.choice(DAYS), "job": rng.choice(JOBS), "month": rng.choice(MONTHS),
            "months": rng.randint(2, 6), "tod": rng.choice(["morning", "afternoon"]),
            "dob": f"{rng.choice(MONTHS)} {rng.randint(1, 28)}, 19{rng.randint(50, 99)}",
            "zip": f"{rng.randint(10000, 99999)}", "rent": f"{rng.randint(8, 25) * 100}",
        }
        agent_lines = [rng.choice(OPEN), rng.choice(VERIFY), rng.choice(MIRANDA)]
        mid = rng.sample(AGENT_MID, k=min(len(AGENT_MID), turns // 2 - 4))
        agent_lines += mid + [rng.choice(CLOSE)]
        out = []
        for i in range(turns):
            if i % 2 == 0:
                line = agent_lines[min(i // 2, len(agent_lines) - 1)]
                out.append({"speaker": "agent", "text": line.format(**slots)})
            else:
                out.append({"speaker": "debtor", "text": rng.choice(DEBTOR).format(**slots)})
        meta = {"started_at": f"2026-11-{rng.randint(1, 28):02d}T{rng.randint(9, 19):02d}:00:00-05:00",
                "debt_amount": float(slots["amount"])}
        calls.append(Transcript(id=f"bench-{k:05d}", turns=out, metadata=meta))
    return calls


def peak_rss_mb() -> float:
    kb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return kb / 1024 if sys.platform != "darwin" else kb / 1024 / 1024


def _encode_seconds(model, sentences: list[str], batch_size: int) -> float:
    t0 = time.perf_counter()
    model.encode(sentences, batch_size=batch_size, normalize_embeddings=True, convert_to_numpy=True,
                 show_progress_bar=False)
    return time.perf_counter() - t0


def run(n: int, turns: int, chunk: int, live_turns: int, rubric: str) -> dict:
    calls = make_transcripts(n, turns)
    load_before = os.getloadavg()
    embedder, analyzer, scorer, load_s = _load(rubric)

    # The sentences the run will have to embed: every distinct sentence of every turn, split
    # the way the analysis splits them, less what warm-up already embedded.
    warm = set(embedder._cache)
    distinct = _sentences_to_embed(calls, analyzer, warm)
    model = embedder._load()
    _encode_seconds(model, distinct[:1024], embedder.batch_size)  # warm torch's per-shape kernels
    bound_before_s = _encode_seconds(model, distinct, embedder.batch_size)

    encoded_before = embedder.sentences_encoded
    scored, score_s = _score_in_chunks(scorer, calls, chunk)
    embedded = [s for s in embedder._cache if s not in warm]
    encoded = embedder.sentences_encoded - encoded_before

    # measured again after the run: on a shared machine the load drifts; the bound is the mean
    bound_after_s = _encode_seconds(model, distinct, embedder.batch_size)
    embed_s = (bound_before_s + bound_after_s) / 2

    latencies = _live_turn_ms(rubric, analyzer, turns, live_turns)
    bound = n / embed_s if embed_s else float("inf")
    throughput = scored / score_s
    return {
        "benchmark": "scoring",
        "rubric": rubric,
        "transcripts": scored,
        "turns_per_transcript": turns,
        "sentences_distinct": len(distinct),
        "sentences_total": sum(len(analyzer.split_sentences(t.text)) for c in calls for t in c.turns),
        "sentences_embedded_by_run": encoded,
        "each_distinct_sentence_embedded_once": encoded == len(distinct) and set(embedded) == set(distinct),
        "score_seconds": round(score_s, 2),
        "transcripts_per_second": round(throughput, 2),
        "embed_only_seconds": round(embed_s, 2),
        "embed_only_seconds_before_after": [round(bound_before_s, 2), round(bound_after_s, 2)],
        "bound_transcripts_per_second": round(bound, 2),
        "ratio_to_bound": round(throughput / bound, 3),
        "target_ratio": 0.8,
        "live_turn_ms": {
            "n": len(latencies),
            "p50": round(statistics.median(latencies), 2),
            "p95": round(latencies[int(0.95 * (len(latencies) - 1))], 2),
            "max": round(latencies[-1], 2),
            "target_ms": 30,
        },
        "load_seconds": round(load_s, 2),
        "peak_rss_mb": round(peak_rss_mb(), 1),
        "machine": {
            "cpus": os.cpu_count(), "python": platform.python_version(), "platform": platform.platform(),
            "loadavg_1m_before_after": [round(load_before[0], 2), round(os.getloadavg()[0], 2)],
        },
    }


def _load(rubric: str) -> tuple:
    """The embedder, analyzer and warmed-up scorer, and the seconds loading them took."""
    from core.analysis import Analyzer, Embedder
    from rubrics.scorer import Scorer

    embedder = Embedder()
    t0 = time.perf_counter()
    analyzer = Analyzer(embedder=embedder)
    scorer = Scorer(rubric, analyzer)
    scorer.warm_up()
    return embedder, analyzer, scorer, time.perf_counter() - t0


def _sentences_to_embed(calls: list[Transcript], analyzer, warm: set[str]) -> list[str]:
    """Every distinct text the analysis embeds (each sentence of every turn, and the clarity
    reading's canonical form of each agent turn), in first-seen order, less those in ``warm``."""
    return [s for s in analyzer.texts_to_embed(calls) if s not in warm]


def _score_in_chunks(scorer, calls: list[Transcript], chunk: int) -> tuple[int, float]:
    """How many calls ``score_many`` scored, ``chunk`` at a time, and the seconds it took."""
    t0 = time.perf_counter()
    scored = 0
    for i in range(0, len(calls), chunk):
        scored += len(scorer.score_many(calls[i : i + chunk]))
    return scored, time.perf_counter() - t0


def _live_turn_ms(rubric: str, analyzer, turns: int, live_turns: int) -> list[float]:
    """Milliseconds ``LiveScorer.add_turn`` took on each of ``live_turns`` new turns, sorted."""
    from rubrics.scorer import LiveScorer

    live_calls = make_transcripts(max(1, live_turns // turns + 1), turns, seed=99)
    latencies = []
    for call in live_calls:
        live = LiveScorer(rubric, analyzer, call_id=call.id, metadata=call.metadata)
        for turn in call.turns:
            t = time.perf_counter()
            live.add_turn(turn.text, turn.speaker)
            latencies.append((time.perf_counter() - t) * 1000)
            if len(latencies) >= live_turns:
                break
        if len(latencies) >= live_turns:
            break
    return sorted(latencies)


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--n", type=int, default=1000, help="transcripts (default 1000)")
    p.add_argument("--turns", type=int, default=20, help="turns per transcript (default 20)")
    p.add_argument("--chunk", type=int, default=256, help="transcripts analysed together")
    p.add_argument("--live-turns", type=int, default=200, help="turns timed for live latency")
    p.add_argument("--rubric", default="default-en")
    p.add_argument("--out", type=Path, default=Path("out/bench-scoring.json"))
    args = p.parse_args(argv)
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    figures = run(args.n, args.turns, args.chunk, args.live_turns, args.rubric)
    text = json.dumps(figures, indent=2)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(text + "\n", encoding="utf-8")
    print(text)


if __name__ == "__main__":
    main()
