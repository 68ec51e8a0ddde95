"""Exporting notices: every format, escaping of attacker-written titles, the sandbox, and
a rule set's own templates."""

from __future__ import annotations

import csv
import email
import io
import json
import shutil
from pathlib import Path

import pytest
from click.testing import CliRunner

from crawler import profiles, ruleset
from crawler.cli import cli
from crawler.exceptions import TemplateProblem
from crawler.notices import drafting, export
from crawler.rules import loader
from crawler.store import Store
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
