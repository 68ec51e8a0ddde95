"""The sweep summary a person reads at the end of ``brandsweep sweep`` or ``crawl``."""

from __future__ import annotations

from crawler.sweep.run import SweepResult

_LABEL = {"ok": "ok", "blocked": "BLOCKED", "extraction_failed": "EXTRACTION FAILED",
          "failed": "FAILED", "degraded": "DEGRADED"}


def text(result: SweepResult, db: str) -> list[str]:
    w = max([12, *(len(n) + 1 for n in result.marketplaces)])
    lines = [f"sweep {result.sweep_id}: {result.status} in {result.elapsed:.1f}s  "
             f"(store: {db})" + (f", finishing interrupted sweep {result.resumed}"
                                 if result.resumed is not None else ""),
             f"  {'marketplace':<{w}} {'status':<18} {'listings':>8} {'new':>6} {'pages':>6} "
             f"{'mode':<8} {'retries':>7}"]
    for name, m in result.marketplaces.items():
        pages = m.get("pages", {})
        lines.append(
            f"  {name:<{w}} {_LABEL.get(m['status'], m['status']):<18} "
            f"{m.get('listings', 0):>8} {m.get('new_listings', 0):>6} "
            f"{sum(pages.values()):>6} {m.get('render_mode', '-'):<8} {m.get('retries', 0):>7}")
    for name, m in result.marketplaces.items():
        if (m["status"] != "ok" or m.get("resumed")) and m.get("reason"):
            lines.append(f"  {name}: {m['reason']}")
        if m.get("refused_urls"):
            lines.append(f"  {name}: {m['refused_urls']} URLs refused (not fetched, not "
                         f"stored), e.g. {m['refused'][0] if m.get('refused') else '?'}")
        if m.get("detail_skipped"):  # only a repeat sweep skips: say what it saved
            lines.append(f"  {name}: detail pages {m.get('detail_pages', 0)} fetched, "
                         f"{m['detail_skipped']} skipped (card unchanged since an earlier "
                         "sweep read them)")
        if m.get("price_warnings"):
            lines.append(f"  {name}: {m['price_warnings']} prices not stored (negative, not a "
                         "number, over 10^9 or in an unknown currency; the log names them)")
    if result.staged is not None:
        stages = ", ".join(f"{n} {s}" for s, n in sorted(result.staged.items())) or "none"
        lines.append(f"  staged by rule set {result.ruleset_version}: {stages}")
    c = result.cases
    if c is not None:
        by_stage = ", ".join(f"{n} {s}" for s, n in sorted(c["new_by_stage"].items()))
        lines.append(f"  cases: {c['new']} new" + (f" ({by_stage})" if by_stage else "")
                     + (f", {c['relisted']} relistings linked" if c.get("relisted") else ""))
        if "evidence_captured" in c:
            lines.append(f"  evidence: {c['evidence_captured']} captured"
                         + (f", {c['evidence_failed']} failed" if c["evidence_failed"] else "")
                         + (f", {c['evidence_blocked']} blocked" if c.get("evidence_blocked")
                            else "")
                         + (f", {c['evidence_refused']} refused" if c.get("evidence_refused")
                            else "")
                         + (f", {c['evidence_no_profile']} without a profile"
                            if c.get("evidence_no_profile") else "")
                         + (" (run `brandsweep evidence capture` to retry)"
                            if c["evidence_failed"] or c.get("evidence_blocked") else ""))
            lines.extend(f"    {line}" for line in c["evidence_failures"])
        if "drafts_new" in c:
            programs = ", ".join(f"{p} {n}" for p, n in sorted(c["drafts_by_program"].items()))
            lines.append(f"  notices: {c['drafts_new']} new drafts with "
                         f"{c['drafted_listings']} listings"
                         + (f" ({programs})" if programs else "")
                         + (f"; {c['joined_listings']} listings added to unsent drafts"
                            if c.get("joined_listings") else "")
                         + (f"; {c['waiting_evidence']} cases wait for evidence"
                            if c["waiting_evidence"] else ""))
    if result.notified is not None:  # crawler.notify: a failure is also a stderr line
        n = result.notified.as_dict()
        lines.append(f"  notifications: {n['queued']} new, {n['sent']} sent"
                     + (f", {n['unsent']} not delivered (brandsweep notify list)"
                        if n["unsent"] else ""))
    if result.problem:
        lines.append(f"  Error: {result.problem}")
    return lines
