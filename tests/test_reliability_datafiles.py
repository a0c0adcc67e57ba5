"""Data files that are huge, deep, odd or point elsewhere: each is one readable problem line,
raised as the loader's own error, and one bad file never breaks its folder (issue 16)."""

from __future__ import annotations

import time
from pathlib import Path

import pytest
import yaml
from typer.testing import CliRunner

from callcoach.cli import app
from core import datafile
from rubrics.loader import RubricError, load_rubric, validate_file
from simulator.personas import SHIPPED_DIR, PersonaError, load_personas, parse_persona

RUBRICS = Path(__file__).resolve().parent.parent / "rubrics"
runner = CliRunner()


def _persona(**changes) -> dict:
    data = yaml.safe_load((SHIPPED_DIR / "cooperative-maria.yaml").read_text(encoding="utf-8"))
    for dotted, value in changes.items():
        node = data
        *parents, last = dotted.split("__")
        for key in parents:
            node = node[key]
        node[last] = value
    return data


def _one_problem(text: str, source: str = "p.yaml") -> str:
    with pytest.raises(PersonaError) as err:
        parse_persona(text, source)
    assert len(err.value.problems) == 1, err.value.problems
    line = err.value.problems[0]
    assert line.startswith(f"{source}: ") and "\n" not in line and len(line) < 300
    return line


def _folder_with(tmp_path: Path, bad: dict[str, str]) -> Path:
    """The shipped personas plus bad files, in one folder."""
    folder = tmp_path / "personas"
    folder.mkdir()
    for f in SHIPPED_DIR.glob("*.yaml"):
        (folder / f.name).write_text(f.read_text(encoding="utf-8"), encoding="utf-8")
    for name, text in bad.items():
        (folder / name).write_text(text, encoding="utf-8")
    return folder


# --- YAML that used to raise outside PersonaError ----------------------------------------------


DEEP = "version: 1\nprofile: " + "[" * 5000 + "]" * 5000 + "\n"
DEEP_MAP = "version: 1\nprofile: " + "{a: " * 3000 + "1" + "}" * 3000 + "\n"
HUGE_INT = "version: 1\nprofile:\n  age: 1" + "0" * 5000 + "\n"


@pytest.mark.parametrize(
    "text, field, message",
    [
        (DEEP, "profile[0][0][0]...", "nested more than 20 levels deep (the limit); flatten it"),
        (DEEP_MAP, "profile.a.a.a...", "nested more than 20 levels deep (the limit); flatten it"),
        (HUGE_INT, "profile.age (line 3)", "a number of 5,001 characters is over the limit of 30"),
        ("a: 2024-02-30\n", "(yaml)", "invalid value: day is out of range for month"),
    ],
    ids=["deep-lists", "deep-mappings", "huge-integer", "impossible-date"],
)
def test_deep_nesting_and_huge_numbers_are_one_persona_error(text, field, message):
    line = _one_problem(text)
    assert line.startswith(f"p.yaml: {field}") and message in line


@pytest.mark.parametrize("value", [float("inf"), float("-inf"), float("nan")], ids=["inf", "-inf", "nan"])
@pytest.mark.parametrize("field", ["debt__amount", "payment_capacity__monthly_max", "meters__trust"])
def test_infinite_and_nan_numbers_are_refused(field, value):
    text = yaml.safe_dump(_persona(**{field: value}))  # PyYAML writes .inf / -.inf / .nan
    line = _one_problem(text)
    assert "must be an ordinary number, not .inf or .nan" in line
    assert f": {field.replace('__', '.')}: " in line


def test_infinite_weight_in_a_rubric_is_refused(tmp_path):
    data = yaml.safe_load((RUBRICS / "default-en.yaml").read_text(encoding="utf-8"))
    data["criteria"][0]["weight"] = float("nan")
    data["criteria"][1]["indicators"][0]["good"] = float("inf")
    path = tmp_path / "nan.yaml"
    path.write_text(yaml.safe_dump(data), encoding="utf-8")
    problems = validate_file(path)
    assert len(problems) == 2 and all("not .inf or .nan" in p for p in problems), problems


