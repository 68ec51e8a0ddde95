"""Exporting notices: every format, escaping of attacker-written titles, the sandbox, and
a rule set's own templates."""

from __future__ import annotations

import csv
import email
import email.policy
import io
import json
import os
import shutil
import stat
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from crawler import files
from crawler.cases import lifecycle as cases
from crawler.cli import cli
from crawler.exceptions import TemplateProblem
from crawler.notices import drafting, escaping, export
from crawler.notices.programs import PROGRAMS
from crawler.profiles import loading as profiles
from crawler.rules import files as ruleset
from crawler.rules import loader
from crawler.rules.backtest import row_of
from crawler.store import Store
from tests import hostile
from tests.test_notices_drafting import fake_evidence, stock

EVIL = "Acme Pulse X2 Wireless Headphones Replica <script>alert(1)</script>"


@pytest.fixture
def drafted(tmp_path: Path) -> Path:
    db = tmp_path / "store.db"
    store = Store(db)
    store.migrate()
    stock(store, "bazaar", "evil_seller", 2, title=EVIL)
    fake_evidence(store)
    drafting.draft(store, loader.load(ruleset.brand_file("acme")), profiles.load_profiles(),
                   "tester")
    return db


def cli_run(*args: str) -> tuple[int, str]:
    result = CliRunner().invoke(cli, list(args))
    return result.exit_code, result.output


def test_every_format(drafted: Path, tmp_path: Path) -> None:
    out = tmp_path / "out"
    for fmt in export.FORMATS:
        code, text = cli_run("notices", "export", "--all", "--format", fmt, "--out", str(out),
                             "--db", str(drafted))
        assert code == 0, text
    files = {p.name: p for p in out.iterdir()}
    assert sorted(files) == sorted(f"notice-1-ebay_vero-bazaar.{e}"
                                   for e in export.EXTENSIONS.values())
    body = files["notice-1-ebay_vero-bazaar.txt"].read_text()
    assert "Reason code: 1.1" in body and "<script>" in body  # plain text shows it as is
    data = json.loads(files["notice-1-ebay_vero-bazaar.json"].read_text())
    assert len(data["items"]) == 2 and data["items"][0]["evidence"]["html_sha256"]
    lumen = json.loads(files["notice-1-ebay_vero-bazaar.lumen.json"].read_text())["notice"]
    assert lumen["mark_registration_number"] == "5123456"
    assert [u["url"] for u in lumen["works_attributes"][0]["infringing_urls_attributes"]] \
        == [i["url"] for i in data["items"]]
    assert {r["name"] for r in lumen["entity_notice_roles_attributes"]} == {
        "sender", "principal", "recipient"}
    sheet = list(csv.DictReader(io.StringIO(files["notice-1-ebay_vero-bazaar.csv"]
                                            .read_text())))
    assert [r["title"] for r in sheet] == [f"{EVIL} 0", f"{EVIL} 1"]
    md = files["notice-1-ebay_vero-bazaar.md"].read_text()
    assert "| captured (UTC) |" in md
    mail = email.message_from_bytes(files["notice-1-ebay_vero-bazaar.eml"].read_bytes())
    assert mail["To"] == "VeRO intake <vero@bazaar.example>"
    html = next(p for p in mail.walk() if p.get_content_type() == "text/html")
    page = html.get_payload(decode=True).decode()
    assert "<script>" not in page and "&lt;script&gt;alert(1)&lt;/script&gt;" in page


def test_stdout_and_unknown_notice(drafted: Path) -> None:
    code, text = cli_run("notices", "export", "1", "--format", "csv", "--db", str(drafted))
    assert code == 0 and text.startswith("notice_id,program,marketplace")
    code, text = cli_run("notices", "show", "9", "--db", str(drafted))
    assert code == 2 and "no notice 9" in text and "notices list" in text
    code, text = cli_run("notices", "list", "--db", str(drafted.with_name("nope.db")))
    assert code == 2 and "no store at" in text


def test_a_rule_sets_own_templates_run_sandboxed(drafted: Path, tmp_path: Path) -> None:
    rules = tmp_path / "rules"
    shutil.copytree(ruleset.rules_dir(), rules)
    (rules / "acme.yaml").write_text((rules / "acme.yaml").read_text()
                                     + "\nnotices: {templates: my-templates}\n")
    (rules / "my-templates").mkdir()
    (rules / "my-templates" / "ebay_vero.txt.j2").write_text(
        "OUR VERO FORM for {{ sender.company }}: {{ items | length }} items\n")
    code, text = cli_run("notices", "show", "1", "--rules", str(rules), "--db", str(drafted))
    assert code == 0 and text == "OUR VERO FORM for Acme Consumer Products, Inc.: 2 items\n"
    (rules / "my-templates" / "ebay_vero.txt.j2").write_text(
        "{{ ''.__class__.__mro__[1].__subclasses__() }}")
    code, text = cli_run("notices", "show", "1", "--rules", str(rules), "--db", str(drafted))
    assert code == 2 and "ebay_vero.txt.j2" in text and "unsafe" in text
    data = export.notice(Store(drafted), 1)
    with pytest.raises(TemplateProblem):
        export.render(data, "text", str(rules / "my-templates"))


