"""Marking the words a rule set matched in a listing's title and description, from the
text spans its stored verdict recorded (the same spans `brandsweep rules explain`
prints). Everything else is escaped: a listing's text is a counterfeiter's, never HTML."""

from __future__ import annotations

from typing import Any

from markupsafe import Markup, escape


def spans(matches: list[dict[str, Any]], field: str, text: str) -> list[tuple[int, int, str]]:
    """(start, end, rule) of every recorded match in ``field`` that still fits ``text``
    (a listing re-seen since its verdict may have a changed title)."""
    found = []
    for match in matches:
        for selection in (match.get("selections") or {}).values():
            if not isinstance(selection, list):
                continue  # a note, e.g. a price comparison, not a text span
            for s in selection:
                start, end = s.get("start"), s.get("end")
                if s.get("field") == field and isinstance(start, int) and \
                        isinstance(end, int) and 0 <= start < end <= len(text) and \
                        text[start:end] == s.get("text"):
                    found.append((start, end, str(match.get("rule", ""))))
    return sorted(found)


def marked(text: str | None, matches: list[dict[str, Any]], field: str) -> Markup:
    """``text`` escaped, with each matched span in a ``<mark>`` naming its rule."""
    text = text or ""
    out = []
    at = 0
    for start, end, rule in spans(matches, field, text):
        if start < at:  # overlapping spans: the part already marked stays marked
            start = at
            if start >= end:
                continue
        out.append(escape(text[at:start]))
        out.append(Markup('<mark title="{}">{}</mark>').format(rule, text[start:end]))
        at = end
    out.append(escape(text[at:]))
    return Markup("").join(out)
