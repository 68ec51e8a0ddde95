"""What evaluating a listing gives: each rule's result, the selections that matched and
the text they matched (spans), the score and the stage."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from crawler.rules.context import ListingContext
    from crawler.rules.engine import CompiledRule


@dataclass
class Span:
    field: str
    start: int  # in the original field text
    end: int
    text: str

    def as_dict(self) -> dict[str, Any]:
        return {"field": self.field, "start": self.start, "end": self.end, "text": self.text}


@dataclass
class SelectionResult:
    matched: bool
    spans: list[Span] = field(default_factory=list)
    note: str = ""  # what a non-text matcher compared, e.g. "price 17.00 USD < 40% of 199"


class RuleResult:
    """One rule's verdict on one listing. What each selection matched and where is worked
    out when first asked for (explain, storing a verdict), never for rules a listing only
    needs a score from."""

    __slots__ = (
        "_selections",
        "_source",
        "matched",
        "reason",
        "rule",
        "score",
        "suppressed_by",
    )

    def __init__(self, rule: str, matched: bool, score: int = 0,
                 source: tuple[ListingContext, CompiledRule] | None = None) -> None:
        self.rule = rule
        self.matched = matched
        self.score = score
        self.suppressed_by: str | None = None  # exception name
        self.reason: str | None = None
        self._source = source
        self._selections: dict[str, SelectionResult] | None = None

    def __repr__(self) -> str:
        return (f"RuleResult({self.rule!r}, matched={self.matched}, score={self.score}, "
                f"suppressed_by={self.suppressed_by!r})")

    @property
    def selections(self) -> dict[str, SelectionResult]:
        if self._selections is None:
            self._selections = {}
            if self._source is not None:
                ctx, rule = self._source
                self._selections = {n: ctx.selection(s) for n, s in rule.selections.items()}
                self._source = None  # the listing is no longer needed
        return self._selections

    @property
    def outcome(self) -> str:
        if not self.matched:
            return "no_match"
        return "suppressed" if self.suppressed_by else "match"

    def as_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"rule": self.rule, "score": self.score}
        if self.suppressed_by:
            out |= {"suppressed_by": self.suppressed_by, "reason": self.reason}
        out["selections"] = {
            name: ([s.as_dict() for s in r.spans] or r.note)
            for name, r in self.selections.items() if r.matched}
        return out


@dataclass
class Evaluation:
    version: str
    score: int
    stage: str | None
    results: list[RuleResult]  # matched (including suppressed) rules; every rule if full

    @property
    def matched(self) -> list[RuleResult]:
        return [r for r in self.results if r.matched]

    def as_dict(self) -> dict[str, Any]:
        return {"version": self.version, "score": self.score, "stage": self.stage,
                "matches": [r.as_dict() for r in self.matched]}

