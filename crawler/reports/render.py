"""Rendering a report: ``text`` for a terminal or cron mail, ``json`` for scripts, ``html``
for people (one self-contained file: inline SVG charts, screenshots as data URIs).

Listing titles and sellers are a counterfeiter's to write: the HTML page autoescapes them,
shows them one line each with control and override characters visible
(``crawler.notices.escaping``), and forbids scripts outright (its Content-Security-Policy).
"""

from __future__ import annotations

import base64
from pathlib import Path
from typing import Any

import jinja2

from crawler.notices.escaping import NAME_LIMIT, TITLE_LIMIT, json_text, money, shown
from crawler.reports.data import THUMBNAILS
from crawler.reports.outcomes import chart as outcomes_chart
from crawler.reports.outcomes import duration, rate
from crawler.sweep.monitor import percent

COLOURS = ("#2b6cb0", "#c05621", "#2f855a", "#6b46c1", "#b7791f", "#c53030")
_ENV = jinja2.Environment(
    loader=jinja2.PackageLoader("crawler.reports", "templates"),
    autoescape=True,  # listing titles are attacker-written text
    finalize=lambda v: "" if v is None else v,  # never the word "None"
    undefined=jinja2.StrictUndefined, trim_blocks=True, lstrip_blocks=True)
_ENV.filters["money"] = money
_ENV.filters["percent"] = lambda v: "-" if v is None else percent(v)
_ENV.filters["rate"] = rate
_ENV.filters["duration"] = duration


def render(report: dict[str, Any], fmt: str, evidence_dir: Path | None = None,
           images_dir: Path | None = None) -> str:
    """The report in format ``fmt`` (``text``, ``json`` or ``html``)."""
    if fmt == "json":
        return json_text(report, sort_keys=True)
    if fmt == "text":
        return "\n".join(text(report)) + "\n"
    report = for_people(report)
    thumbs: list[dict[str, Any]] = []
    for c in report["new_cases"]["items"]:
        if len(thumbs) >= THUMBNAILS:
            break
        shot = evidence_dir / c["screenshot"] if evidence_dir and c["screenshot"] else None
        if shot is not None and shot.is_file():
            data = base64.b64encode(shot.read_bytes()).decode()
            thumbs.append(c | {"src": f"data:image/png;base64,{data}"})
    return _ENV.get_template("report.html.j2").render(
        r=report, thumbs=thumbs, new_chart=_new_chart(report),
        history_chart=_history_chart(report),
        outcomes_chart=outcomes_chart((report.get("outcomes") or {}).get("timeline", {}),
                                      COLOURS),
        networks=_network_photos(report.get("networks", []), images_dir))


def _network_photos(networks: list[dict[str, Any]], images_dir: Path | None
                    ) -> list[dict[str, Any]]:
    """The networks with their photo thumbnails as data URIs (those on disk)."""
    out = []
    for n in networks:
        srcs = []
        for name in n["photos"]:
            file = images_dir / name if images_dir and name else None
            if file is not None and file.is_file():
                srcs.append("data:image/jpeg;base64," + base64.b64encode(
                    file.read_bytes()).decode())
        out.append(n | {"srcs": srcs})
    return out


def for_people(report: dict[str, Any]) -> dict[str, Any]:
    """The report with its listing text as the HTML page shows it (``escaping.shown``)."""
    def listing(row: dict[str, Any]) -> dict[str, Any]:
        return row | {k: shown(row[k], TITLE_LIMIT if k == "title" else NAME_LIMIT)
                      for k in ("title", "seller", "listing_id") if k in row}

    cases = report["new_cases"]
    return report | {
        "new_cases": cases | {"items": [listing(c) for c in cases["items"]]},
        "new_drafts": [listing(d) for d in report["new_drafts"]],
        "price_drops": [listing(d) for d in report["price_drops"]],
        "relistings": [listing(x) for x in report["relistings"]],
        "health": {name: h | {"reason": shown(h["reason"])}
                   for name, h in report["health"].items()},
        "problem": shown(report["problem"]),
    }