def test_a_bad_file_never_breaks_personas_list_or_validate(tmp_path):
    folder = _folder_with(tmp_path, {"deep.yaml": DEEP, "huge-int.yaml": HUGE_INT, "big.yaml": "a: " + "x" * 2_000_000})
    library = load_personas([folder])  # what the app's persona table and save use
    assert len(library.personas) == len(list(SHIPPED_DIR.glob("*.yaml")))
    assert sorted(Path(p.split(":")[0]).name for p in library.problems) == ["big.yaml", "deep.yaml", "huge-int.yaml"]

    listed = runner.invoke(app, ["personas", "list", "--dir", str(folder)])
    assert listed.exit_code == 0 and "cooperative-maria" in listed.stdout
    assert "Traceback" not in listed.output

    checked = runner.invoke(app, ["personas", "validate", str(folder)])
    assert checked.exit_code == 1 and "Traceback" not in checked.output
    shipped = len(list(SHIPPED_DIR.glob("*.yaml")))
    assert f"3 problems; {shipped} personas valid" in checked.stderr
    assert f"{folder / 'big.yaml'}: (file): 2,000,003 bytes is over the 1,000,000-byte limit" in checked.stdout


# --- limits on size and fields -----------------------------------------------------------------


def test_an_oversized_file_is_refused_before_it_is_read(tmp_path):
    path = tmp_path / "huge.yaml"
    path.write_text("name: " + "x" * 50_000_000 + "\n", encoding="utf-8")  # the 50 MB file
    started = time.monotonic()
    library = load_personas([path])
    assert time.monotonic() - started < 1.0
    assert library.problems == [
        f"{path}: (file): 50,000,007 bytes is over the 1,000,000-byte limit for a data file; "
        "shorten it (or split it into several files)"
    ]


def test_a_pathological_file_under_the_size_limit_is_refused_fast():
    text = "version: 1\nvoice:\n  style_notes: [" + "[1]," * 240_000 + "]\n"
    assert len(text) < datafile.MAX_FILE_BYTES
    started = time.monotonic()
    line = _one_problem(text)
    assert time.monotonic() - started < 2.0  # was 15 s to parse and validate
    assert "more than 20,000 values in one file (the limit); shorten it" in line


@pytest.mark.parametrize(
    "field, value, where, message",
    [
        # a 10 MB name: the file's size is checked before any field, one problem for the file
        ("name", "x" * 10_000_000, "(file)", "bytes is over the 1,000,000-byte limit"),
        ("name", "x" * 81, "name", "81 characters is over the limit of 80; shorten it (limits: personas/README.md)"),
        ("profile__occupation", "x" * 201, "profile.occupation", "201 characters is over the limit of 200"),
        ("profile__background", "x" * 2001, "profile.background", "2,001 characters is over the limit of 2,000"),
        ("voice__style_notes", ["Talks fast."] * 51, "voice.style_notes", "51 items is over the limit of 50; remove some"),
        ("voice__example_lines", ["Hello?", "x" * 301], "voice.example_lines", "301 characters is over the limit of 300"),
    ],
    ids=["10MB-name", "long-name", "long-occupation", "long-background", "many-notes", "long-line"],
)
def test_persona_field_limits_name_the_field_and_the_fix(field, value, where, message):
    line = _one_problem(yaml.safe_dump(_persona(**{field: value}), width=10**9))
    assert line.startswith(f"p.yaml: {where}") and message in line, line


def test_shipped_files_keep_well_inside_the_limits():
    for folder, pattern in [(SHIPPED_DIR, "*.yaml"), (RUBRICS, "*.yaml")]:
        for f in folder.glob(pattern):
            assert f.stat().st_size < datafile.MAX_FILE_BYTES // 4, f
    assert load_personas().problems == []
    assert load_rubric("default-en").rulebook_rules.rules


# --- a screenful of problems, then a count -----------------------------------------------------


def test_problems_are_capped_per_file_with_a_count(tmp_path):
    text = "".join(f"extra{i}: {i}\n" for i in range(9000))
    with pytest.raises(PersonaError) as err:
        parse_persona(text, "many.yaml")
    problems = err.value.problems
    assert len(problems) == datafile.MAX_PROBLEMS_PER_FILE + 1
    assert err.value.count == 9000 + 14  # the unknown fields and the 14 required ones missing
    assert problems[-1] == f"many.yaml: (more): ... and {9014 - datafile.MAX_PROBLEMS_PER_FILE:,} more problems"


