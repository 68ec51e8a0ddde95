"""Loading a rule set: parse strictly, validate, compile — reporting every problem at once.

Parsing and schema errors come from ``yamlfile`` and pydantic; the checks here are the
ones beyond syntax (unknown lists, duplicate rule ids, unused selections, conditions that
do not parse, fuzzy budgets too loose for short terms, RE2 refusing a pattern, expired
exceptions). Each problem is ``path:line:col: message``; warnings do not stop a load,
errors do, and a rule set with errors is never used in part.
"""

from __future__ import annotations

import datetime as dt
import hashlib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from crawler import yamlfile
from crawler.exceptions import ConfigError
from crawler.rules import condition as cond
from crawler.rules import files, text
from crawler.rules.engine import PRODUCT_KEY, CompiledRule, CompiledSelection, RuleSet
from crawler.rules.matchers import Matchers, compile_regex, fuzzy_budget
from crawler.rules.model import AUTHORISED, RuleSetFile, Selection, TermList, TermSpec
from crawler.rules.sources import SourceReader


@dataclass(frozen=True)
class Problem:
    where: str  # path:line:col
    message: str
    severity: str = "error"

    def __str__(self) -> str:
        prefix = "warning: " if self.severity == "warning" else ""
        return f"{self.where}: {prefix}{self.message}"


@dataclass
class Checked:
    """What ``check`` found: the compiled rule set (None on errors) and every problem."""

    path: Path
    ruleset: RuleSet | None
    model: RuleSetFile | None
    problems: list[Problem]

    @property
    def errors(self) -> list[Problem]:
        return [p for p in self.problems if p.severity == "error"]


def load(path: Path, today: dt.date | None = None) -> RuleSet:
    """Load a rule set file, or raise ``ConfigError`` listing every error in it."""
    checked = check(path, today)
    if checked.errors or checked.ruleset is None:
        raise ConfigError([str(p) for p in checked.errors])
    return checked.ruleset


def load_brand(brand: str, folder: Path | None = None, today: dt.date | None = None
               ) -> RuleSet:
    """The rule set of ``brand`` from the rules folder (see ``crawler.rules.files``)."""
    return load(files.brand_file(brand, folder), today)


def check(path: Path, today: dt.date | None = None) -> Checked:
    """Parse, validate and compile ``path``, collecting every problem."""
    today = today or dt.date.today()
    try:
        doc = yamlfile.load(path)
    except ConfigError as exc:
        return Checked(path, None, None, [_split(p) for p in exc.problems])
    if not isinstance(doc, dict):
        return Checked(path, None, None, [Problem(f"{path}:1:1", "a rule set is a mapping "
                                                  "with brand, lists, rules and stages")])
    try:
        model = RuleSetFile.model_validate(doc)
    except ValidationError as exc:
        return Checked(path, None, None,
                       [_split(p) for p in yamlfile.problems(path, doc, exc, RuleSetFile)])
    return _Compiler(path, doc, model, today).run()


def _split(located: str) -> Problem:
    parts = located.split(": ", 1)
    return Problem(parts[0], parts[1] if len(parts) > 1 else located)


