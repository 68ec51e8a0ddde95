"""The sweep summary a person reads at the end of ``brandsweep sweep`` or ``crawl``."""

from __future__ import annotations

from crawler.sweep import SweepResult

_LABEL = {"ok": "ok", "blocked": "BLOCKED", "extraction_failed": "EXTRACTION FAILED",
          "failed": "FAILED"}


def text(result: SweepResult, db: str) -> list[str]:
    w = max([12, *(len(n) + 1 for n in result.marketplaces)])
    lines = [f"sweep {result.sweep_id}: {result.status} in {result.elapsed:.1f}s  "
             f"(store: {db})",
             f"  {'marketplace':<{w}} {'status':<18} {'listings':>8} {'new':>6} {'pages':>6} "
             f"{'mode':<8} {'retries':>7}"]
    for name, m in result.marketplaces.items():
        pages = m.get("pages", {})
        lines.append(
            f"  {name:<{w}} {_LABEL.get(m['status'], m['status']):<18} "
            f"{m.get('listings', 0):>8} {m.get('new_listings', 0):>6} "
            f"{sum(pages.values()):>6} {m.get('render_mode', '-'):<8} {m.get('retries', 0):>7}")
    for name, m in result.marketplaces.items():
        if m["status"] != "ok" and m.get("reason"):
            lines.append(f"  {name}: {m['reason']}")
    if result.staged is not None:
        stages = ", ".join(f"{n} {s}" for s, n in sorted(result.staged.items())) or "none"
        lines.append(f"  staged by rule set {result.ruleset_version}: {stages}")
    return lines
