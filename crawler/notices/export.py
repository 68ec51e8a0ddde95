"""Exporting a draft notice: text, eml, md, json, csv (a bulk sheet) or lumen.

Templates are Jinja2 in a sandboxed environment: a rule set may bring its own (they
replace ours by file name) and they see only the notice's data. Listing text is a
counterfeiter's to write, so every format treats it as hostile (``escaping``): templates
get titles, sellers and URLs on one line with control and override characters visible;
HTML autoescapes and links only web URLs; Markdown escapes every value it prints (HTML and
Markdown syntax alike); the CSV sheet neutralises formulas; no format prints ``None``.
"""

from __future__ import annotations

import csv
import functools
import io
import json
from email.message import EmailMessage
from email.utils import format_datetime, formataddr, make_msgid
from importlib import resources
from pathlib import Path
from typing import Any

import jinja2
from jinja2.sandbox import ImmutableSandboxedEnvironment

from crawler.exceptions import TemplateProblem, UnknownNotice, known
from crawler.notices import escaping
from crawler.notices.escaping import NAME_LIMIT, TITLE_LIMIT, Verbatim, shown
from crawler.notices.programs import PROGRAMS, VERO_REASONS
from crawler.store import Store
from crawler.store import notices as notice_rows
from crawler.vocab import NOTICE_FORMATS

FORMATS = NOTICE_FORMATS  # every format a notice exports to
EXTENSIONS = {"text": "txt", "eml": "eml", "md": "md", "json": "json", "csv": "csv",
              "lumen": "lumen.json"}
BUILTIN_TEMPLATES = Path(str(resources.files("crawler.notices") / "templates"))


@functools.lru_cache(maxsize=8)  # compiled templates are kept with their environment
def environment(own: str | None = None, markdown: bool = False) -> jinja2.Environment:
    """The sandbox: the rule set's own templates first, then ours. With ``markdown``,
    every value a template prints is Markdown-escaped unless it is ``Verbatim``."""
    loaders: list[jinja2.BaseLoader] = []
    if own:
        loaders.append(jinja2.FileSystemLoader(own))
    loaders.append(jinja2.FileSystemLoader(str(BUILTIN_TEMPLATES)))
    env = ImmutableSandboxedEnvironment(
        loader=jinja2.ChoiceLoader(loaders), undefined=jinja2.StrictUndefined,
        autoescape=jinja2.select_autoescape(["html.j2"], default=False),
        finalize=_markdown_value if markdown else _value,
        trim_blocks=True, lstrip_blocks=True, keep_trailing_newline=True)
    env.filters["money"] = escaping.money
    env.filters["markdown_link"] = escaping.markdown_link
    env.tests["web_url"] = escaping.is_web_url
    return env


def _value(value: Any) -> Any:
    return "" if value is None else value  # an empty field, never the word "None"


def _markdown_value(value: Any) -> Any:
    if value is None:
        return ""
    return value if isinstance(value, Verbatim) else escaping.markdown(value)


def notice(store: Store, notice_id: int) -> dict[str, Any]:
    """A notice with its sender, rights and items (each with its evidence)."""
    n = known(notice_rows.get(store, notice_id), UnknownNotice, "notice", notice_id,
              store.path, "`brandsweep notices list` shows the drafts")
    n["sender"] = json.loads(n["sender"])
    n["rights"] = json.loads(n["rights"] or "{}")
    n["program_title"] = PROGRAMS[n["program"]].title
    n["items"] = []
    for item in notice_rows.items(store, notice_id):
        item = dict(item, evidence=json.loads(item["evidence"]),
                    rules=json.loads(item["rules"]))
        item["reason_text"] = VERO_REASONS.get(item["reason_code"] or "", "")
        n["items"].append(item)
    return n


def render(data: dict[str, Any], fmt: str, templates: str | None = None,
           evidence_dir: str = "") -> str | bytes:
    """The notice in format ``fmt``."""
    if fmt == "json":
        return escaping.json_text(data, sort_keys=True)
    if fmt == "csv":
        return _csv(data)
    if fmt == "lumen":
        return escaping.json_text(_lumen(data))
    env = environment(templates)
    people = for_people(data)
    context = {"notice": people, "sender": people["sender"], "rights": people["rights"],
               "items": people["items"], "evidence_dir": evidence_dir}
    text = _template(env, f"{data['program']}.txt.j2", context)
    if fmt == "text":
        return text
    if fmt == "md":
        return _template(environment(templates, markdown=True), "notice.md.j2",
                         context | {"body": Verbatim(text if text.endswith("\n")
                                                     else text + "\n"),
                                    "fence": escaping.markdown_fence(text)})
    html = _template(env, "notice.html.j2", context | {"body": text})
    return _eml(people, text, html)


