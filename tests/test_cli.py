"""The ``brandsweep`` command through Click's runner and as an installed script."""

from __future__ import annotations

import json
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner

from crawler import __version__
from crawler.cli import cli


def test_help_lists_commands() -> None:
    result = CliRunner().invoke(cli, ["--help"])
    assert result.exit_code == 0
    for command in cli.commands:
        assert command in result.output


def test_version() -> None:
    result = CliRunner().invoke(cli, ["--version"])
    assert result.exit_code == 0
    assert result.output.strip() == f"brandsweep, version {__version__}"


def test_console_script_is_installed() -> None:
    script = Path(sys.executable).with_name("brandsweep")  # the venv's, as make installs it
    done = subprocess.run([str(script), "--version"], capture_output=True, text=True,
                          check=True)
    assert __version__ in done.stdout


def test_browser_prints_the_chromium_path(chromium: str) -> None:
    result = CliRunner().invoke(cli, ["browser"])
    assert result.exit_code == 0
    assert result.output.strip() == chromium


def test_browser_error_is_one_line_with_exit_1(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("BRANDSWEEP_CHROMIUM", "/nonexistent/chromium")
    result = CliRunner().invoke(cli, ["browser"])
    assert result.exit_code == 1
    assert result.output.strip() == (
        "Error: BRANDSWEEP_CHROMIUM=/nonexistent/chromium is not an executable file: "
        "point it at a Chromium binary or unset it")


@pytest.mark.browser
def test_demo_sweeps_both_brands(tmp_path: Path) -> None:
    result = CliRunner().invoke(cli, ["demo", "--db", str(tmp_path / "demo.db")])
    assert result.exit_code == 0, result.output
    assert "sweep 1: ok" in result.output and "sweep 2: ok" in result.output
    for market in ("bazaar", "shopfront", "megamart", "tradehub"):
        assert result.output.count(f"  {market} ") == 2
    # every program a fixture profile names has drafts, with evidence that verifies
    con = sqlite3.connect(tmp_path / "demo.db")
    programs = {r[0] for r in con.execute("select distinct program from notices")}
    assert programs == {"ebay_vero", "eu_dsa", "amazon", "alibaba_ipp"}
    assert con.execute("select count(*) from cases c where not exists (select 1 from "
                       "evidence v where v.case_id = c.id)").fetchone() == (0,)
    assert CliRunner().invoke(cli, ["evidence", "verify", "--db",
                                    str(tmp_path / "demo.db")]).exit_code == 0
    for brand in ("acme", "velora"):
        assert (tmp_path / f"demo-{brand}-report.html").stat().st_size > 10_000


def test_demo_writes_everything_under_one_ignored_folder() -> None:
    """Rough edge: `make demo` left its reports and evidence untracked in the clone."""
    import subprocess

    from crawler.cases import evidence

    default = next(p.default for p in cli.commands["demo"].params if p.name == "db")
    db = Path(str(default))
    assert db.parent != Path(".")
    written = [db, Path(f"{db}-wal"), evidence.folder(db) / "case-1" / "page.png",
               db.with_name(f"{db.stem}-acme-report.html")]
    root = Path(__file__).resolve().parent.parent
    for path in written:
        assert path.parent == db.parent or db.parent in path.parents
        done = subprocess.run(["git", "check-ignore", "-q", str(path)], cwd=root,
                              check=False)
        assert done.returncode == 0, f"{path} is not ignored by git"


def test_review_list_shows_the_seller(tmp_path: Path) -> None:
    """Rough edge: `review list` text output had no seller column."""
    from crawler.cases import lifecycle as cases
    from crawler.items import Listing
    from crawler.store import Store

    store = Store(tmp_path / "s.db")
    store.migrate()
    sweep = store.start_sweep(kind="sweep", brand="acme", campaign=None, marketplaces=[],
                              keywords=["acme"], max_pages=0)
    store.save(sweep, [Listing(marketplace="bazaar", listing_id="1", url="http://x/1",
                               title="Acme Pulse replica", keyword="acme",
                               render_mode="http", price="9.99", currency="USD",
                               seller="shady_store_88")])
    store.save_evaluations("acme", [("bazaar", "1", "v1", 90, "takedown", "[]")])
    cases.sync(store, "acme", "test")
    result = CliRunner().invoke(cli, ["review", "list", "--db", str(tmp_path / "s.db")])
    assert result.exit_code == 0
    line = result.output.splitlines()[0]
    assert "shady_store_88" in line and "Acme Pulse replica" in line


def test_review_list_and_listings_print_a_page_and_say_how_many_more(tmp_path: Path) -> None:
    from crawler.cases import lifecycle as cases
    from crawler.items import Listing
    from crawler.store import Store

    db = tmp_path / "s.db"
    store = Store(db)
    store.migrate()
    sweep = store.start_sweep(kind="sweep", brand="acme", campaign=None, marketplaces=[],
                              keywords=["acme"], max_pages=0)
    store.save(sweep, [Listing(marketplace=m, listing_id=str(i), url=f"http://x/{i}",
                               title=f"Acme Pulse replica {i}", keyword="acme",
                               render_mode="http") for m in ("bazaar", "megamart")
                       for i in range(5)])
    store.save_evaluations("acme", [(m, str(i), "v1", 90, "takedown", "[]")
                                    for m in ("bazaar", "megamart") for i in range(5)])
    cases.sync(store, "acme", "test")
    runner = CliRunner()

    def run(*args: str) -> tuple[list[str], str]:
        result = runner.invoke(cli, [*args, "--db", str(db)])
        assert result.exit_code == 0, result.output
        return result.stdout.splitlines(), result.stderr.strip()

    lines, said = run("review", "list", "--limit", "3")
    assert [int(x.split()[0]) for x in lines] == [1, 2, 3]
    assert said == "3 of 10 cases (--limit N for more, --limit 0 for all)"
    lines, said = run("review", "list", "--marketplace", "megamart", "--limit", "0")
    assert len(lines) == 5 and all("megamart:" in x for x in lines) and said == "5 cases"
    assert run("review", "list")[1] == "10 cases"  # under the default page of 200
    lines, said = run("review", "list", "--json")
    assert len(json.loads("\n".join(lines))) == 10 and said == ""  # --json: every case
    lines, said = run("listings", "--search", "pulse", "--limit", "4")
    assert len(lines) == 4 and said.startswith("first 4 listings; more match")
    lines, said = run("listings", "--search", "pulse", "--limit", "10")
    assert len(lines) == 10 and said == "10 listings"


def test_a_command_starts_without_the_others(tmp_path: Path) -> None:
    # every command's module is imported when it runs, and the store's sqlite-utils
    # without numpy: `review list` loads its own module and the store, nothing heavier
    from crawler.store import Store

    Store(tmp_path / "t.db").migrate()
    script = ("import json, sys\nfrom crawler.cli import cli\n"
              "try:\n    cli.main(['review', 'list', '--db', sys.argv[1]])\n"
              "except SystemExit as exc:\n    code = exc.code\n"
              "print(json.dumps([code, sorted(sys.modules)]))")
    done = subprocess.run([sys.executable, "-c", script, str(tmp_path / "t.db")],
                          capture_output=True, text=True, check=True)
    code, modules = json.loads(done.stdout.splitlines()[-1])
    assert code == 0 and "crawler.cli.review" in modules and "crawler.store" in modules
    loaded = {m for m in modules if m.startswith("crawler.cli.")}
    assert loaded <= {"crawler.cli.review", "crawler.cli.options"}, loaded
    assert not {"numpy", "scrapy", "crawler.sweep", "crawler.web"} & set(modules)
