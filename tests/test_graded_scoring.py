"""Graded empathy and clarity through the scorer: any two-party conversation gets meaningful
scores, collection-only parts are not applicable, feedback names the turn and the missing
mechanism, and live coaching reads the same analysis."""

from __future__ import annotations

import pytest

from core.transcript import Transcript, Turn
from rubrics import LiveScorer, Scorer
from rubrics.scorer import NOT_PASSED


def _call(tid: str, *turns: tuple[str, str]) -> Transcript:
    return Transcript(id=tid, turns=[Turn(speaker=s, text=t) for s, t in turns])


@pytest.fixture(scope="module")
def scorer() -> Scorer:
    s = Scorer("default-en")
    s.warm_up()
    return s


def _indicator_values(score, criterion: str) -> set[str]:
    return {e.indicator for e in score.criteria[criterion].evidence}


def test_a_help_line_dialogue_gets_empathy_and_clarity_and_no_collection_gates(scorer):
    warm = _call("warm", ("debtor", "I feel so alone since I moved to the city."),
                 ("agent", "It sounds like the move has left you feeling isolated. What do you miss most?"),
                 ("debtor", "My friends, mostly."),
                 ("agent", "That makes sense, leaving friends behind is hard."))
    cold = _call("cold", ("debtor", "I feel so alone since I moved to the city."), ("agent", "Join a gym."),
                 ("debtor", "My friends, mostly."), ("agent", "Okay."))
    w, c = scorer.score(warm), scorer.score(cold)
    assert w.criteria["empathy"].score > c.criteria["empathy"].score + 30
    assert 0 < w.criteria["clarity"].score <= 100
    assert not any(f.startswith(NOT_PASSED) for f in w.feedback), w.feedback  # no purpose or plan gate
    flow = {e.indicator for e in w.criteria["call_flow"].evidence}
    assert flow.isdisjoint({"mini_miranda", "verifies_identity", "states_purpose", "plan_fits_debtor"})


HELP_LINE = (("debtor", "I feel so alone since I moved to the city."),
             ("agent", "It sounds like the move has left you feeling isolated. What do you miss most?"),
             ("debtor", "My friends, mostly."),
             ("agent", "That makes sense, leaving friends behind is hard."))


def test_collection_law_is_not_applicable_to_a_help_line_call(scorer):
    score = scorer.score(_call("help", *HELP_LINE))
    assert score.not_applicable == ["compliance"]
    assert "compliance" not in score.criteria and not score.violations and not score.not_checked
    # the overall is the applicable criteria's weighted mean, not dragged by a 0 or lifted by a 100
    weights = {c.id: c.weight for c in scorer.rubric.criteria}
    mean = sum(weights[k] * v.score for k, v in score.criteria.items()) / sum(weights[k] for k in score.criteria)
    assert score.overall == pytest.approx(mean, abs=0.1)
    assert not any("name and your company" in f for f in score.feedback), score.feedback
    assert not any("check understanding" in f for f in score.feedback), score.feedback


def test_abuse_on_any_call_is_still_a_violation(scorer):
    score = scorer.score(_call("rude", ("debtor", "I feel so alone since I moved to the city."),
                               ("agent", "Shut up, you whiny idiot.")))
    assert "compliance" in score.criteria and score.violations and not score.passed


def test_a_collection_call_grades_every_criterion(scorer):
    call = _call("coll", ("agent", "Hi, this is Sam from Acme Recovery. Is this Maria Lopez?"), ("debtor", "Yes."),
                 ("agent", "This is an attempt to collect a debt. You owe $1,250 on your Acme card."),
                 ("debtor", "I know."))
    score = scorer.score(call)
    assert score.not_applicable == [] and {"compliance", "call_flow"} <= set(score.criteria)
    assert "not_applicable" not in score.to_json_line()


def test_a_practice_call_is_a_collection_call_even_before_the_debt_comes_up(scorer):
    # the practice page's transcript carries the persona's balance: chit-chat and a goodbye is not
    # a help-line call, it is a collection call that never got to its purpose
    chat = Transcript(id="chat", metadata={"debt_amount": 1250.0}, turns=[
        Turn(speaker="agent", text="Hi there, how are you doing today?"), Turn(speaker="debtor", text="Fine, who is this?"),
        Turn(speaker="agent", text="Just checking in. Have a nice day, bye."), Turn(speaker="debtor", text="Okay, bye.")])
    score = scorer.score(chat)
    assert score.not_applicable == [] and "compliance" in score.criteria
    assert any(f.startswith(NOT_PASSED) for f in score.feedback) and not score.passed, score.feedback
    assert {v.rule for v in score.violations} == {"fdcpa-1692d-6"}  # never said who was calling


