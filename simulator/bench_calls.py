"""``callcoach bench reply --lang zh``: whole calls in a language the embedded model does not speak.

Every persona of the language takes one fixed call; the figures are the time from the trainee's
line to the debtor's first text and whole line, load time and peak memory. The debtor's lines
there are authored (simulator/actor.py: the embedded model never speaks for a Chinese persona),
so this times the director, the analysis and the choice of line.
"""

from __future__ import annotations

import time
from typing import Any

from simulator.bench import _peak_rss_mb

# A Chinese call as a trainee types it, for every Chinese persona ({full}: the account holder,
# {creditor}: the creditor); fixed here so the product's bench reads no eval data.
LANGUAGE_CALLS = {
    "zh": (
        "喂，您好，我是{creditor}委托的贷后服务专员小王，请问是{full}本人吗？",
        "好的。跟您核对一下身份，麻烦说一下您的出生日期。",
        "谢谢您。今天打电话是关于您在{creditor}的账户，目前已经逾期了。",
        "我理解这种电话听着会有压力。最近家里和工作上都还好吗？",
        "是什么原因让还款变得困难了呢？",
        "那您看每个月还多少，是您能承受得了的？",
        "好的，我跟您确认一下方案，我这边会发短信给您。",
        "感谢您的配合，祝您生活顺利，再见。",
    ),
}


def bench_language_calls(language: str, spec: str | None = None, *, seed: int = 0) -> dict[str, Any]:
    """Every persona of ``language`` takes the fixed call: the time from the trainee's line to the
    debtor's first text and to the whole line (p50/p95 over all replies), the first reply of each
    call apart (its persona's bank is read then), load time and peak memory."""
    from core.analysis import default_analyzer
    from simulator.backends import make_backend
    from simulator.personas import load_personas
    from simulator.session import CallSession

    lines = LANGUAGE_CALLS.get(language)
    if lines is None:
        raise ValueError(f"no bench call in '{language}' (have: {', '.join(LANGUAGE_CALLS)})")
    t0 = time.perf_counter()
    backend = make_backend(spec)
    analyzer = default_analyzer()
    personas = [p for p in load_personas().personas.values() if p.language == language]
    load_s = time.perf_counter() - t0
    starts, completes, firsts, sources = [], [], [], {}
    for persona in personas:
        session = CallSession(persona, backend, analyzer, seed=seed, agent_name="小王")
        session.open()
        for k, template in enumerate(lines):
            if session.ended:
                break
            text = template.format(full=persona.account_holder, creditor=persona.debt.creditor)
            t = time.perf_counter()
            first = None
            for ev in session.say_stream(text):
                if first is None and ev.kind == "delta":
                    first = time.perf_counter() - t
            done = time.perf_counter() - t
            reply = session.replies[-1]
            sources[reply.source] = sources.get(reply.source, 0) + 1
            (firsts if k == 0 else completes).append(done)
            if k:
                starts.append(first if first is not None else done)
    return {
        "language": language, "backend": backend.spec, "personas": len(personas), "replies": sum(sources.values()),
        "sources": sources, "load_s": round(load_s, 2),
        "reply_start_p50_ms": _ms(starts, 50), "reply_start_p95_ms": _ms(starts, 95),
        "reply_complete_p50_ms": _ms(completes, 50), "reply_complete_p95_ms": _ms(completes, 95),
        "first_reply_p50_ms": _ms(firsts, 50), "peak_rss_mb": round(_peak_rss_mb(), 1),
    }


def _ms(values: list[float], pct: int) -> float | None:
    if not values:
        return None
    ordered = sorted(values)
    return round(1000 * ordered[min(len(ordered) - 1, round(pct / 100 * (len(ordered) - 1)))], 1)
