"""A bounded soak of the web app: many trainees calling at once, then a check that nothing was
lost or mixed, and the reply times they saw.

    python -m evals.soak --out out/soak.json                       # 10 trainees, the default model
    python -m evals.soak --sessions 4 --backend scripted --lines 3 # quick
    python -m evals.soak --sessions 8 --think-s 8 --minutes 3      # trainees who read and type

Each simulated trainee is a gradio_client session playing a whole call (lines a trainee types,
tagged with the trainee's number) and ending it for a score. Afterwards every call in the
history must hold exactly that trainee's lines, in order, and a score. Figures: the time from
sending a line to the complete debtor reply (p50, p95, max), calls finished, and every error.

``--think-s``: each trainee waits this long on average (uniformly 0.5x to 1.5x, seeded per
trainee) after a reply before sending the next line, as a person reads the reply and types; 0
(the default) sends at once, the worst case: every trainee always waiting on the model.
"""

from __future__ import annotations

import argparse
import json
import random
import statistics
import sys
import tempfile
import threading
import time
from pathlib import Path

LINES = [
    "Hi, this is Sam from Acme Recovery. Am I speaking with the account holder?",
    "Can you confirm your date of birth for me, please?",
    "I'm a debt collector and this is an attempt to collect a debt; any information obtained will be used for that purpose.",
    "I understand things can be hard. How have things been for you lately?",
    "Would a smaller monthly payment help? What could you manage?",
    "So that's agreed. Thank you for your time today, goodbye.",
]
PERSONAS = ["cooperative-maria", "hostile-mark", "evasive-tony", "distressed-dana", "busy-greg"]


def percentile(values: list[float], q: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    k = max(0, min(len(ordered) - 1, round(q * (len(ordered) - 1))))
    return ordered[k]


def _free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def soak(sessions: int, n_lines: int, backend: str | None, deadline_s: float, think_s: float = 0.0) -> dict:
    from gradio_client import Client

    import callcoach.serve as app_module

    data = Path(tempfile.mkdtemp(prefix="callcoach-soak-"))
    demo = app_module.build_app(backend=backend, data_dir=data)
    res = demo.callcoach
    t_load = time.monotonic()
    res.backend.get()
    res.scorer()
    load_s = time.monotonic() - t_load
    port = _free_port()
    app_module.launch(demo, host="127.0.0.1", port=port, prevent_thread_lock=True, quiet=True)
    url = f"http://127.0.0.1:{port}/"
    reply_s: list[float] = []
    errors: list[str] = []
    finished: set[int] = set()
    lock = threading.Lock()
    stop_at = time.monotonic() + deadline_s

    def trainee(n: int) -> None:
        pause = random.Random(n)
        try:
            client = Client(url, verbose=False)
            client.predict(f"Soak {n}", PERSONAS[n % len(PERSONAS)], False, api_name="/start_call")
            for line in LINES[:n_lines]:
                if think_s > 0:
                    time.sleep(think_s * pause.uniform(0.5, 1.5))
                if time.monotonic() > stop_at:
                    break
                t0 = time.monotonic()
                client.predict(f"[t{n}] {line}", False, api_name="/say")
                with lock:
                    reply_s.append(time.monotonic() - t0)
            client.predict(False, api_name="/end_call")
            with lock:
                finished.add(n)
            client.close()
        except Exception as exc:  # reported, never raised: the soak reports every failure
            with lock:
                errors.append(f"trainee {n}: {type(exc).__name__}: {exc}")

    t0 = time.monotonic()
    threads = [threading.Thread(target=trainee, args=(n,), daemon=True) for n in range(sessions)]
    for t in threads:
        t.start()
        time.sleep(0.2)  # trainees do not all press Start in the same millisecond
    for t in threads:
        t.join(timeout=max(1.0, stop_at - time.monotonic() + 120))
    wall = time.monotonic() - t0

    # nothing lost, nothing mixed: each call holds only its trainee's lines, in order, and a score
    mixed, lost = [], []
    fallback_turns = 0
    for call in res.history.list_calls(limit=10_000):
        n = int(call.trainee.split()[-1])
        transcript = res.history.transcript(call.id)
        fallback_turns += int((transcript.metadata or {}).get("fallback_turns") or 0)
        agent = [t.text for t in transcript.turns if t.speaker == "agent"]
        if any(not line.startswith(f"[t{n}] ") for line in agent):
            mixed.append(call.id)
        expected = [f"[t{n}] {line}" for line in LINES[:len(agent)]]
        if agent != expected or (n in finished and call.overall is None):
            lost.append(call.id)
    demo.close()
    return {
        "sessions": sessions,
        "lines_per_call": n_lines,
        "think_s": think_s,
        "backend": res.backend.spec,
        "model_load_s": round(load_s, 2),
        "wall_s": round(wall, 1),
        "calls_finished": len(finished),
        "replies": len(reply_s),
        "reply_s": {
            "p50": round(statistics.median(reply_s), 3) if reply_s else None,
            "p95": round(percentile(reply_s, 0.95), 3),
            "max": round(max(reply_s), 3) if reply_s else None,
        },
        "fallback_turns": fallback_turns,  # replies the model did not make (authored lines)
        "calls_mixed": mixed,
        "calls_with_lost_turns": lost,
        "errors": errors,
        "ok": not mixed and not lost and not errors and len(finished) == sessions,
    }


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m evals.soak", description=__doc__.splitlines()[0])
    ap.add_argument("--sessions", type=int, default=10)
    ap.add_argument("--lines", type=int, default=4, help=f"trainee lines per call (at most {len(LINES)})")
    ap.add_argument("--backend", default=None, help="debtor backend spec (default: the embedded model)")
    ap.add_argument("--minutes", type=float, default=5.0, help="stop sending new lines after this long")
    ap.add_argument("--think-s", type=float, default=0.0, help="mean pause before each line (0: send at once)")
    ap.add_argument("--out", default="out/soak.json")
    args = ap.parse_args(argv)
    result = soak(args.sessions, min(args.lines, len(LINES)), args.backend, args.minutes * 60, think_s=args.think_s)
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(result, indent=2) + "\n", encoding="utf-8")
    r = result["reply_s"]
    print(f"{result['sessions']} trainees ({result['backend']}, think {args.think_s} s), {result['replies']} replies in {result['wall_s']} s: "
          f"reply p50 {r['p50']} s, p95 {r['p95']} s, max {r['max']} s; finished {result['calls_finished']}; "
          f"mixed {len(result['calls_mixed'])}, lost {len(result['calls_with_lost_turns'])}, errors {len(result['errors'])} -> {out}")
    return 0 if result["ok"] else 1


if __name__ == "__main__":
    sys.exit(main())