# -- the hostile corpus, through every format -----------------------------------------------

MARKETS = ("bazaar", "shopfront", "megamart", "tradehub")  # ebay_vero, eu_dsa, amazon, alibaba
MARKDOWN_TAGS = {"h1", "h2", "ul", "li", "p", "pre", "code", "table", "thead", "tbody", "tr",
                 "th", "td", "a"}
NOTICE_HTML_TAGS = {"html", "head", "meta", "title", "body", "h1", "p", "table", "tr", "th",
                    "td", "a", "br", "pre"}


def draft_hostile(db: Path, sweep_id: int | None = None) -> tuple[Store, list[int]]:
    """The hostile corpus stored on all four fixture marketplaces, each listing a confirmed
    case with evidence, drafted into notices (one per program and seller)."""
    store = Store(db)
    store.migrate()
    if sweep_id is None:
        sweep_id = store.start_sweep(kind="sweep", brand="acme", campaign=None,
                                     marketplaces=list(MARKETS), keywords=["acme"],
                                     max_pages=1)
        store.save(sweep_id, [x for m in MARKETS for x in hostile.listings(m)])
    rs = loader.load(ruleset.brand_file("acme"))
    rows = [row_of(r, rs.evaluate(r)) for r in store.listings_for(["acme"], brand="acme")]
    store.save_evaluations("acme", rows, sweep_id)
    cases.sync(store, "acme", "tester", sweep_id)
    opened = [r[0] for r in store.db.conn.execute("select id from cases where status = 'open'")]
    if opened:
        cases.transition(store, opened, "confirm", "dana", "hostile corpus")
    fake_evidence(store)
    result = drafting.draft(store, rs, profiles.load_profiles(), "tester", sweep_id)
    return store, result.notices


@pytest.fixture(scope="module")
def hostile_notices(tmp_path_factory: pytest.TempPathFactory) -> tuple[Store, list[int]]:
    return draft_hostile(tmp_path_factory.mktemp("hostile") / "store.db")


def benign(data: dict[str, Any]) -> dict[str, Any]:
    """The same notice with harmless listing text: the shape a hostile one must keep."""
    return data | {"seller": "benign", "items": [
        item | {"title": "benign", "seller": "benign", "url": "http://x.example/benign"}
        for item in data["items"]]}


def every_program(data: dict[str, Any]) -> list[dict[str, Any]]:
    """The notice as each program's template writes it (with the trademark they cite)."""
    _, mark = drafting.identity(loader.load(ruleset.brand_file("acme")), PROGRAMS["amazon"])
    rights = data["rights"] | {"trademark": mark}
    return [data | {"program": p.name, "program_title": p.title, "rights": rights}
            for p in PROGRAMS.values()]


def shown_titles(data: dict[str, Any], web_only: bool = False) -> list[str]:
    return [escaping.shown(i["title"], escaping.TITLE_LIMIT) for i in data["items"]
            if not web_only or escaping.is_web_url(escaping.shown_url(i["url"]))]


def assert_readable_text(out: str, data: dict[str, Any], fmt: str) -> None:
    """Text a person reads: every listing's text on its one line, nothing hidden."""
    assert hostile.hidden_characters(out) == []
    assert "None" not in out
    clean = export.render(benign(data), fmt)
    assert isinstance(clean, str)
    assert len(out.splitlines()) == len(clean.splitlines())  # no line was forged
    assert "x" * (escaping.TITLE_LIMIT + 1) not in out  # 20,000 characters cut


def test_the_corpus_is_drafted_whole(hostile_notices: tuple[Store, list[int]]) -> None:
    store, ids = hostile_notices
    drafted = store.db.conn.execute("select count(*) from notice_items").fetchone()[0]
    assert drafted == len(MARKETS) * len(hostile.TITLES)
    programs = {r[0] for r in store.db.conn.execute("select program from notices")}
    assert programs == {"ebay_vero", "eu_dsa", "amazon", "alibaba_ipp"}
    assert len(ids) == len(MARKETS) * len(hostile.SELLERS)


def test_text_notices_of_every_program(hostile_notices: tuple[Store, list[int]]) -> None:
    store, ids = hostile_notices
    for notice_id in ids:
        for data in every_program(export.notice(store, notice_id)):
            out = export.render(data, "text")
            assert isinstance(out, str)
            assert_readable_text(out, data, "text")
            if data["program"] != "alibaba_ipp":  # its form lists links, not titles
                for title in shown_titles(data):
                    assert title in out


