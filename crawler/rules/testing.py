"""Running a rule set's inline tests (``brandsweep rules test``).

Each rule's ``tests`` say whether a listing must ``match``, must not (``no_match``), or
must be ``suppressed`` by an exception; the file's top-level ``tests`` say which stage a
listing must end at. ``todo: true`` marks a known gap: it is run and reported, never a
failure (and a todo that starts passing is reported so it can be promoted).
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from typing import Any

from crawler.rules.engine import RuleSet
from crawler.rules.model import RuleSetFile, TestListing
from crawler.rules.results import RuleResult


@dataclass
class Outcome:
    where: str  # "rule-id #n" or "stage test #n"
    name: str
    listing: dict[str, Any]
    expected: str
    got: str
    todo: bool
    explanation: list[str] = field(default_factory=list)

    @property
    def passed(self) -> bool:
        return self.expected == self.got


@dataclass
class Report:
    outcomes: list[Outcome] = field(default_factory=list)
    # per rule: counts of (expected, got) with match/suppressed folded into "match"
    confusion: dict[str, Counter[tuple[str, str]]] = field(default_factory=dict)

    @property
    def failures(self) -> list[Outcome]:
        return [o for o in self.outcomes if not o.passed and not o.todo]

    @property
    def counts(self) -> dict[str, int]:
        return {"passed": sum(o.passed and not o.todo for o in self.outcomes),
                "failed": len(self.failures),
                "todo": sum(o.todo for o in self.outcomes),
                "todo_passing": sum(o.todo and o.passed for o in self.outcomes)}


def listing_of(test: TestListing, ruleset: RuleSet) -> dict[str, Any]:
    data = test.model_dump()
    data["_facts"] = data.pop("facts", None)  # where the engine reads stored facts
    if data.get("price") is not None and not data.get("currency"):
        data["currency"] = ruleset.brand.currency
    return data


def explain_rule(result: RuleResult) -> list[str]:
    lines = []
    for name, sel in result.selections.items():
        if sel.spans:
            found = ", ".join(f"{s.field}[{s.start}:{s.end}] {s.text!r}" for s in sel.spans)
            lines.append(f"{name}: matched {found}")
        else:
            lines.append(f"{name}: {'matched' if sel.matched else 'no match'}"
                         + (f" ({sel.note})" if sel.note else ""))
    if result.suppressed_by:
        lines.append(f"suppressed by exception {result.suppressed_by!r}: {result.reason}")
    return lines


def run(ruleset: RuleSet, model: RuleSetFile) -> Report:
    report = Report()
    for rule in model.rules:
        matrix: Counter[tuple[str, str]] = Counter()
        for n, test in enumerate(rule.tests, 1):
            listing = listing_of(test.listing, ruleset)
            result = ruleset.evaluate_rule(rule.id, listing)
            outcome = Outcome(f"{rule.id} #{n}", test.name or "", listing, test.expect,
                              result.outcome, test.todo, explain_rule(result))
            report.outcomes.append(outcome)
            matrix[(_polarity(test.expect), _polarity(result.outcome))] += 1
        report.confusion[rule.id] = matrix
    for n, set_test in enumerate(model.tests, 1):
        listing = listing_of(set_test.listing, ruleset)
        evaluation = ruleset.evaluate(listing)
        got = evaluation.stage or "none"
        lines = [f"score {evaluation.score}"]
        for result in evaluation.matched:
            lines.append(f"{result.rule} (+{result.score}"
                         f"{', suppressed' if result.suppressed_by else ''})")
            lines.extend("  " + line for line in explain_rule(result))
        report.outcomes.append(Outcome(f"stage test #{n}", set_test.name or "", listing,
                                       set_test.stage, got, set_test.todo, lines))
    return report


def _polarity(outcome: str) -> str:
    # for the confusion matrix a suppressed listing is one the rule flags, then lets go:
    # it counts as "no match" (what reaches the score)
    return "match" if outcome == "match" else "no_match"


def junit_xml(results: list[Any]) -> bytes:
    """``rules check`` results as a JUnit XML test suite (one test case per file), for CI."""
    import xml.etree.ElementTree as ET

    suite = ET.Element("testsuite", name="brandsweep rules check", tests=str(len(results)),
                       failures=str(sum(bool(c.errors) for c in results)))
    for checked in results:
        case = ET.SubElement(suite, "testcase", classname="rules", name=str(checked.path))
        if checked.errors:
            failure = ET.SubElement(case, "failure", message=f"{len(checked.errors)} error(s)")
            failure.text = "\n".join(str(p) for p in checked.errors)
        others = [str(p) for p in checked.problems if p.severity != "error"]
        if others:
            ET.SubElement(case, "system-out").text = "\n".join(others)
    data: bytes = ET.tostring(suite, encoding="utf-8", xml_declaration=True)
    return data
