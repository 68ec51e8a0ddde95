"""A profile's ``spider:`` names the Python spider class its sweep runs (the escape hatch
for a marketplace no profile can describe); a name that does not load is the profile's
configuration error, exit 2, before anything is written."""

from __future__ import annotations

import os
import sqlite3
import subprocess
import sys
from pathlib import Path

from fixtures.server import FixtureServer

SCRIPT = str(Path(sys.executable).with_name("brandsweep"))
BUILTIN = Path(__file__).parent.parent / "spiders" / "marketplaces" / "bazaar.yaml"

SPIDER = '''
from pathlib import Path
import os

from spiders.profile import ProfileSpider


class MarkingSpider(ProfileSpider):
    """The profile spider, leaving a mark that it was the one that ran."""

    def closed(self, reason):
        Path(os.environ["SPIDER_MARK"]).write_text(f"{type(self).__name__} {self.name}")
        super().closed(reason)
'''


def _profile(folder: Path, spider: str) -> None:
    text = BUILTIN.read_text().replace("name: bazaar", "name: mybazaar", 1)
    (folder / "mybazaar.yaml").write_text(f"{text}\nspider: {spider}\n")


def _crawl(server: FixtureServer, folder: Path, db: Path, mark: Path
           ) -> subprocess.CompletedProcess[str]:
    env = dict(os.environ, BRANDSWEEP_FIXTURE_URL=server.url, SPIDER_MARK=str(mark),
               PYTHONPATH=str(folder))
    return subprocess.run([SCRIPT, "crawl", "--campaign", "own", "--keyword", "acme",
                           "--marketplace", "mybazaar", "--marketplaces", str(folder),
                           "--db", str(db), "--max-pages", "1"],
                          capture_output=True, text=True, env=env, timeout=240)


def test_a_profile_runs_the_spider_class_it_names(fixture_server: FixtureServer,
                                                   tmp_path: Path) -> None:
    (tmp_path / "myspiders.py").write_text(SPIDER)
    _profile(tmp_path, "myspiders.MarkingSpider")
    db, mark = tmp_path / "own.db", tmp_path / "mark"
    done = _crawl(fixture_server, tmp_path, db, mark)
    assert done.returncode == 0, done.stderr
    assert mark.read_text() == "MarkingSpider mybazaar"
    con = sqlite3.connect(db)
    assert con.execute("select count(*) from listings where marketplace = 'mybazaar'"
                       ).fetchone()[0] > 0


def test_a_spider_that_does_not_load_is_a_located_config_error(
        fixture_server: FixtureServer, tmp_path: Path) -> None:
    _profile(tmp_path, "nosuchmodule.Spider")
    db, mark = tmp_path / "own.db", tmp_path / "mark"
    done = _crawl(fixture_server, tmp_path, db, mark)
    assert done.returncode == 2, done.stderr
    line, = done.stderr.strip().splitlines()
    assert line.startswith("Error: ") and "mybazaar.yaml" in line
    assert "spider: cannot load 'nosuchmodule.Spider'" in line
    assert not db.exists() or not sqlite3.connect(db).execute(
        "select name from sqlite_master where name = 'sweeps'").fetchone() or \
        sqlite3.connect(db).execute("select count(*) from sweeps").fetchone()[0] == 0
    assert not mark.exists()


def test_a_name_that_is_no_spider_class_is_refused(fixture_server: FixtureServer,
                                                    tmp_path: Path) -> None:
    _profile(tmp_path, "os.path")
    done = _crawl(fixture_server, tmp_path, tmp_path / "own.db", tmp_path / "mark")
    assert done.returncode == 2, done.stderr
    assert "is not a Scrapy spider class" in done.stderr