def test_markdown_escapes_html_and_markdown(hostile_notices: tuple[Store, list[int]]) -> None:
    from markdown_it import MarkdownIt

    md = MarkdownIt("commonmark").enable("table")  # raw HTML on: the dangerous setting
    store, ids = hostile_notices
    for notice_id in ids:
        data = export.notice(store, notice_id)
        out = export.render(data, "md")
        assert isinstance(out, str)
        assert hostile.hidden_characters(out) == [] and "None" not in out
        page = hostile.check_page(md.render(out), MARKDOWN_TAGS)
        # one heading of each level and one table row per listing: nothing forged
        assert page.tags.count("h1") == 1 and page.tags.count("h2") == 2
        assert page.tags.count("tr") == len(data["items"]) + 1
        # a link per listing with a web address, its text the title and nothing else
        assert page.anchor_texts == shown_titles(data, web_only=True)
        assert len(page.hrefs) == len(page.anchor_texts)
        text = "".join(page.text)
        for title in shown_titles(data):
            assert title in text  # shown as text, all of it


def test_email_headers_and_html_part(hostile_notices: tuple[Store, list[int]]) -> None:
    store, ids = hostile_notices
    for notice_id in ids:
        data = export.notice(store, notice_id)
        raw = export.render(data, "eml")
        assert isinstance(raw, bytes)
        mail = email.message_from_bytes(raw, policy=email.policy.default)
        assert sorted(mail.keys()) == sorted([
            "From", "To", "Subject", "Date", "Message-ID", "X-Brandsweep-Notice",
            "MIME-Version", "Content-Type"])  # no Bcc: or Subject: smuggled in
        subject = str(mail["Subject"])
        assert hostile.hidden_characters(subject) == [] and "\n" not in subject
        parts = {p.get_content_type(): p.get_content() for p in mail.walk()
                 if not p.is_multipart()}
        assert_readable_text(parts["text/plain"], data, "text")
        page = hostile.check_page(parts["text/html"], NOTICE_HTML_TAGS)
        assert "Content-Security-Policy" in parts["text/html"]
        assert page.anchor_texts == shown_titles(data, web_only=True)
        assert hostile.hidden_characters(parts["text/html"]) == []
        assert "None" not in "".join(page.text)


def test_csv_cells_cannot_be_formulas(hostile_notices: tuple[Store, list[int]]) -> None:
    store, ids = hostile_notices
    for notice_id in ids:
        data = export.notice(store, notice_id)
        out = export.render(data, "csv")
        assert isinstance(out, str)
        rows = list(csv.reader(io.StringIO(out, newline="")))
        assert len(rows) == len(data["items"]) + 1
        for row in rows:
            assert len(row) == len(rows[0])
            for cell in row:
                assert not cell.startswith(hostile.FORMULA_START), cell
                assert hostile.hidden_characters(cell, allowed="\t\n\r") == []
        header = rows[0]
        for row, item in zip(rows[1:], data["items"], strict=True):
            for column in ("title", "seller", "url"):
                cell, value = row[header.index(column)], item[column]
                if not hostile.hidden_characters(value, allowed="\t\n\r"):
                    # the value itself, a quote before it if it could be a formula
                    assert cell == ("'" + value if value.startswith(hostile.FORMULA_START)
                                    else value)


def test_json_and_lumen_keep_the_values_and_hide_nothing(
        hostile_notices: tuple[Store, list[int]]) -> None:
    store, ids = hostile_notices
    for notice_id in ids:
        data = export.notice(store, notice_id)
        out = export.render(data, "json")
        assert isinstance(out, str)
        assert hostile.hidden_characters(out) == []
        assert json.loads(out) == data  # every character of every title, as stored
        lumen = export.render(data, "lumen")
        assert isinstance(lumen, str)
        assert hostile.hidden_characters(lumen) == []
        urls = [u["url"] for u in json.loads(lumen)["notice"]["works_attributes"][0][
            "infringing_urls_attributes"]]
        assert urls == [i["url"] for i in data["items"] if hostile.is_web(i["url"])
                        and escaping.is_web_url(i["url"])]


