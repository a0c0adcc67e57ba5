"""The director's data file (simulator/data/director.yaml), persona overrides of its tunables,
and signal names checked against the catalogue once, when their reader loads."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml
from helpers import ta

from core.analysis import catalogue as catalogue_module
from core.analysis.analyzer import Analyzer
from core.analysis.catalogue import DEFAULT_CATALOGUE, CatalogueError, load_catalogue
from simulator import director_data as dd
from simulator.director import Director, initial_state
from simulator.director_data import (
    DEFAULT_PATH,
    DirectorDataError,
    check_signals,
    director_data,
    director_signals,
    load_director_data,
)
from simulator.intents import Intent, Outcome
from simulator.personas import SHIPPED_DIR, PersonaError, parse_persona

RENAMED = {"active_listening": "active_listening_v2", "recap": "recap_v2", "debtor_hardship": "debtor_hardships"}
FIX = "(or, if it was renamed there, rename it here too)"


@pytest.fixture(scope="module")
def renamed_catalogue(tmp_path_factory) -> Path:
    """A copy of signals.yaml in which three signals the code and data files read are renamed."""
    text = DEFAULT_CATALOGUE.read_text(encoding="utf-8")
    for old, new in RENAMED.items():
        assert f"\n  {old}:\n" in text
        text = text.replace(f"\n  {old}:\n", f"\n  {new}:\n")
    path = tmp_path_factory.mktemp("catalogue") / "signals.yaml"
    path.write_text(text, encoding="utf-8")
    return path


def _persona_text(persona_id: str = "cooperative-maria", **director) -> str:
    data = yaml.safe_load((SHIPPED_DIR / f"{persona_id}.yaml").read_text(encoding="utf-8"))
    if director:
        data["director"] = director
    return yaml.safe_dump(data, sort_keys=False)


# --- the shipped data ----------------------------------------------------------------------


def test_shipped_director_data_loads_and_names_only_catalogue_signals():
    data = load_director_data()
    assert data == director_data()
    assert check_signals() == []
    assert director_signals() is director_data().signals


def test_a_renamed_signal_fails_the_director_with_a_line_naming_file_field_and_fix(renamed_catalogue, monkeypatch):
    problems = check_signals(load_catalogue(renamed_catalogue))
    shown = str(renamed_catalogue)
    assert problems == [
        "simulator/data/director.yaml: signals.agent_signals.empathy[1]: unknown signal 'active_listening'; "
        f"did you mean 'active_listening_v2'? name a signal defined in {shown} {FIX}",
        "simulator/director_data.py: SIG.recap: unknown signal 'recap'; "
        f"did you mean 'recap_v2'? name a signal defined in {shown} {FIX}",
    ]
    # ... and building a director with that catalogue as the shipped one fails with those lines
    monkeypatch.setattr(catalogue_module, "DEFAULT_CATALOGUE", renamed_catalogue)
    director_signals.cache_clear()
    try:
        with pytest.raises(DirectorDataError) as err:
            Director(parse_persona(_persona_text()))
    finally:
        director_signals.cache_clear()
    assert err.value.problems == problems


def test_a_renamed_signal_fails_the_analyzer_naming_what_reads_it(renamed_catalogue):
    with pytest.raises(CatalogueError) as err:
        Analyzer(embedder=None, catalogue_path=renamed_catalogue)
    assert err.value.problems == [
        "core/analysis/analyzer.py: DEBTOR_FLAGS[hardship_disclosed]: unknown signal 'debtor_hardship'; "
        f"did you mean 'debtor_hardships'? name a signal defined in {renamed_catalogue} {FIX}",
        "core/analysis/analyzer.py: RECAP: unknown signal 'recap'; "
        f"did you mean 'recap_v2'? name a signal defined in {renamed_catalogue} {FIX}",
    ]


def _broken_copy(tmp_path: Path, edit) -> Path:
    data = yaml.safe_load(DEFAULT_PATH.read_text(encoding="utf-8"))
    edit(data)
    path = tmp_path / "director.yaml"
    path.write_text(yaml.safe_dump(data, sort_keys=False), encoding="utf-8")
    return path


@pytest.mark.parametrize(
    ("edit", "field", "message"),
    [
        (lambda d: d["tunables"]["crisis"].update(overwhelmed_at=170), "tunables.crisis.overwhelmed_at", "less than or equal to 100"),
        (lambda d: d["tunables"]["money"].update(refuse_anger=50), "tunables.money.refuse_anger", "unknown field"),
        (lambda d: d["tunables"]["pressure"].pop("warn_margin"), "tunables.pressure.warn_margin", "required field is missing"),
        (lambda d: d["signals"]["agent_signals"].pop("abuse"), "signals.agent_signals", "missing abuse"),
        (lambda d: d["signals"]["agent_signals"].update(open_question=["open"]), "signals.agent_signals", "worked out by the director"),
        (lambda d: d["tunables"]["repetition"]["alternatives"].update(vent=["hang_up"]), "tunables.repetition.alternatives", "hang_up ends the call"),
        (lambda d: d["tunables"]["mood"]["anger"].reverse(), "tunables.mood", "from the highest 'at' down"),
    ],
    ids=["range", "typo", "missing", "unmapped", "derived", "ending", "order"],
)
def test_a_broken_director_file_is_one_line_naming_file_and_field(tmp_path, edit, field, message):
    path = _broken_copy(tmp_path, edit)
    with pytest.raises(DirectorDataError) as err:
        load_director_data(path)
    [line] = err.value.problems
    assert line.startswith(f"{path}: {field}") and message in line, line


# --- persona overrides -------------------------------------------------------------------------


def test_a_persona_without_a_director_section_gets_the_shipped_tunables():
    assert parse_persona(_persona_text()).director == director_data().tunables


def test_the_readme_example_overrides_only_what_it_names():
    readme = (Path(__file__).parents[1] / "personas" / "README.md").read_text(encoding="utf-8")
    example = readme.split("```yaml\ndirector:\n", 1)[1].split("```", 1)[0]
    override = yaml.safe_load("director:\n" + example)["director"]
    tune = parse_persona(_persona_text(**override)).director
    shipped = director_data().tunables
    assert tune.pressure.vent_at_anger == 55 and tune.crisis.pressure_distress == 15
    assert [b.word for b in tune.mood.distress] == ["shaking", "on edge"]
    assert tune.crisis.help_relief == shipped.crisis.help_relief and tune.mood.anger == shipped.mood.anger
    assert tune.repetition == shipped.repetition


@pytest.mark.parametrize(
    ("director", "line"),
    [
        ({"pressure": {"vent_at_angr": 50}}, "director.pressure.vent_at_angr: unknown field"),
        ({"crisis": {"overwhelmed_at": 120}}, "director.crisis.overwhelmed_at: Input should be less than or equal to 100"),
        ({"mood": {"trust": [{"at": 50, "word": "fine"}]}}, "director.mood: Value error, trust: the last band needs 'at: 0'"),
        ({"repetition": {"alternatives": {"vent": ["mumble"]}}}, "director.repetition.alternatives.vent[0]: Input should be"),
        ({"signals": {}}, "director.signals: unknown field"),
    ],
    ids=["typo", "range", "bands", "intent", "shared"],
)
def test_a_bad_override_is_one_line_naming_the_persona_file_and_field(director, line):
    with pytest.raises(PersonaError) as err:
        parse_persona(_persona_text(**director), "personas/my.yaml")
    assert any(p.startswith(f"personas/my.yaml: {line}".replace(": Value error, ", ": ")) for p in err.value.problems), err.value.problems


def test_a_persona_override_changes_the_debtors_decisions():
    threat = ta("self_identification", "threat_credit")
    shipped = parse_persona(_persona_text())
    strict = parse_persona(_persona_text(offenses={"mild_to_leave": 1}, mood={"anger": [{"at": 0, "word": "stony"}]}))
    first = Director(shipped, seed=0).step(initial_state(shipped), threat)
    assert first.intent is Intent.threaten_hang_up and first.state.outcome is None  # a warning
    leaves = Director(strict, seed=0).step(initial_state(strict), threat)
    assert leaves.state.leaving and leaves.state.outcome is Outcome.hang_up  # the first one ends it
    assert initial_state(strict).mood().startswith("stony, ") and initial_state(shipped).mood().startswith("calm, ")


def test_overrides_merge_section_by_section():
    merged = dd.with_defaults({"crisis": {"unheard_at": 80}})
    assert merged["crisis"]["unheard_at"] == 80
    assert merged["crisis"]["help_relief"] == director_data().tunables.crisis.help_relief
    assert merged["money"] == director_data().tunables.money.model_dump(mode="json")
    assert dd.with_defaults("loud") == "loud"  # not a section: left for the schema to refuse


def test_meters_move_in_a_fixed_order_whatever_the_hash_seed():
    # empathy (+10 trust) then pressure (-20): 95 -> 100 (clamped) -> 80. Iterating the set of
    # signals instead gave 75 or 80 depending on the process's PYTHONHASHSEED.
    text = _persona_text()
    data = yaml.safe_load(text)
    data["meters"]["trust"] = 95
    data["sensitivities"] = {"pressure": {"trust": -20}, "empathy": {"trust": 10}}
    p = parse_persona(yaml.safe_dump(data))
    d = Director(p).step(initial_state(p), ta("self_identification", "pressure", "empathy"))
    assert d.state.trust == 80