def test_validate_prints_at_most_a_screenful(tmp_path):
    text = "".join(f"extra{i}: {i}\n" for i in range(9000))
    folder = _folder_with(tmp_path, {f"bad{i}.yaml": text for i in range(5)})
    result = runner.invoke(app, ["personas", "validate", str(folder)])
    assert result.exit_code == 1
    lines = result.stdout.strip().splitlines()
    assert len(lines) == datafile.MAX_PROBLEMS_SHOWN + 1
    assert lines[-1] == f"... and {5 * 11 - datafile.MAX_PROBLEMS_SHOWN} more lines"
    assert f"45,070 problems; {len(list(SHIPPED_DIR.glob('*.yaml')))} personas valid" in result.stderr


def test_rubric_problems_are_capped_too(tmp_path):
    data = yaml.safe_load((RUBRICS / "default-en.yaml").read_text(encoding="utf-8"))
    data.update({f"extra{i}": i for i in range(500)})
    path = tmp_path / "many.yaml"
    path.write_text(yaml.safe_dump(data), encoding="utf-8")
    problems = validate_file(path)
    assert len(problems) == datafile.MAX_PROBLEMS_PER_FILE + 1
    assert problems[-1] == f"{path}: (more): ... and 490 more problems"


# --- a rubric's rulebook: by id, inside the rubrics folders only -------------------------------


def _rubric_naming(tmp_path: Path, rulebook: str) -> Path:
    data = yaml.safe_load((RUBRICS / "default-en.yaml").read_text(encoding="utf-8"))
    data["rulebook"] = rulebook
    path = tmp_path / "mine.yaml"
    path.write_text(yaml.safe_dump(data, allow_unicode=True), encoding="utf-8")
    return path


@pytest.mark.parametrize(
    "ref",
    ["/etc/shadow", "/etc/passwd", "../../../../etc/hostname", "no-such-rules", "default-zh", "rules-us.txt"],
)
def test_rulebook_outside_the_rubrics_folders_is_one_line(tmp_path, ref):
    path = _rubric_naming(tmp_path, ref)
    problems = validate_file(path)
    assert problems == [
        f"{path}: rulebook: {ref!r} is not a rulebook in the rubric's folder or in rubrics/; "
        "give a rulebook id (known: rules-cn, rules-us), e.g. 'rulebook: rules-us'"
    ]
    with pytest.raises(RubricError):
        load_rubric(path)


def test_a_link_out_of_the_rubrics_folder_is_refused(tmp_path):
    secret = tmp_path / "elsewhere" / "rules-secret.yaml"
    secret.parent.mkdir()
    secret.write_text("root:x:0:0:root:/root:/bin/bash\n", encoding="utf-8")
    folder = tmp_path / "rubrics"
    folder.mkdir()
    (folder / "rules-secret.yaml").symlink_to(secret)
    problems = validate_file(_rubric_naming(folder, "rules-secret"))
    assert len(problems) == 1 and "is not a rulebook in the rubric's folder" in problems[0]
    assert "root:x" not in problems[0] and "known: rules-cn, rules-us)" in problems[0]


@pytest.mark.parametrize("ref", ["rules-us", "rules-us.yaml", str(RUBRICS / "rules-us.yaml")])
def test_shipped_rulebook_by_id_or_file_name(tmp_path, ref):
    rubric = load_rubric(_rubric_naming(tmp_path, ref))
    assert rubric.rulebook_rules.id == "rules-us"


def test_own_rulebook_next_to_the_rubric(tmp_path):
    mine = yaml.safe_load((RUBRICS / "rules-us.yaml").read_text(encoding="utf-8"))
    mine["id"] = "rules-mine"
    mine["rules"] = mine["rules"][:1]
    (tmp_path / "rules-mine.yaml").write_text(yaml.safe_dump(mine, allow_unicode=True), encoding="utf-8")
    rubric = load_rubric(_rubric_naming(tmp_path, "rules-mine"))
    assert rubric.rulebook_rules.id == "rules-mine" and len(rubric.rulebook_rules.rules) == 1