@pytest.mark.browser
def test_the_email_html_part_runs_nothing_in_chromium(
        hostile_notices: tuple[Store, list[int]], page: Any, tmp_path: Path) -> None:
    store, ids = hostile_notices
    dialogs: list[str] = []
    page.on("dialog", lambda d: (dialogs.append(d.message), d.dismiss()))
    for notice_id in ids[:: max(1, len(ids) // 8)]:
        mail = email.message_from_bytes(export.render(export.notice(store, notice_id),
                                                      "eml"), policy=email.policy.default)
        html = next(p for p in mail.walk() if p.get_content_type() == "text/html")
        target = tmp_path / f"notice-{notice_id}.html"
        target.write_text(html.get_content())
        page.goto(target.as_uri())
        assert page.eval_on_selector_all("script", "els => els.length") == 0
        assert page.eval_on_selector_all("pre", "els => els.length") == 1
    assert dialogs == []


def test_exports_are_never_world_writable(drafted: Path, tmp_path: Path) -> None:
    out = tmp_path / "out"
    out.mkdir(mode=0o755)
    old = os.umask(0)
    try:
        for fmt in export.FORMATS:
            code, text = cli_run("notices", "export", "--all", "--format", fmt, "--out",
                                 str(out), "--db", str(drafted))
            assert code == 0, text
        written = list(out.iterdir())
        again = export.render(export.notice(Store(drafted), 1), "csv")
        files.write_whole(tmp_path / "new" / "deeper" / "notice.csv", again.encode())
    finally:
        os.umask(old)
    assert len(written) == len(export.FORMATS)
    assert {oct(stat.S_IMODE(p.stat().st_mode)) for p in written} == {oct(files.FILE_MODE)}
    for folder in (tmp_path / "new", tmp_path / "new" / "deeper"):
        assert stat.S_IMODE(folder.stat().st_mode) == files.FOLDER_MODE
    assert stat.S_IMODE((tmp_path / "new" / "deeper" / "notice.csv").stat().st_mode) \
        == files.FILE_MODE


def test_a_missing_price_is_said_in_words(drafted: Path) -> None:
    store = Store(drafted)
    with store.db.conn:
        store.db.conn.execute("update notice_items set price = null, currency = null "
                              "where position = 1")
    data = export.notice(store, 1)
    for fmt in ("text", "md"):
        out = export.render(data, fmt)
        assert isinstance(out, str)
        assert "None" not in out and "price not shown" in out and "20.00 USD" in out
    for program in every_program(data):
        out = export.render(program, "text")
        assert isinstance(out, str) and "None" not in out
    mail = email.message_from_bytes(export.render(data, "eml"), policy=email.policy.default)
    for part in mail.walk():
        if not part.is_multipart():
            assert "None" not in part.get_content()
    assert escaping.money(None, None) == "price not shown"
    assert escaping.money("12.50", None) == "12.50 (currency not shown)"


def test_a_url_stays_the_same_address_on_one_line() -> None:
    assert escaping.shown_url("http://x.example/\u202etxt.exe") == \
        "http://x.example/%E2%80%AEtxt.exe"
    assert escaping.shown_url(" http://x.example/a\nb ") == "http://x.example/a%0Ab"
    for url in hostile.URLS:
        shown = escaping.shown_url(url)
        assert hostile.hidden_characters(shown) == [] and " " not in shown
        assert escaping.is_web_url(shown) == hostile.is_web(shown)
    assert not any(escaping.is_web_url(u) for u in (
        "javascript:alert(1)", "JaVaScRiPt:alert(1)", "data:text/html,x", "//evil.example/",
        "http:///nohost", "vbscript:msgbox(1)"))


def test_the_email_notice_cites_the_registrations_and_one_subject(tmp_path: Path) -> None:
    """Rough edges: the email notice cited no trademark registration, and the subject
    `notices show` printed was not the exported .eml's."""
    own = tmp_path / "marketplaces"
    own.mkdir()
    builtin = profiles.BUILTIN_DIR / "bazaar.yaml"
    (own / "bazaar.yaml").write_text(builtin.read_text().replace(
        "notice_program: ebay_vero", "notice_program: email"))
    markets = profiles.load_profiles([own])
    assert markets["bazaar"].notice_program == "email"
    db = tmp_path / "store.db"
    store = Store(db)
    store.migrate()
    stock(store, "bazaar", "evil_seller", 2)
    fake_evidence(store)
    drafted = drafting.draft(store, loader.load(ruleset.brand_file("acme")), markets, "t")
    assert drafted.by_program == {"email": 1}
    code, text = cli_run("notices", "show", str(drafted.notices[0]), "--db", str(db))
    assert code == 0
    assert "USPTO 5123456 (US)" in text and "EUIPO 018234567 (EU)" in text
    shown_subject = text.splitlines()[0].removeprefix("Subject: ")
    raw = export.render(export.notice(store, drafted.notices[0]), "eml")
    assert isinstance(raw, bytes)
    mail = email.message_from_bytes(raw, policy=email.policy.default)
    assert mail["Subject"] == shown_subject
    assert shown_subject == ("Notice of infringement (email): 2 listing(s) by evil_seller on "
                             "bazaar")
