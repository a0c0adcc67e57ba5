"""Every HTML page or fragment the product renders shows hostile text as text.

Each field that carries user or model text (persona name, trainee name, turn text, evidence
quotes, advice ...) gets its own hostile string; a page passes when every one of them is in the
page's visible text and none of them is in the markup as written, and the page holds no tag
that the hostile strings would have opened. The last test turns autoescaping off and checks
that every page then fails: the checks can fail.
"""

from __future__ import annotations

from html.parser import HTMLParser

import jinja2
import pytest

import core.html
from callcoach.coaching import Flag, Hint
from callcoach.ui import views
from core.analysis.types import CallContext
from rubrics import report, scorecard
from rubrics.scorer import NOT_PASSED
from simulator.director import initial_state
from simulator.personas import load_personas
from simulator.session import LearnedFact


def hostile(field: str) -> str:
    """Lower case: the scorecard capitalises labels, which would lower a capital inside."""
    return f"<script>alert('{field}')</script><img src=x onerror=\"alert(1)\"> & {field}"


class _Page(HTMLParser):
    def __init__(self, html: str):
        super().__init__(convert_charrefs=True)
        self.tags: set[str] = set()
        self.text: list[str] = []
        self.feed(html)
        self.close()

    def handle_starttag(self, tag, attrs):
        self.tags.add(tag)

    def handle_data(self, data):
        self.text.append(data)


def shown_as_text(html: str, fields: list[str]) -> list[str]:
    """What is wrong with ``html`` for these hostile fields (empty: all shown as text)."""
    page = _Page(html)
    text = "".join(page.text)
    problems = [f"{f}: markup" for f in fields if hostile(f) in html]
    problems += [f"{f}: not shown" for f in fields if hostile(f) not in text]
    problems += [f"<{t}> tag" for t in ("script", "img") if t in page.tags]
    return problems


def _score() -> dict:
    return {
        "id": hostile("call id"), "rubric": hostile("rubric"), "overall": 42.5, "passed": False,
        "criteria": {
            hostile("criterion"): {"score": 40.0, "evidence": [
                {"turn": 0, "quote": hostile("evidence quote"), "indicator": hostile("indicator"), "effect": "+"}]},
            "clarity": {"score": 80.0, "evidence": [
                {"turn": 2, "quote": hostile("negative quote"), "indicator": "open_question", "effect": "-"}]},
            "compliance": {"score": 55.0, "evidence": []},
        },
        "violations": [{"rule": "r1", "title": hostile("rule title"), "severity": "blocker",
                        "citation": hostile("citation"), "turn": 0, "quote": hostile("violation quote")}],
        "feedback": [NOT_PASSED + hostile("reason"), "Turn 2: " + hostile("advice")],
    }


SCORE_FIELDS = ["rubric", "criterion", "evidence quote", "indicator", "negative quote", "rule title", "citation",
                "violation quote", "reason", "advice", "plan"]


def _transcript() -> dict:
    return {
        "id": hostile("call id"), "persona": hostile("persona id"), "language": "en",
        "metadata": {"agent_name": hostile("trainee name"), "started_at": "2026-11-28T10:00:00",
                     "outcome": "promise_to_pay", "promise": {"plan": hostile("plan")}},
        "turns": [{"speaker": "agent", "text": hostile("agent turn")}, {"speaker": "debtor", "text": hostile("debtor turn")}],
    }


def _persona():
    p = load_personas().personas["cooperative-maria"]
    debt = p.debt.model_copy(update={"creditor": hostile("creditor"), "product": hostile("product")})
    return p.model_copy(update={"name": hostile("persona name"), "situation": hostile("situation"), "debt": debt})


def _scorecard():
    t = _transcript()["metadata"]
    return scorecard.render_scorecard(_score(), outcome=t["outcome"], promise=t["promise"]), SCORE_FIELDS


def _scorecard_error():
    return scorecard.render_scorecard({"error": hostile("error")}), ["error"]


def _call_report():
    fields = ["call id", "trainee name", "persona id", "agent turn", "debtor turn", *SCORE_FIELDS]
    return scorecard.render_report(_score(), _transcript()), fields