def text(report: dict[str, Any]) -> list[str]:
    """The report as lines for a terminal or a cron mail."""
    report = for_people(report)
    s = report["sweep"]
    lines = [f"sweep {s['id']} ({s['kind']} {s['brand'] or s['campaign']}): {s['status']}, "
             f"{s['started']} to {s['finished']}"]
    lines.append(f"  new cases: {report['new_cases']['count']}" + "".join(
        f"; {stage} " + ", ".join(f"{m} {n}" for m, n in sorted(per.items()))
        for stage, per in sorted(report["new_cases"]["by_stage"].items())))
    drafts = report["new_drafts"]
    lines.append(f"  new drafts: {len(drafts)} with {sum(d['items'] for d in drafts)} "
                 "listings")
    lines.append(f"  price drops: {len(report['price_drops'])}; relistings: "
                 f"{len(report['relistings'])}")
    lines.append("  health:")
    for name, h in sorted(report["health"].items()):
        lines.append(f"    {name:<12} {h['status']:<18} pages {h['pages']:>4}  listings "
                     f"{h['listings']:>5}  retries {h['retries']:>3}  {h['render_mode']}"
                     + (f"  price warnings {h['price_warnings']}" if h["price_warnings"]
                        else "")
                     + (f"  ({h['reason']})" if h["reason"] else ""))
    cov = report.get("coverage") or {"sweeps": [], "markets": {}}
    if len(cov["sweeps"]) > 1:
        lines.append(f"  field coverage, sweeps {', '.join(map(str, cov['sweeps']))}:")
        for name, m in cov["markets"].items():
            lines.append(f"    {name:<12} " + "; ".join(
                f"{f} " + " ".join("-" if v is None else percent(v) for v in shares)
                for f, shares in sorted(m["fields"].items())))
    o = report.get("outcomes")
    if o and o["groups"]:
        t = o["total"]
        lines.append(f"  takedown outcomes: {t['listings']} listings in {t['notices']} "
                     f"submitted notices, {t['removed']} removed ({rate(t['removal_rate'])}"
                     f", median {duration(t['median_seconds'])}), {t['still_live']} still "
                     f"live, {t['pending']} not verified yet, {t['relisted']} relisted "
                     "(`brandsweep outcomes` for each marketplace)")
    if report["problem"]:
        lines.append(f"  problem: {report['problem']}")
    return lines


def _new_chart(report: dict[str, Any]) -> dict[str, Any]:
    """Stacked bars: new cases per marketplace, one colour per stage."""
    stages = sorted(report["new_cases"]["by_stage"])
    markets = sorted({m for per in report["new_cases"]["by_stage"].values() for m in per}
                     | set(report["health"]))
    top = max([sum(report["new_cases"]["by_stage"][s].get(m, 0) for s in stages)
               for m in markets] + [1])
    bars = []
    for i, m in enumerate(markets):
        y = 200.0
        for j, s in enumerate(stages):
            n = report["new_cases"]["by_stage"][s].get(m, 0)
            h = 180 * n / top
            y -= h
            bars.append({"x": 50 + i * 90, "y": round(y, 1), "h": round(h, 1), "n": n,
                         "label": f"{m} {s}", "colour": COLOURS[j % len(COLOURS)]})
    return {"bars": bars, "markets": markets, "stages": stages, "top": top,
            "colours": COLOURS}


def _history_chart(report: dict[str, Any]) -> dict[str, Any]:
    """One line per marketplace: suspects seen in each of the last sweeps."""
    sweeps = report["history"]["sweeps"]
    series = report["history"]["series"]
    top = max([max(v) for v in series.values() if v] + [1])
    step = 400 / max(len(sweeps) - 1, 1)
    lines = []
    for k, (m, values) in enumerate(sorted(series.items())):
        points = [(round(50 + i * step, 1), round(200 - 180 * v / top, 1), v)
                  for i, v in enumerate(values)]
        lines.append({"market": m, "colour": COLOURS[k % len(COLOURS)], "points": points,
                      "path": " ".join(f"{x},{y}" for x, y, _ in points)})
    return {"sweeps": sweeps, "lines": lines, "top": top}