def test_a_chinese_help_line_call_has_no_collection_gates():
    zh = Scorer("default-zh")
    score = zh.score(Transcript(id="zh-help", language="zh", turns=[
        Turn(speaker="debtor", text="我最近搬到新城市，总觉得很孤单。"),
        Turn(speaker="agent", text="听起来搬家以后您挺孤单的。您最想念的是什么？"),
        Turn(speaker="debtor", text="主要是朋友吧。"),
        Turn(speaker="agent", text="我理解，离开朋友确实不容易。")]))
    assert score.not_applicable == ["compliance"]
    assert not any(f.startswith(NOT_PASSED) for f in score.feedback), score.feedback


def test_the_scorecard_says_not_applicable_in_the_page_language(scorer):
    from callcoach.ui.scorecard import scorecard_html

    score = scorer.score(_call("one", ("agent", "I know this has been a hard year. What would help you most?")))
    assert score.not_applicable == ["compliance", "call_flow"]
    en, zh = scorecard_html(score), scorecard_html(score, lang="zh")
    assert "Compliance</span><b>n/a</b>" in en and "Call flow</span><b>n/a</b>" in en
    assert "合规</span><b>不适用</b>" in zh and "通话流程</span><b>不适用</b>" in zh


def test_a_single_agent_reply_is_scored_on_its_own(scorer):
    kind = scorer.score(_call("one", ("agent", "I know this has been a hard year. What would help you most right now?")))
    curt = scorer.score(_call("two", ("agent", "Pay the balance.")))
    assert kind.criteria["empathy"].score > curt.criteria["empathy"].score
    assert not any(f.startswith(NOT_PASSED) for f in kind.feedback)


def test_feedback_names_the_turn_and_the_missing_mechanism(scorer):
    call = _call("missed", ("agent", "Hi, is this Maria Lopez?"), ("debtor", "Yes."),
                 ("agent", "You owe $1,250 on your Acme card."),
                 ("debtor", "I lost my job last month and I can barely pay rent."),
                 ("agent", "Can you pay $500 today?"))
    score = scorer.score(call)
    lines = [f for f in score.feedback if f.startswith("Turn 4:")]
    assert lines, score.feedback
    assert any("I lost my job" in f and "Can you pay $500 today?" in f for f in lines), lines
    assert any(e.turn == 4 and e.effect == "-" for e in score.criteria["empathy"].evidence)


def test_empathy_feedback_names_only_the_mechanism_the_reply_lacked(scorer):
    from rubrics.indicators import evaluate
    from rubrics.matching import CallView
    from rubrics.scorer import _missing

    base = [("agent", "Hi, this is Sam from Acme Recovery. Is this Maria Lopez?"), ("debtor", "Yes."),
            ("agent", "This is an attempt to collect a debt. It's about your Acme card, $1,250."),
            ("debtor", "I lost my job last month and I can barely pay rent.")]
    ind = next(i for c in scorer.rubric.criteria for i in c.indicators if i.id == "empathic_responses")

    def advice(reply: str) -> str:
        call = _call("c", *base, ("agent", reply))
        r = evaluate(ind, CallView.build(scorer.analyzer.analyze_transcript(call), call), scorer.matcher, "en")
        assert r.weak_turn == 4
        return _missing(ind, r)

    # an acknowledgement and a question, but nothing said back: only that is asked for
    assert advice("oh no im so sorry. are you back at work now?") == "say back what you heard"
    assert advice("Your balance is $1,250.") == "acknowledge how that feels, say back what you heard and ask about them"
    cold = scorer.score(_call("cold", *base, ("agent", "Your balance is $1,250.")))
    assert any("; acknowledge how that feels, say back what you heard and ask about them before moving on" in f
               for f in cold.feedback), cold.feedback


def test_answering_the_hardship_raises_empathy_and_the_strength_is_shown(scorer):
    base = [("agent", "Hi, is this Maria Lopez?"), ("debtor", "Yes."),
            ("debtor", "I lost my job last month and I can barely pay rent.")]
    cold = scorer.score(_call("cold", *base, ("agent", "Can you pay $500 today?")))
    warm = scorer.score(_call("warm", *base, ("agent", "I'm so sorry, losing your job like that must be really "
                                                       "stressful. How are you managing with the rent?")))
    assert warm.criteria["empathy"].score > cold.criteria["empathy"].score + 20
    assert {"acknowledges", "explores"} <= {e.indicator for e in warm.criteria["empathy"].evidence if e.effect == "+"}


def test_live_coaching_reads_the_same_graded_analysis():
    live = LiveScorer("default-en")
    live.add_turn("Hi, is this Maria?", "agent")
    live.add_turn("Yes. I lost my job and I'm really scared about money.", "debtor")
    report = live.add_turn("It sounds like losing the job has you worried. What's been hardest?", "agent")
    reading = report.analysis.empathy
    assert reading is not None and reading.reflection.level == "strong" and reading.exploration.level == "strong"
    assert report.analysis.context.last_other.startswith("Yes. I lost my job")
    assert report.analysis.clarity is not None and report.analysis.clarity.score > 60
    assert live.score().criteria["empathy"].score == Scorer("default-en").score(live.transcript).criteria["empathy"].score
