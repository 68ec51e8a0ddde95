"""Files a person or a later run relies on: written whole, and never world-writable
whatever the umask (0o644 files, 0o755 folders)."""

from __future__ import annotations

import os
import stat
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from crawler.cases import evidence
from crawler.files import FILE_MODE, FOLDER_MODE, create_file, make_folders, write_whole
from crawler.store import Store
from fixtures.server import FixtureServer

SCRIPT = str(Path(sys.executable).with_name("brandsweep"))


@pytest.fixture
def no_umask() -> Iterator[None]:
    old = os.umask(0)
    try:
        yield
    finally:
        os.umask(old)


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def test_write_whole_sets_its_modes_whatever_the_umask(tmp_path: Path, no_umask: None
                                                       ) -> None:
    target = tmp_path / "a" / "b" / "notice.txt"
    write_whole(target, b"one")
    assert target.read_bytes() == b"one" and mode(target) == FILE_MODE
    assert mode(tmp_path / "a") == FOLDER_MODE and mode(tmp_path / "a" / "b") == FOLDER_MODE
    # a .part a killed run left behind, writable by all: never written through
    part = target.with_name("notice.txt.part")
    part.write_bytes(b"half")
    part.chmod(0o666)
    write_whole(target, b"two")
    assert target.read_bytes() == b"two" and mode(target) == FILE_MODE
    assert part.read_bytes() == b"half"
    assert sorted(p.name for p in target.parent.iterdir()) == ["notice.txt",
                                                              "notice.txt.part"]


def test_an_existing_folder_keeps_its_mode(tmp_path: Path, no_umask: None) -> None:
    shared = tmp_path / "shared"
    shared.mkdir()
    shared.chmod(0o770)
    make_folders(shared / "new")
    assert mode(shared) == 0o770 and mode(shared / "new") == FOLDER_MODE


def test_write_whole_does_not_follow_a_planted_link(tmp_path: Path) -> None:
    """A predictable temporary name could be planted (symlink or hard link) by anyone who
    can write in the folder; the temporary file is a new one under a random name."""
    victim = tmp_path / "victim"
    victim.write_bytes(b"keep")
    (tmp_path / "notice.txt.part").symlink_to(victim)
    os.link(victim, tmp_path / "report.html.part")
    write_whole(tmp_path / "notice.txt", b"evil")
    write_whole(tmp_path / "report.html", b"evil")
    assert victim.read_bytes() == b"keep"
    assert (tmp_path / "notice.txt").read_bytes() == b"evil"
    assert not (tmp_path / "notice.txt").is_symlink()


def test_create_file_leaves_an_existing_file_alone(tmp_path: Path, no_umask: None) -> None:
    path = tmp_path / "x.db"
    create_file(path)
    assert mode(path) == FILE_MODE
    path.write_bytes(b"data")
    path.chmod(0o600)
    create_file(path)
    assert path.read_bytes() == b"data" and mode(path) == 0o600


def test_the_store_and_its_wal_and_shm(tmp_path: Path, no_umask: None) -> None:
    store = Store(tmp_path / "store.db")
    store.migrate()
    store.start_sweep(kind="crawl", brand=None, campaign="c", marketplaces=["bazaar"],
                      keywords=["k"], max_pages=1)
    files = [tmp_path / n for n in ("store.db", "store.db-wal", "store.db-shm")]
    assert all(p.exists() for p in files)
    assert {p.name: mode(p) for p in files} == {p.name: FILE_MODE for p in files}


@pytest.mark.browser
def test_a_sweep_under_umask_0_leaves_nothing_world_writable(tmp_path: Path) -> None:
    """A real sweep with evidence capture and drafting, then a report and every export."""
    db = tmp_path / "store.db"
    with FixtureServer(port=0, hard=False, seed=7) as server:
        done = subprocess.run(
            [SCRIPT, "sweep", "--brand", "acme", "--marketplace", "bazaar", "--max-pages", "1",
             "--db", str(db)], capture_output=True, text=True, timeout=300, umask=0,
            env=dict(os.environ, BRANDSWEEP_FIXTURE_URL=server.url))
    assert done.returncode == 0, done.stdout + done.stderr
    out = tmp_path / "exports" / "notices"  # made by the CLI, parents too
    for fmt in ("text", "eml", "md", "json", "csv", "lumen"):
        exported = subprocess.run([SCRIPT, "notices", "export", "--all", "--format", fmt,
                                   "--out", str(out), "--db", str(db)], capture_output=True,
                                  text=True, timeout=300, umask=0)
        assert exported.returncode == 0, exported.stderr
    report = subprocess.run([SCRIPT, "report", "--last", "--format", "html", "--out",
                             str(tmp_path / "reports" / "last.html"), "--db", str(db)],
                            capture_output=True, text=True, timeout=300, umask=0)
    assert report.returncode == 0, report.stderr
    shots = list(evidence.folder(db).rglob("screenshot.png"))
    assert shots, "the sweep captured no evidence"
    assert len(list(out.iterdir())) >= 6
    everything = list(tmp_path.rglob("*"))  # the brand's sweep lock file included
    assert any(p.name.endswith(".lock") for p in everything)
    writable = [f"{p.relative_to(tmp_path)} {oct(mode(p))}" for p in everything
                if mode(p) & stat.S_IWOTH]
    assert writable == []
    for p in everything:
        assert mode(p) == (FOLDER_MODE if p.is_dir() else FILE_MODE), p