def for_people(data: dict[str, Any]) -> dict[str, Any]:
    """The notice as its readable formats show it: the listing text (titles, sellers,
    listing ids, URLs) one line each, control and override characters visible (in URLs
    percent-encoded), long values cut (``escaping.shown``, ``escaping.shown_url``)."""
    items = [item | {"title": shown(item["title"], TITLE_LIMIT),
                     "seller": shown(item["seller"], NAME_LIMIT),
                     "listing_id": shown(item["listing_id"], NAME_LIMIT),
                     "url": escaping.shown_url(item["url"]),
                     "reason": shown(item["reason"])}
             for item in data["items"]]
    people = data | {"seller": shown(data["seller"], NAME_LIMIT),
                     "marketplace": shown(data["marketplace"]),
                     "recipient": shown(data.get("recipient")), "items": items}
    people["subject"] = subject(people)
    return people


def subject(data: dict[str, Any]) -> str:
    """The notice's subject line: the same in ``notices show``, the text export and the
    .eml's ``Subject`` header."""
    return (f"{data['program_title']}: {len(data['items'])} listing(s) by "
            f"{data['seller'] or 'unknown seller'} on {data['marketplace']}")


def _template(env: jinja2.Environment, name: str, context: dict[str, Any]) -> str:
    try:
        return env.get_template(name).render(context)
    except jinja2.TemplateNotFound as exc:
        raise TemplateProblem(f"notice template {name} not found in the rule set's "
                              f"templates folder or {BUILTIN_TEMPLATES}") from exc
    except jinja2.TemplateError as exc:
        where = getattr(exc, "filename", None) or name
        line = getattr(exc, "lineno", None)
        raise TemplateProblem(f"{where}:{line or 1}: {exc}; fix the template and export "
                              "again") from exc


def _eml(data: dict[str, Any], text: str, html: str) -> bytes:
    from datetime import datetime

    msg = EmailMessage()
    sender = data["sender"]
    msg["From"] = formataddr((shown(sender.get("name")) or "", shown(sender.get("email"))))
    msg["To"] = data.get("recipient") or f"{data['program']} notices <notices@invalid>"
    msg["Subject"] = data["subject"]
    msg["Date"] = format_datetime(datetime.fromisoformat(data["created_at"]))
    msg["Message-ID"] = make_msgid(idstring=f"brandsweep-notice-{data['id']}")
    msg["X-Brandsweep-Notice"] = str(data["id"])
    msg.set_content(text)
    msg.add_alternative(html, subtype="html")
    return bytes(msg)


def _csv(data: dict[str, Any]) -> str:
    out = io.StringIO()
    columns = ["notice_id", "program", "marketplace", "listing_id", "url", "title", "price",
               "currency", "seller", "reason_code", "reason", "captured_at",
               "screenshot_sha256", "html_sha256"]
    # CRLF as RFC 4180 has it: with "\n" alone, csv leaves a bare "\r" in a cell unquoted
    writer = csv.DictWriter(out, columns, lineterminator="\r\n")
    writer.writeheader()
    for item in data["items"]:
        row = {"notice_id": data["id"], **{k: item[k] for k in columns[1:11]},
               **{k: item["evidence"][k] for k in columns[11:]}}
        writer.writerow({k: escaping.csv_cell(v) for k, v in row.items()})
    return out.getvalue()


def _lumen(data: dict[str, Any]) -> dict[str, Any]:
    """The Lumen database's notice submission shape (``notice`` with ``works_attributes``
    and ``entity_notice_roles_attributes``)."""
    sender = data["sender"]
    mark = data["rights"].get("trademark") or {}
    entity = {"name": sender.get("company") or sender.get("name"), "kind": "organization",
              "address_line_1": sender.get("address"), "email": sender.get("email"),
              "phone": sender.get("phone")}
    return {"notice": {
        "title": f"{data['program_title']} to {data['marketplace']}",
        "type": PROGRAMS[data["program"]].lumen_type,
        "subject": f"{sender['brand']} listings by {data['seller'] or 'unknown seller'}",
        "date_sent": data.get("submitted_at") or None,
        "date_received": None,
        "language": "en",
        "mark_registration_number": mark.get("number"),
        "works_attributes": [{
            "description": f"{sender['brand']} trademark"
                           + (f" {mark.get('mark')} ({mark.get('office')} "
                              f"{mark.get('number')})" if mark else ""),
            # Lumen shows these as links: web URLs only
            "infringing_urls_attributes": [{"url": i["url"]} for i in data["items"]
                                           if escaping.is_web_url(i["url"])],
        }],
        "entity_notice_roles_attributes": [
            {"name": "sender", "entity_attributes": entity | {"name": sender.get("name")}},
            {"name": "principal", "entity_attributes": entity},
            {"name": "recipient", "entity_attributes": {"name": data["marketplace"],
                                                        "kind": "organization"}},
        ],
    }}


def filename(data: dict[str, Any], fmt: str) -> str:
    return f"notice-{data['id']}-{data['program']}-{data['marketplace']}.{EXTENSIONS[fmt]}"
