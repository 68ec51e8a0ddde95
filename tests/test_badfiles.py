"""Every broken file a person can hand us is one line and exit 2 (or the documented
code), never a traceback: through each loader and each command that reads it.

The corpus is ``tests/badfiles/``; what must not be committed (a 100k-deep file, a symlink
loop, a folder where a file should be) is made here.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import click
import pytest
from click.testing import CliRunner

from crawler.cli import cli
from crawler.exceptions import ConfigError
from crawler.profiles.loading import load_profile, load_profiles
from crawler.rules import loader
from crawler.yamlfile import MAX_BYTES
from scheduling import schedule

HERE = Path(__file__).parent / "badfiles"
RULES = Path(__file__).parent.parent / "rules" / "acme.yaml"
SCRIPT = str(Path(sys.executable).with_name("brandsweep"))
DEPTH = 100_000

Maker = Callable[[Path, str], Path]


def _copy(kind: str, name: str) -> Maker:
    def make(folder: Path, stem: str) -> Path:
        target = folder / f"{stem}.yaml"
        shutil.copyfile(HERE / kind / name, target)
        for extra in (HERE / kind).glob("*.txt"):  # the list files rule sets name
            shutil.copyfile(extra, folder / extra.name)
        return target
    return make


def _deep(folder: Path, stem: str) -> Path:
    target = folder / f"{stem}.yaml"
    target.write_text("a: " + "[" * DEPTH + "]" * DEPTH + "\n")
    return target


def _loop(folder: Path, stem: str) -> Path:
    target = folder / f"{stem}.yaml"
    os.symlink(target.name, target)  # points at itself
    return target


def _folder(folder: Path, stem: str) -> Path:
    target = folder / f"{stem}.yaml"
    target.mkdir()
    return target


def _laughs(folder: Path, stem: str) -> Path:
    """Nine levels of ten aliases each: a billion values once expanded."""
    target = folder / f"{stem}.yaml"
    lines = ["a0: &a0 [x, x, x, x, x, x, x, x, x, x]"]
    lines += [f"a{i}: &a{i} [{', '.join([f'*a{i - 1}'] * 10)}]" for i in range(1, 10)]
    target.write_text("\n".join(lines) + "\n")
    return target


def _huge(folder: Path, stem: str) -> Path:
    target = folder / f"{stem}.yaml"
    with open(target, "wb") as f:  # sparse: no 5 MB written to the disk
        f.truncate(MAX_BYTES + 1)
    return target


def _fifo(folder: Path, stem: str) -> Path:
    target = folder / f"{stem}.yaml"
    os.mkfifo(target)  # reading it would wait forever for a writer
    return target


GENERATED: dict[str, Maker] = {"deep": _deep, "symlink-loop": _loop, "folder": _folder,
                               "aliases": _laughs, "huge": _huge, "fifo": _fifo}


def _cases(kind: str) -> list[tuple[str, Maker]]:
    files = sorted(p.name for p in (HERE / kind).glob("*.yaml"))
    return [(name.removesuffix(".yaml"), _copy(kind, name)) for name in files] + sorted(
        GENERATED.items())


PROFILES = _cases("profiles")
RULE_SETS = _cases("rules")
SCHEDULES = _cases("schedules")


def _invoke(*args: str) -> tuple[int, str, str]:
    result = CliRunner().invoke(cli, list(args), catch_exceptions=False)
    return result.exit_code, result.stdout, result.stderr


def _one_line(code: int, out: str, err: str, path: Path, exit_code: int = 2) -> None:
    assert "Traceback" not in out + err, out + err
    assert code == exit_code, (code, out, err)
    lines = err.splitlines()
    assert len(lines) == 1, err
    assert lines[0].startswith("Error: "), err
    assert str(path) in lines[0] or path.name in lines[0], err


def _usage_or_one_line(code: int, out: str, err: str, path: Path) -> None:
    """A symlink loop or a folder can be refused by Click's own path check first: its
    usage error is exit 2 too, and names the path."""
    if err.startswith("Usage:"):
        assert code == 2 and "Traceback" not in out + err and path.name in err, err
    else:
        _one_line(code, out, err, path)


# -- profiles ----------------------------------------------------------------------------

@pytest.mark.parametrize(("name", "make"), PROFILES, ids=[n for n, _ in PROFILES])
def test_profile_loaders(tmp_path: Path, name: str, make: Maker) -> None:
    path = make(tmp_path, name)
    with pytest.raises(ConfigError) as one:
        load_profile(path)
    assert len(one.value.problems) == 1, one.value.problems
    assert one.value.problems[0].startswith(f"{path}"), one.value.problems
    with pytest.raises(ConfigError) as every:
        load_profiles([tmp_path])
    assert every.value.problems == one.value.problems


@pytest.mark.parametrize(("name", "make"), PROFILES, ids=[n for n, _ in PROFILES])
def test_profile_commands(tmp_path: Path, name: str, make: Maker) -> None:
    folder = tmp_path / "profiles"
    folder.mkdir()
    path = make(folder, name)
    db = str(tmp_path / "store.db")
    for args in (["marketplaces", "list"],
                 ["marketplaces", "check", name, "--keyword", "acme"],
                 ["crawl", "--campaign", "c", "--keyword", "acme", "--marketplace", name,
                  "--db", db],
                 ["sweep", "--brand", "acme", "--rules", str(RULES), "--db", db]):
        _one_line(*_invoke(*args, "--marketplaces", str(folder)), path)
    assert not Path(db).exists()  # nothing was swept


# -- rule sets ---------------------------------------------------------------------------

@pytest.mark.parametrize(("name", "make"), RULE_SETS, ids=[n for n, _ in RULE_SETS])
def test_rule_set_loaders(tmp_path: Path, name: str, make: Maker) -> None:
    path = make(tmp_path, "acme")
    with pytest.raises(ConfigError) as info:
        loader.load(path)
    assert all(p.startswith(str(path)) for p in info.value.problems), info.value.problems
    checked = loader.check(path)
    assert checked.errors and checked.ruleset is None


@pytest.mark.parametrize(("name", "make"), RULE_SETS, ids=[n for n, _ in RULE_SETS])
def test_rule_set_commands(tmp_path: Path, name: str, make: Maker) -> None:
    path = make(tmp_path, "acme")
    db = str(tmp_path / "store.db")
    code, out, err = _invoke("sweep", "--brand", "acme", "--rules", str(path), "--db", db)
    _usage_or_one_line(code, out, err, path)
    # documented: problems on stdout, exit 1 (a folder is read as a folder of rule sets)
    for command in ("check", "test") if not path.is_dir() else ():
        code, out, err = _invoke("rules", command, str(path))
        if err.startswith("Usage:"):
            _usage_or_one_line(code, out, err, path)
            continue
        assert code == 1 and "Traceback" not in out + err, (code, out, err)
        assert str(path) in out, out
    assert not Path(db).exists()


# -- schedules ---------------------------------------------------------------------------

@pytest.mark.parametrize(("name", "make"), SCHEDULES, ids=[n for n, _ in SCHEDULES])
def test_schedule_loader(tmp_path: Path, name: str, make: Maker) -> None:
    path = make(tmp_path, "schedule")
    with pytest.raises(ConfigError) as info:
        schedule.load(path)
    assert all(p.startswith(str(path)) for p in info.value.problems), info.value.problems


@pytest.mark.parametrize(("name", "make"), SCHEDULES, ids=[n for n, _ in SCHEDULES])
def test_schedule_commands(tmp_path: Path, name: str, make: Maker) -> None:
    path = make(tmp_path, "schedule")
    tab = tmp_path / "crontab"
    for args in (["schedule", "install", "--file", str(path), "--tabfile", str(tab)],
                 ["schedule", "run", "acme", "--file", str(path)]):
        _usage_or_one_line(*_invoke(*args), path)
    assert not tab.exists()


# -- a few as real processes -------------------------------------------------------------

@pytest.mark.parametrize(("kind", "name"), [("profiles", "card-css"), ("profiles", "binary"),
                                            ("profiles", "deep"), ("rules", "bad-regex"),
                                            ("schedules", "latin1")])
def test_as_a_real_process(tmp_path: Path, kind: str, name: str) -> None:
    folder = tmp_path / "in"
    folder.mkdir()
    stem = {"profiles": name, "rules": "acme", "schedules": "schedule"}[kind]
    make = dict({"profiles": PROFILES, "rules": RULE_SETS, "schedules": SCHEDULES}[kind])
    path = make[name](folder, stem)
    args = {"profiles": ["marketplaces", "check", name, "--keyword", "x", "--marketplaces",
                         str(folder)],
            "rules": ["sweep", "--brand", "acme", "--rules", str(path), "--db",
                      str(tmp_path / "s.db")],
            "schedules": ["schedule", "install", "--file", str(path), "--tabfile",
                          str(tmp_path / "tab")]}[kind]
    env = {k: v for k, v in os.environ.items() if k != "BRANDSWEEP_DEBUG"}
    done = subprocess.run([SCRIPT, *args], capture_output=True, text=True, timeout=120,
                          env=env)
    _one_line(done.returncode, done.stdout, done.stderr, path)


# -- a store that cannot be used, for every command that takes --db ----------------------

def _db_commands() -> list[list[str]]:
    values = {"campaign": "c", "keywords": "acme", "marketplace_names": "bazaar",
              "brand": "acme", "listing_ref": "bazaar:1", "truth_path": str(HERE / "truth.jsonl"),
              "reason": "r", "notice_ids": "1", "notice_id": "1", "case_ids": "1",
              "case_id": "1"}
    out = []

    def walk(group: click.Group, prefix: list[str]) -> None:
        for name, command in sorted(group.commands.items()):
            if isinstance(command, click.Group):
                walk(command, [*prefix, name])
            elif name != "demo" and any(p.name == "db" for p in command.params):
                args = [*prefix, name]
                for p in command.params:
                    if p.required and isinstance(p, click.Argument):
                        args.append(values[str(p.name)])
                    elif p.required and isinstance(p, click.Option):
                        args += [p.opts[0], values[str(p.name)]]
                if args == ["notices", "export"]:
                    args.append("--all")
                out.append(args)
    walk(cli, [])
    return out


DB_COMMANDS = _db_commands()


def _bad_stores(tmp_path: Path) -> dict[str, Path]:
    text = tmp_path / "notes.db"
    text.write_text("these are my notes, not a database\n")
    png = tmp_path / "picture.db"
    png.write_bytes(b"\x89PNG\r\n\x1a\n" + b"\x00" * 64)
    folder = tmp_path / "folder.db"
    folder.mkdir()
    # /proc takes no new files, whoever asks (a chmod-ed folder stops no root user)
    loop = tmp_path / "loop.db"
    os.symlink(loop.name, loop)
    return {"text": text, "png": png, "folder": folder, "symlink-loop": loop,
            "unwritable": Path("/proc/brandsweep-test.db")}


@pytest.mark.parametrize("args", DB_COMMANDS, ids=[" ".join(a[:2]) for a in DB_COMMANDS])
def test_unusable_store(tmp_path: Path, args: list[str]) -> None:
    for kind, db in _bad_stores(tmp_path).items():
        code, out, err = _invoke(*args, "--db", str(db), "--rules", str(RULES)) \
            if "--rules" in _options(args) else _invoke(*args, "--db", str(db))
        if err.startswith("Usage:"):  # Click's own path checks (dir_okay, exists)
            assert kind in ("folder", "unwritable", "symlink-loop") and code == 2, err
            assert "Traceback" not in out + err and db.name in err, err
            continue
        _one_line(code, out, err, db)


def _options(args: list[str]) -> set[str]:
    command: click.Command = cli
    for part in args:
        if isinstance(command, click.Group) and part in command.commands:
            command = command.commands[part]
    return {o for p in command.params for o in getattr(p, "opts", [])}


def test_a_bug_of_ours_is_one_line_unless_debugging(monkeypatch: pytest.MonkeyPatch) -> None:
    @click.command("explode")
    @click.option("-v", "--verbose", count=True)
    def explode(verbose: int) -> None:
        raise KeyError("oops")

    cli.add_command(explode)
    try:
        code, out, err = _invoke("explode")
        assert code == 1 and "Traceback" not in out + err
        assert err.splitlines() == ["Error: internal error (KeyError: 'oops'); please report "
                                    "it, with the traceback that BRANDSWEEP_DEBUG=1 shows"]
        with pytest.raises(KeyError):
            _invoke("explode", "-v")
        monkeypatch.setenv("BRANDSWEEP_DEBUG", "1")
        with pytest.raises(KeyError):
            _invoke("explode")
    finally:
        del cli.commands["explode"]
