"""Shipped personas, the persona loader's one-line errors, and ``callcoach personas``."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import yaml
from typer.testing import CliRunner

from callcoach.cli import app
from simulator.intents import Intent, Temperament
from simulator.personas import (
    SHIPPED_DIR,
    PersonaError,
    load_persona_file,
    load_personas,
    persona_files,
)

SHIPPED_FILES = persona_files([SHIPPED_DIR])
runner = CliRunner()


def _data(persona_id: str) -> dict:
    return yaml.safe_load((SHIPPED_DIR / f"{persona_id}.yaml").read_text(encoding="utf-8"))


def _write(path: Path, data: dict) -> Path:
    path.write_text(yaml.safe_dump(data, sort_keys=False), encoding="utf-8")
    return path


def _lines(persona) -> list[tuple[str, str]]:
    """Every authored line a persona can speak: fallback lines and voice examples."""
    out = [(i.value, line) for i, lines in persona.fallback_lines.items() for line in lines]
    return out + [("example_lines", line) for line in persona.voice.example_lines]


# --- shipped personas ------------------------------------------------------------------


@pytest.mark.parametrize("path", SHIPPED_FILES, ids=lambda p: p.stem)
def test_shipped_persona_is_valid_and_named_after_its_id(path: Path):
    persona = load_persona_file(path)
    assert persona.id == path.stem


def test_shipped_library_loads_without_problems_and_covers_every_temperament():
    library = load_personas()
    assert library.problems == []
    assert len(library.personas) >= 8
    assert {p.temperament for p in library.personas.values()} == set(Temperament)


@pytest.mark.parametrize("path", SHIPPED_FILES, ids=lambda p: p.stem)
def test_shipped_lines_are_short_varied_and_keep_hidden_facts_hidden(path: Path):
    persona = load_persona_file(path)
    for intent in Intent:
        lines = persona.fallback_lines[intent]
        assert len(lines) >= 2, f"{intent.value}: give at least two lines so fallbacks vary"
        assert len(set(lines)) == len(lines), f"{intent.value}: repeated line"
    for where, line in _lines(persona):
        assert len(line.split()) <= 25, f"{where}: too long for a phone line: {line}"
        # a fallback is used when the actor's leak guard fired, so it must not leak either
        for fact in persona.hidden_facts:
            for term in fact.leak_terms:
                pattern = rf"(?<!\w){re.escape(term.lower())}(?!\w)"
                assert not re.search(pattern, line.lower()), f"{where} leaks {fact.id}: {line}"


@pytest.mark.parametrize("path", SHIPPED_FILES, ids=lambda p: p.stem)
def test_leak_terms_start_and_end_with_a_word_character(path: Path):
    # word-boundary matching silently misses terms like "$400" or "7 p.m."
    persona = load_persona_file(path)
    for fact in persona.hidden_facts:
        for term in fact.leak_terms:
            assert re.fullmatch(r"\w(.*\w)?", term), f"{fact.id}: leak term {term!r}"


def test_hostile_persona_does_not_agree_early():
    mark = load_persona_file(SHIPPED_DIR / "hostile-mark.yaml")
    assert mark.thresholds.min_turns_before_agreement >= 3
    assert mark.meters["trust"] <= 20 and mark.meters["anger"] >= 60


def test_wrong_party_lines_never_disclose_the_debt():
    linda = load_persona_file(SHIPPED_DIR / "wrong-party-linda.yaml")
    assert linda.third_party is not None
    secrets = [linda.debt.creditor.lower(), "{creditor}", "{amount}", f"{linda.debt.amount:,.2f}"]
    for where, line in _lines(linda):
        assert not any(s in line.lower() for s in secrets), f"{where}: {line}"


def test_represented_persona_points_to_the_attorney():
    kevin = load_persona_file(SHIPPED_DIR / "represented-kevin.yaml")
    assert kevin.attorney is not None
    assert all("{attorney_name}" in line for line in kevin.fallback_lines[Intent.refer_to_attorney])


# --- one readable line per bad file ----------------------------------------------------


def _negative_amount(d):
    d["debt"]["amount"] = -120


def _unknown_field(d):
    d["nickname"] = "Mo"


def _missing_intent(d):
    del d["fallback_lines"]["hang_up"]


def _bad_temperament(d):
    d["temperament"] = "grumpy"


def _missing_meter(d):
    del d["meters"]["distress"]


def _unknown_placeholder(d):
    d["fallback_lines"]["goodbye"] = ["Bye, {agnt_name}."]


def _wrong_party_without_third_party(d):
    d["temperament"] = "wrong_party"
    d.pop("third_party", None)


BAD_DATA = [
    ("negative_amount", _negative_amount, "debt.amount: Input should be greater than 0"),
    ("unknown_field", _unknown_field, "nickname: unknown field"),
    (
        "missing_intent",
        _missing_intent,
        "fallback_lines: needs at least one line for every intent; missing: hang_up",
    ),
    ("bad_temperament", _bad_temperament, "temperament: Input should be"),
    ("missing_meter", _missing_meter, "meters: missing meters: distress"),
    ("unknown_placeholder", _unknown_placeholder, "goodbye: unknown placeholder {agnt_name}"),
    (
        "wrong_party_without_third_party",
        _wrong_party_without_third_party,
        "wrong_party needs a third_party section",
    ),
]


@pytest.mark.parametrize("mutate,expected", [c[1:] for c in BAD_DATA], ids=[c[0] for c in BAD_DATA])
def test_bad_persona_gives_one_line_naming_file_and_field(tmp_path, mutate, expected):
    data = _data("cooperative-maria")
    mutate(data)
    path = _write(tmp_path / "cooperative-maria.yaml", data)
    with pytest.raises(PersonaError) as err:
        load_persona_file(path)
    assert len(err.value.problems) == 1, err.value.problems
    line = err.value.problems[0]
    assert line.startswith(f"{path}: ")
    assert expected in line
    assert "\n" not in line


BAD_TEXT = [
    ("bad_yaml", "version: 1\nid: x\nname: [unclosed\nlanguage: en\n", r": line \d+: invalid YAML"),
    (
        "not_a_mapping",
        "- just\n- a list\n",
        r": \(top level\): expected a mapping of fields, got list",
    ),
    ("empty_file", "", r": \(top level\): expected a mapping of fields"),
]


@pytest.mark.parametrize("text,pattern", [c[1:] for c in BAD_TEXT], ids=[c[0] for c in BAD_TEXT])
def test_unreadable_persona_text_gives_one_line(tmp_path, text, pattern):
    path = tmp_path / "broken.yaml"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(PersonaError) as err:
        load_persona_file(path)
    assert len(err.value.problems) == 1
    assert re.search(pattern, err.value.problems[0]), err.value.problems[0]


def test_bad_yaml_names_the_line(tmp_path):
    path = tmp_path / "broken.yaml"
    # the stray indent on line 4 is the mistake a trainer makes when editing by hand
    path.write_text("version: 1\nid: broken\nname: Al\n  language: en\n", encoding="utf-8")
    with pytest.raises(PersonaError) as err:
        load_persona_file(path)
    assert err.value.problems == [
        f"{path}: line 4: invalid YAML: mapping values are not allowed here"
    ]


def test_id_must_match_file_name(tmp_path):
    path = _write(tmp_path / "maria-copy.yaml", _data("cooperative-maria"))
    with pytest.raises(PersonaError) as err:
        load_persona_file(path)
    assert err.value.problems == [
        f"{path}: id: 'cooperative-maria' must match the file name 'maria-copy'"
    ]


def test_broken_file_does_not_stop_the_good_ones(tmp_path):
    for pid in ("cooperative-maria", "hostile-mark"):
        _write(tmp_path / f"{pid}.yaml", _data(pid))
    bad = _data("evasive-tony")
    bad["debt"]["amount"] = 0
    _write(tmp_path / "evasive-tony.yaml", bad)
    library = load_personas([tmp_path])
    assert sorted(library.personas) == ["cooperative-maria", "hostile-mark"]
    assert len(library.problems) == 1 and "evasive-tony.yaml: debt.amount" in library.problems[0]


# --- the command line ------------------------------------------------------------------


def _broken_folder(tmp_path: Path) -> tuple[Path, Path]:
    _write(tmp_path / "cooperative-maria.yaml", _data("cooperative-maria"))
    bad = _data("hostile-mark")
    bad["debt"]["amount"] = -1
    return tmp_path, _write(tmp_path / "hostile-mark.yaml", bad)


def test_cli_list_shows_every_shipped_persona():
    result = runner.invoke(app, ["personas", "list"])
    assert result.exit_code == 0, result.output
    for path in SHIPPED_FILES:
        assert path.stem in result.stdout
    assert "wrong_party" in result.stdout


def test_cli_list_reports_problems_on_stderr(tmp_path):
    folder, bad = _broken_folder(tmp_path)
    result = runner.invoke(app, ["personas", "list", "--dir", str(folder)])
    assert result.exit_code == 0
    assert "cooperative-maria" in result.stdout
    assert "hostile-mark" not in result.stdout
    assert result.stderr.strip() == f"{bad}: debt.amount: Input should be greater than 0"


def test_cli_validate_shipped_ok():
    result = runner.invoke(app, ["personas", "validate"])
    assert result.exit_code == 0, result.output
    assert result.stdout.strip() == f"{len(SHIPPED_FILES)} personas valid"


def test_cli_validate_one_good_file():
    result = runner.invoke(app, ["personas", "validate", str(SHIPPED_FILES[0])])
    assert result.exit_code == 0
    assert result.stdout.strip() == "1 persona valid"


def test_cli_validate_bad_file_prints_one_line_and_exits_1(tmp_path):
    folder, bad = _broken_folder(tmp_path)
    result = runner.invoke(app, ["personas", "validate", str(folder)])
    assert result.exit_code == 1
    assert result.stdout.splitlines() == [f"{bad}: debt.amount: Input should be greater than 0"]
    assert "1 personas valid" in result.stderr
    assert "Traceback" not in result.output
    assert result.exception is None or isinstance(result.exception, SystemExit)


@pytest.mark.parametrize(
    "text",
    ["version: 1\nid: [\n", "- a list\n", "version: 1\nid: Not An Id\n"],
    ids=["bad_yaml", "not_a_mapping", "bad_id"],
)
def test_cli_validate_never_shows_a_traceback(tmp_path, text):
    (tmp_path / "x.yaml").write_text(text, encoding="utf-8")
    result = runner.invoke(app, ["personas", "validate", str(tmp_path / "x.yaml")])
    assert result.exit_code == 1
    assert "Traceback" not in result.output
    assert all(line.startswith(str(tmp_path / "x.yaml")) for line in result.stdout.splitlines())


def test_cli_validate_missing_path_and_empty_folder(tmp_path):
    result = runner.invoke(
        app, ["personas", "validate", str(tmp_path / "nope.yaml"), str(tmp_path)]
    )
    assert result.exit_code == 1
    assert result.stdout.splitlines() == [
        f"{tmp_path}: (folder): no persona files (*.yaml) found",
        f"{tmp_path / 'nope.yaml'}: (file): no such file or folder",
    ]


def test_cli_show_hides_facts_unless_revealed():
    walter = load_persona_file(SHIPPED_DIR / "vulnerable-walter.yaml")
    fact = walter.hidden_facts[0]
    shown = runner.invoke(app, ["personas", "show", "vulnerable-walter"])
    assert shown.exit_code == 0, shown.output
    assert "Walter Pryor" in shown.stdout and walter.debt.creditor in shown.stdout
    assert fact.id not in shown.stdout
    revealed = runner.invoke(app, ["personas", "show", "vulnerable-walter", "--reveal"])
    assert revealed.exit_code == 0
    assert all(f.id in revealed.stdout for f in walter.hidden_facts)


def test_cli_show_unknown_id_is_one_line():
    result = runner.invoke(app, ["personas", "show", "nobody-here"])
    assert result.exit_code == 1
    assert result.stderr.startswith("unknown persona 'nobody-here' (known: ")
    assert "Traceback" not in result.output