class _Compiler(SourceReader):
    def __init__(self, path: Path, doc: Any, model: RuleSetFile, today: dt.date) -> None:
        self.path = path
        self.doc = doc
        self.model = model
        self.today = today
        self.problems: list[Problem] = []
        self.digest = hashlib.sha256(path.read_bytes())
        self.matchers = Matchers()
        self.list_terms: dict[str, tuple[str, list[tuple[str, frozenset[str], int]]]] = {}
        self.list_fields: dict[str, set[str]] = {}

    def at(self, *loc: int | str) -> str:
        return yamlfile.where(self.path, self.doc, loc)

    def error(self, loc: tuple[int | str, ...], message: str,
              severity: str = "error") -> None:
        self.problems.append(Problem(self.at(*loc), message, severity))

    def run(self) -> Checked:
        model = self.model
        authorised = self._authorised()
        for name, spec in model.lists.items():
            self._list(name, spec)
        for sku_product in model.brand.products:
            key = PRODUCT_KEY + sku_product.sku
            self.list_terms[key] = ("words", [(t, frozenset(), 0) for t in sku_product.match])
            self.list_fields[key] = {"title"}
        rules = []
        seen: dict[str, int] = {}
        for i, rule in enumerate(model.rules):
            if rule.id in seen:
                self.error(("rules", i, "id"), f"duplicate rule id {rule.id!r} (first at "
                           f"{self.at('rules', seen[rule.id], 'id')}); rule ids must be "
                           "unique")
            seen.setdefault(rule.id, i)
            compiled = self._rule(i)
            if compiled is not None:
                rules.append(compiled)
        names = [s.name for s in model.stages]
        for dup in {n for n in names if names.count(n) > 1}:
            self.error(("stages",), f"stage {dup!r} is defined twice")
        if not model.stages:
            self.error(("rules",) if model.rules else (), "no stages: rules score listings "
                       "but nothing is ever staged; add stages with min_score", "warning")
        for i, test in enumerate(model.tests):
            if test.stage != "none" and test.stage not in names:
                self.error(("tests", i, "stage"), f"unknown stage {test.stage!r}"
                           f"{yamlfile.hint(test.stage, [*names, 'none'])}; known: "
                           f"{', '.join([*names, 'none'])}")
        references = self._references()
        errors = [p for p in self.problems if p.severity == "error"]
        ruleset = None
        if not errors:
            for key, (mode, terms) in self.list_terms.items():
                self.matchers.add(key, mode, terms, self.list_fields.get(key, {"title"}))
            self.matchers.build()
            ruleset = RuleSet(brand_key=self.path.stem, brand=model.brand,
                              version=self.digest.hexdigest()[:12], path=str(self.path),
                              rules=rules, stages=model.stages, matchers=self.matchers,
                              authorised=authorised, today=self.today,
                              templates=str(self.path.parent / model.notices.templates)
                              if model.notices.templates else None,
                              references=references)
            ruleset.storefront_cases = model.storefronts.min_cases
            ruleset.notify = model.notify
        return Checked(self.path, ruleset, model, self.problems)

    # -- lists ----------------------------------------------------------------------------

    def _list(self, name: str, spec: TermList) -> None:
        entries: list[tuple[str | TermSpec, tuple[int | str, ...]]] = [
            (t, ("lists", name, "terms", i)) for i, t in enumerate(spec.terms)]
        if spec.file:
            path = self._file(spec.file, ("lists", name, "file"))
            content = self._text(path, ("lists", name, "file")) if path else None
            if content is not None:
                for line in content.splitlines():
                    term = (line.split("#", 1)[0].strip() if spec.match not in ("regex", "raw")
                            else line)
                    if term.strip():
                        entries.append((term, ("lists", name, "file")))
        terms = []
        for entry, loc in entries:
            term, deny, budget = (entry, [], None) if isinstance(entry, str) else (
                entry.term, entry.deny, entry.budget)
            deny = [*deny, *spec.deny]
            terms.append((term, frozenset(deny), self._term(name, spec.match, term, budget,
                                                            loc)))
        self.list_terms[name] = (spec.match, terms)

    def _term(self, list_name: str, mode: str, term: str, budget: int | None,
              loc: tuple[int | str, ...]) -> int:
        if mode in ("regex", "raw"):
            try:
                compile_regex(term)
            except Exception as exc:
                self.error(loc, f"list {list_name!r}: RE2 refuses {term!r}: "
                           f"{_re2_message(exc)} (RE2 has no look-around or backreferences"
                           ", so no pattern can hang a sweep)")
            return 0
        folded = text.fold_term(term, mode)
        if not folded:
            self.error(loc, f"list {list_name!r}: term {term!r} is empty once folded")
            return 0
        if mode != "fuzzy":
            return 0
        if " " in folded:
            self.error(loc, f"list {list_name!r}: fuzzy terms are single words; put the "
                       f"phrase {term!r} in a 'words' list")
        allowed = fuzzy_budget(folded)
        if budget is not None and budget > allowed:
            self.error(loc, f"list {list_name!r}: budget {budget} is too loose for {term!r} "
                       f"({len(folded)} letters): at most {allowed}, or every short word "
                       "will match")
        return allowed if budget is None else budget

    # -- rules ----------------------------------------------------------------------------

    def _rule(self, i: int) -> CompiledRule | None:
        rule = self.model.rules[i]
        selections: dict[str, CompiledSelection] = {}
        for name, spec in rule.selections.items():
            sel = self._selection(spec, ("rules", i, "selections", name), f"{rule.id}/{name}",
                                  name)
            if sel is not None:
                selections[name] = sel
        try:
            condition = cond.parse(rule.condition, list(rule.selections))
        except cond.ConditionError as exc:
            self.error(("rules", i, "condition"), f"condition: {exc} (at character "
                       f"{exc.column + 1} of {rule.condition!r})")
            return None
        scoring = rule.scoring
        for name in scoring.add:
            if name not in rule.selections:
                self.error(("rules", i, "score", "add", name), f"score adds points for "
                           f"unknown selection {name!r}"
                           f"{yamlfile.hint(name, list(rule.selections))}")
        unused = [n for n in rule.selections if n not in condition.used and n not in
                  scoring.add]
        for name in unused:
            self.error(("rules", i, "selections", name), f"selection {name!r} is never used: "
                       "the condition does not name it and the score adds nothing for it")
        exceptions = []
        for j, exc_spec in enumerate(rule.exceptions):
            loc: tuple[int | str, ...] = ("rules", i, "exceptions", j)
            if exc_spec.expires is not None and exc_spec.expires < self.today:
                self.error((*loc, "expires"), f"exception {exc_spec.name!r} expired on "
                           f"{exc_spec.expires}: it no longer suppresses; renew or remove it",
                           "warning")
            wheres = exc_spec.where if isinstance(exc_spec.where, list) else [exc_spec.where]
            compiled = [self._selection(w, (*loc, "where"), f"{rule.id}/except-{j}-{k}",
                                        f"{exc_spec.name}") for k, w in enumerate(wheres)]
            if all(c is not None for c in compiled):
                exceptions.append((exc_spec, [c for c in compiled if c is not None]))
        if len(selections) != len(rule.selections):
            return None
        hit_based = {n for n, s in selections.items() if s.hit_based}
        return CompiledRule(rule, condition, selections, exceptions,
                            condition.triggers(hit_based))

    def _selection(self, spec: Selection, loc: tuple[int | str, ...], inline_key: str,
                   name: str) -> CompiledSelection | None:
        text_field = spec.field or "title"
        if spec.terms is not None:
            mode = spec.match or "words"
            self.list_terms[inline_key] = (mode, [
                (t, frozenset(), self._term(inline_key, mode, t, None, (*loc, "terms")))
                for t in spec.terms])
            self.list_fields.setdefault(inline_key, set()).add(text_field)
            return CompiledSelection(name, spec, text_field, inline_key, mode,
                                     hit_based=mode != "values" and not spec.if_missing)
        if spec.regex is not None:
            mode = spec.match or "regex"
            self._term(inline_key, mode, spec.regex, None, (*loc, "regex"))
            self.list_terms[inline_key] = (mode, [(spec.regex, frozenset(), 0)])
            self.list_fields.setdefault(inline_key, set()).add(text_field)
            return CompiledSelection(name, spec, text_field, inline_key, mode,
                                     hit_based=not spec.if_missing)
        list_name = spec.list_ or spec.in_ or spec.not_in
        if list_name is not None:
            which = "list" if spec.list_ else ("in" if spec.in_ else "not_in")
            if list_name == AUTHORISED:
                if spec.list_:
                    self.error((*loc, which), f"use 'in: {AUTHORISED}' or 'not_in: "
                               f"{AUTHORISED}' for the brand's authorised sellers")
                    return None
                return CompiledSelection(name, spec, spec.field or "seller", None, "values",
                                         hit_based=False)
            known = self.model.lists.get(list_name)
            if known is None:
                self.error((*loc, which), f"unknown list {list_name!r}"
                           f"{yamlfile.hint(list_name, [*self.model.lists, AUTHORISED])}")
                return None
            if which != "list" and known.match != "values":
                self.error((*loc, which), f"'{which}' compares the whole field with a "
                           f"'values' list, but {list_name!r} matches {known.match!r}; use "
                           f"'list: {list_name}' to find its terms in the text")
                return None
            self.list_fields.setdefault(list_name, set()).add(text_field)
            hit_based = known.match != "values" and not spec.if_missing
            return CompiledSelection(name, spec, text_field, list_name, known.match,
                                     hit_based)
        if spec.image is not None or spec.seller is not None:
            if spec.image is not None and spec.image.similar_to == "reference" and \
                    not self.model.brand.reference_images:
                self.error((*loc, "image"), "similar_to: reference needs the brand's photos: "
                           "set brand.reference_images to a folder of them")
                return None
            return CompiledSelection(name, spec, "_facts", None, None, hit_based=False)
        default = "title" if spec.names_product is not None else "price"
        return CompiledSelection(name, spec, spec.field or default, None, None,
                                 hit_based=False)


def _re2_message(exc: Exception) -> str:
    message = exc.args[0] if exc.args else str(exc)
    return message.decode() if isinstance(message, bytes) else str(message)
