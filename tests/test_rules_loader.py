"""Loading rule sets: every problem located at once, never a traceback, never in part."""

from __future__ import annotations

import datetime as dt
import os
import shutil
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from crawler.exceptions import ConfigError
from crawler.rules import loader

RULES = Path(__file__).resolve().parent.parent / "rules"
BROKEN = """\
brand:
  name: Acme
  keywords: [acme]
  currency: USD
lists:
  names: {match: fuzzy, terms: [{term: acme, budget: 2}, ace]}
  bad_re: {match: regex, terms: ["(?=lookahead)acme", "(a)\\\\1"]}
  sellers: {match: values, terms: [x]}
rules:
  - id: r1
    title: one
    status: stable
    selections:
      brand: {list: nmaes}
      spare: {list: sellers}
      sold: {field: seller, in: names}
    condition: brand and (sold
    score: 10
  - id: r1
    title: two
    selections:
      brand: {list: names, feild: title}
    condition: brand
    score: {base: 5, add: {nope: 1}}
    exceptions:
      - {name: old, reason: was fine once, where: {list: names}, expires: 2020-01-01}
stages:
  - {name: review, min_score: 5}
tests:
  - listing: {title: x}
    stage: takedown
"""


def _problems(tmp_path: Path, text: str) -> list[str]:
    path = tmp_path / "acme.yaml"
    path.write_text(text)
    return [str(p) for p in loader.check(path, today=dt.date(2026, 11, 22)).problems]


def test_shipped_rule_sets_load_clean() -> None:
    for path in RULES.glob("*.yaml"):
        checked = loader.check(path)
        assert checked.problems == [], checked.problems
        assert checked.ruleset is not None and len(checked.ruleset.version) == 12


def test_schema_errors_are_all_located_with_hints(tmp_path: Path) -> None:
    problems = _problems(tmp_path, BROKEN)
    assert any(p.startswith(f"{tmp_path}/acme.yaml:22:") and "unknown field 'feild'" in p
               and "did you mean 'field'" in p for p in problems), problems


def test_semantic_errors_are_all_reported_at_once(tmp_path: Path) -> None:
    fixed = BROKEN.replace(", feild: title", "")
    problems = _problems(tmp_path, fixed)
    text = "\n".join(problems)
    expected = [
        ("acme.yaml:6:", "budget 2 is too loose for 'acme'"),
        ("acme.yaml:7:", "RE2 refuses '(?=lookahead)acme'"),
        ("acme.yaml:14:", "unknown list 'nmaes'"),
        ("acme.yaml:16:", "'in' compares the whole field with a 'values' list"),
        ("acme.yaml:17:", "condition: a '(' is never closed"),
        ("acme.yaml:19:", "duplicate rule id 'r1'"),
        ("acme.yaml:24:", "unknown selection 'nope'"),
        ("acme.yaml:26:", "warning: exception 'old' expired on 2020-01-01"),
        ("acme.yaml:31:", "unknown stage 'takedown'"),
    ]
    for where, what in expected:
        assert any(where in p and what in p for p in problems), (where, what, text)
    assert "did you mean 'names'" in text
    with pytest.raises(ConfigError) as err:
        loader.load(tmp_path / "acme.yaml")
    assert len(err.value.problems) >= 8  # never applied in part: nothing compiled


def test_unused_selection_is_an_error(tmp_path: Path) -> None:
    text = BROKEN.split("rules:")[0].replace(', "(a)\\\\1"', "").replace(
        "(?=lookahead)", "").replace(", budget: 2", "") + """\
rules:
  - id: r1
    title: one
    selections:
      brand: {list: names}
      spare: {list: names}
    condition: brand
    score: 10
stages: [{name: review, min_score: 5}]
"""
    problems = _problems(tmp_path, text)
    assert len(problems) == 1 and "selection 'spare' is never used" in problems[0]


@pytest.mark.parametrize(("text", "message"), [
    ("brand: {name: A, keywords: [a]}\nbrand: {name: B, keywords: [b]}\n", "duplicate key"),
    ("brand: {name: A, keywords: [a]\n", "acme.yaml:2:1"),
    ("- just\n- a list\n", "a rule set is a mapping"),
    ("brand: {name: NO, keywords: [NO]}\nlists: {x: {match: words}}\n",
     "a list needs 'terms' or a 'file'"),
])
def test_syntax_errors(tmp_path: Path, text: str, message: str) -> None:
    problems = _problems(tmp_path, text)
    assert any(message in p for p in problems), problems


def test_no_stays_a_string(tmp_path: Path) -> None:
    path = tmp_path / "no.yaml"
    path.write_text("brand: {name: NO, keywords: [NO, off]}\n")
    assert loader.load(path).brand.keywords == ["NO", "off"]


def test_missing_list_file_is_located(tmp_path: Path) -> None:
    problems = _problems(tmp_path, "brand: {name: A, keywords: [a]}\nlists:\n  x: {file: "
                         "nope.txt}\n")
    assert any("acme.yaml:3:" in p and "cannot read" in p for p in problems), problems


def _mutations() -> st.SearchStrategy[str]:
    source = (RULES / "acme.yaml").read_text()
    lines = source.splitlines()

    @st.composite
    def mutate(draw: st.DrawFn) -> str:
        out = list(lines)
        for _ in range(draw(st.integers(1, 4))):
            i = draw(st.integers(0, len(out) - 1))
            kind = draw(st.sampled_from(["drop", "dup", "garble", "indent", "text"]))
            if kind == "drop":
                del out[i]
            elif kind == "dup":
                out.insert(i, out[i])
            elif kind == "indent":
                out[i] = " " * draw(st.integers(0, 3)) + out[i].lstrip()
            elif kind == "garble" and out[i]:
                j = draw(st.integers(0, len(out[i]) - 1))
                out[i] = out[i][:j] + draw(st.text(max_size=3)) + out[i][j + 1:]
            else:
                out[i] = draw(st.text(max_size=40))
            if not out:
                break
        return "\n".join(out) + "\n"

    return st.one_of(mutate(), st.text(max_size=200))


FUZZ_EXAMPLES = int(os.environ.get("BRANDSWEEP_FUZZ_EXAMPLES", "150"))


@settings(max_examples=FUZZ_EXAMPLES, deadline=None,
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture])
@given(_mutations())
def test_fuzzed_files_give_our_error_or_a_rule_set(tmp_path: Path, text: str) -> None:
    folder = tmp_path / "fuzz"
    if not folder.exists():
        folder.mkdir()
        for f in RULES.iterdir():
            if f.suffix in (".csv", ".txt"):
                shutil.copy(f, folder / f.name)
    path = folder / "acme.yaml"
    path.write_text(text, encoding="utf-8")
    try:
        loader.load(path)
    except ConfigError as exc:
        assert exc.problems and all(p.startswith(str(path)) for p in exc.problems), \
            exc.problems