def _batch_report():
    calls = [_score(), {"id": hostile("unreadable id"), "error": hostile("read error")}]
    fields = ["call id", "criterion", "evidence quote", "indicator", "rule title", "citation", "violation quote", "advice",
              "unreadable id", "read error", "title"]
    return report.render_report(calls, title=hostile("title")), fields


def _trend():
    points = [{"overall": 50, "passed": False, "started_at": "2026-11-28T10:00", "persona": hostile("persona name")},
              {"overall": 80, "passed": True, "started_at": "2026-11-29T10:00", "persona": "p"}]
    return scorecard.trend_svg(points, pass_mark=70), ["persona name"]


def _bars():
    return scorecard.bars_svg({hostile("criterion"): 50, "b": 60}), ["criterion"]


def _messages():
    return views.error_html(hostile("error")) + views.notice_html(hostile("notice")), ["error", "notice"]


def _on_line():
    return views.on_line_html(_persona(), True, test=True), ["persona name", "situation"]


def _debtor_panel():
    p = _persona()
    html = views.debtor_panel(p, initial_state(p), CallContext(), ended=True, outcome=hostile("outcome"),
                              learned=[LearnedFact("f", hostile("debtor said"), 1)])
    return html, ["persona name", "creditor", "product", "debtor said", "outcome"]


def _coaching():
    flags = [Flag("stop", "r", hostile("flag"), hostile("flag quote")), Flag("warn", "w", hostile("earlier flag"))]
    html = views.coaching_html([(1, flags), (2, flags)], [(3, Flag("warn", "e", hostile("call end flag"), hostile("end quote")))])
    return html, ["flag", "flag quote", "earlier flag", "call end flag", "end quote"]


def _hint():
    return views.hint_html(Hint("r", hostile("hint"))), ["hint"]


PAGES = [_scorecard, _scorecard_error, _call_report, _batch_report, _trend, _bars, _messages, _on_line,
         _debtor_panel, _coaching, _hint]


@pytest.mark.parametrize("page", PAGES, ids=lambda f: f.__name__.strip("_"))
def test_every_page_shows_hostile_text_as_text(page):
    html, fields = page()
    assert shown_as_text(html, fields) == []


def test_radar_labels_are_text():
    svg = scorecard.radar_svg({hostile("criterion"): 50, "b": 60, "c": 70})
    assert "<polygon" in svg and shown_as_text(svg, ["criterion"]) == []


def test_persona_cards_are_escaped_for_the_browser_template():
    """The picker's cards are filled in by JavaScript with no escaping: the values must arrive escaped."""
    [card] = [c for c in views.persona_cards([_persona()]) if "persona name" in c["name"]]
    for key in ("name", "situation"):
        assert "<" not in card[key] and "&lt;script&gt;" in card[key]


def test_without_autoescape_every_page_fails(monkeypatch):
    def unescaped(package: str) -> jinja2.Environment:
        return jinja2.Environment(loader=jinja2.PackageLoader(package, "templates"), undefined=jinja2.StrictUndefined,
                                  trim_blocks=True, lstrip_blocks=True, autoescape=False)

    monkeypatch.setattr(core.html, "environment", unescaped)
    for page in PAGES:
        html, fields = page()
        assert shown_as_text(html, fields), page.__name__


def test_a_name_missing_from_the_context_is_an_error_not_an_empty_string():
    with pytest.raises(jinja2.UndefinedError):
        core.html.render("callcoach.ui", "hint.html.j2")


def test_the_scorecard_says_which_rules_could_not_be_checked():
    """A call without the facts a rule needs lists that rule, so a clean sheet is not read as a pass."""
    from rubrics.scorecard import render_scorecard

    score = {"id": "c", "rubric": "default-en", "overall": 80.0, "passed": True, "criteria": {}, "violations": [],
             "feedback": [], "not_checked": [{"rule": "reg-f-1006-26-b", "title": "Suing on a time-barred debt <x>",
                                              "needs": ["time_barred"]}]}
    html = render_scorecard(score)
    assert "1 rule not checked" in html and "Suing on a time-barred debt &lt;x&gt;" in html and "time_barred" in html
    del score["not_checked"]
    assert "not checked" not in render_scorecard(score)
