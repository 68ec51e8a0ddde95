"""How well a rule set stages counterfeits, against a labelled truth file.

The truth file is JSON lines in the fixtures' format (``python -m fixtures truth``): each
record a listing with ``label`` (``counterfeit``, ``authorized``, ``resale``,
``unrelated``) and the search ``keywords`` that return it. A brand's rule set is scored on
the records its own keywords return — exactly what its sweeps store. A listing counts as
flagged when it reaches any stage.
"""

from __future__ import annotations

import json
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from crawler.exceptions import ConfigError
from crawler.rules.engine import RuleSet


@dataclass
class Score:
    brand: str
    version: str
    listings: int = 0
    tp: int = 0
    fp: int = 0
    fn: int = 0
    tn: int = 0
    by_stage: Counter[str] = field(default_factory=Counter)  # counterfeits per stage
    by_stage_fp: Counter[str] = field(default_factory=Counter)
    misses: list[dict[str, Any]] = field(default_factory=list)
    false_alarms: list[dict[str, Any]] = field(default_factory=list)
    missed_tricks: Counter[str] = field(default_factory=Counter)
    # counterfeits per truth ``difficulty`` (easy, careful, hard): staged and missed
    staged_by_difficulty: Counter[str] = field(default_factory=Counter)
    missed_by_difficulty: Counter[str] = field(default_factory=Counter)

    def difficulty(self) -> dict[str, dict[str, float]]:
        """Per difficulty: counterfeits, how many were staged, and that share."""
        out = {}
        for level in sorted(set(self.staged_by_difficulty) | set(self.missed_by_difficulty)):
            staged, missed = self.staged_by_difficulty[level], self.missed_by_difficulty[level]
            out[level] = {"counterfeits": staged + missed, "staged": staged,
                          "recall": round(staged / (staged + missed), 4)}
        return out

    @property
    def precision(self) -> float:
        return self.tp / (self.tp + self.fp) if self.tp + self.fp else 1.0

    @property
    def recall(self) -> float:
        return self.tp / (self.tp + self.fn) if self.tp + self.fn else 1.0

    def as_dict(self) -> dict[str, Any]:
        return {"brand": self.brand, "version": self.version, "listings": self.listings,
                "precision": round(self.precision, 4), "recall": round(self.recall, 4),
                "tp": self.tp, "fp": self.fp, "fn": self.fn, "tn": self.tn,
                "counterfeits_by_stage": dict(self.by_stage),
                "false_alarms_by_stage": dict(self.by_stage_fp),
                "missed_tricks": dict(self.missed_tricks),
                "by_difficulty": self.difficulty(),
                "misses": self.misses[:20], "false_alarms": self.false_alarms[:20]}


def read_truth(path: Path) -> list[dict[str, Any]]:
    """Records of a truth file; a broken line is a located error."""
    import stat

    records = []
    try:
        if not stat.S_ISREG(path.stat().st_mode):  # a FIFO or device never ends
            raise ConfigError([f"{path}: is not a regular file; name a JSON lines file "
                               "(python -m fixtures truth > truth.jsonl)"])
        lines = path.read_text(encoding="utf-8").splitlines()
    except OSError as exc:
        raise ConfigError([f"{path}: cannot read: {exc.strerror}"]) from exc
    except UnicodeDecodeError as exc:
        raise ConfigError([f"{path}: byte {exc.start} is not UTF-8: a truth file is JSON "
                           "lines (python -m fixtures truth > truth.jsonl)"]) from exc
    for n, line in enumerate(lines, 1):
        if not line.strip():
            continue
        try:
            record = json.loads(line)
        except json.JSONDecodeError as exc:
            raise ConfigError([f"{path}:{n}:{exc.colno}: not JSON: {exc.msg}"]) from exc
        except RecursionError as exc:
            raise ConfigError([f"{path}:{n}:1: nested too deeply to be a truth record"]
                              ) from exc
        if not isinstance(record, dict) or "label" not in record or "title" not in record:
            raise ConfigError([f"{path}:{n}:1: a truth record needs 'title' and 'label' "
                               "(write it with: python -m fixtures truth)"])
        if record["label"] not in LABELS:
            raise ConfigError([f"{path}:{n}:1: label {record['label']!r} is not one of "
                               f"{', '.join(LABELS)}"])
        records.append(record)
    if not records:
        raise ConfigError([f"{path}: holds no truth records: nothing to score against "
                           "(write it with: python -m fixtures truth)"])
    return records


# what a truth record's ``label`` may be (the fixtures' catalogue writes these)
LABELS = ("counterfeit", "authorized", "resale", "unrelated")


def score(ruleset: RuleSet, records: list[dict[str, Any]]) -> Score:
    keywords = {" ".join(k.casefold().split()) for k in ruleset.brand.keywords}
    result = Score(ruleset.brand_key, ruleset.version)
    for record in records:
        found_by = {" ".join(str(k).casefold().split()) for k in record.get("keywords", [])}
        if record.get("keywords") is not None and not found_by & keywords:
            continue  # not something this brand's sweeps would have stored
        result.listings += 1
        evaluation = ruleset.evaluate(record)
        flagged = evaluation.stage is not None
        counterfeit = record["label"] == "counterfeit"
        brief = {"marketplace": record.get("marketplace"),
                 "listing_id": record.get("listing_id"), "title": record["title"],
                 "label": record["label"], "score": evaluation.score,
                 "stage": evaluation.stage, "tricks": record.get("tricks", [])}
        if counterfeit and record.get("difficulty"):
            tally = result.staged_by_difficulty if flagged else result.missed_by_difficulty
            tally[str(record["difficulty"])] += 1
        if counterfeit and flagged:
            result.tp += 1
            result.by_stage[str(evaluation.stage)] += 1
        elif counterfeit:
            result.fn += 1
            result.misses.append(brief)
            result.missed_tricks.update(record.get("tricks") or ["(none)"])
        elif flagged:
            result.fp += 1
            result.by_stage_fp[str(evaluation.stage)] += 1
            result.false_alarms.append(brief)
        else:
            result.tn += 1
    return result
