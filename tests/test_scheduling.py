"""Scheduled sweeps as cron runs them: crontab entries, the job under ``env -i``, one
sweep per brand (exit 75), resuming after ``kill -9``, and the schedule file's errors."""

from __future__ import annotations

import json
import os
import random
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from crawler.cli import cli
from crawler.exceptions import ConfigError
from fixtures.faults import FaultSettings, parse_faults
from fixtures.server import FixtureServer

SCRIPT = str(Path(sys.executable).with_name("brandsweep"))


def cli_run(*args: str) -> tuple[int, str]:
    result = CliRunner().invoke(cli, list(args))
    return result.exit_code, result.output


def write_schedule(folder: Path, url: str) -> Path:
    path = folder / "schedule.yaml"
    path.write_text(f"""\
db: store.db
jobs:
  - name: acme-quick
    brands: [acme]
    cron: "15 */4 * * *"
    marketplaces: [bazaar, tradehub]
    max_pages: 1
    evidence: false
    env: {{BRANDSWEEP_FIXTURE_URL: "{url}"}}
  - name: velora-nightly
    brands: [velora]
    cron: "0 3 * * 1-5"
""")
    return path


def test_install_replaces_lists_and_removes_only_ours(tmp_path: Path) -> None:
    schedule = write_schedule(tmp_path, "http://127.0.0.1:1")
    tab = tmp_path / "crontab"
    tab.write_text("MAILTO=ops@example.com\n0 1 * * * /usr/bin/backup # nightly backup\n")
    for _ in range(2):  # a second install replaces, never duplicates
        code, out = cli_run("schedule", "install", "--file", str(schedule), "--tabfile",
                            str(tab))
        assert code == 0, out
    lines = tab.read_text().splitlines()
    assert lines[:2] == ["MAILTO=ops@example.com",
                         "0 1 * * * /usr/bin/backup # nightly backup"]
    ours = [line for line in lines if "# brandsweep:" in line]
    assert len(ours) == 2
    quick = next(line for line in ours if line.endswith(":acme-quick"))
    assert quick.startswith(f"15 */4 * * * cd {tmp_path} && BRANDSWEEP_FIXTURE_URL=")
    assert f"{sys.executable} -m crawler schedule run acme-quick --file {schedule}" in quick
    code, out = cli_run("schedule", "list", "--tabfile", str(tab), "--next", "2")
    assert code == 0 and out.count("next:") == 2 and "0 3 * * 1-5" in out
    code, out = cli_run("schedule", "remove", "--file", str(schedule), "--tabfile", str(tab))
    assert code == 0 and out.startswith("2 jobs removed")
    assert tab.read_text().splitlines() == lines[:2]


def test_the_installed_command_runs_a_sweep_under_env_i(tmp_path: Path) -> None:
    tab = tmp_path / "crontab"
    with FixtureServer(port=0, hard=False, seed=7) as server:
        schedule = write_schedule(tmp_path, server.url)
        assert cli_run("schedule", "install", "--file", str(schedule), "--tabfile",
                       str(tab))[0] == 0
        line = next(x for x in tab.read_text().splitlines() if x.endswith(":acme-quick"))
        command = line.split(" ", 5)[5].rsplit(" # ", 1)[0]
        done = subprocess.run(["env", "-i", "/bin/sh", "-c", command], capture_output=True,
                              text=True, timeout=300, cwd="/")
    assert done.returncode == 0, done.stderr
    assert done.stdout == ""  # cron mails stdout: nothing when all is well
    con = sqlite3.connect(tmp_path / "store.db")
    assert con.execute("select status, brand from sweeps").fetchall() == [("ok", "acme")]
    assert con.execute("select count(distinct marketplace) from listings").fetchone() == (2,)
    log = (tmp_path / "logs" / "acme-quick.log").read_text()
    assert "job acme-quick starts" in log and "acme: sweep 1 ok" in log
    assert (tmp_path / "logs" / "acme-quick-sweep-1.html").is_file()


def test_a_bad_schedule_file_is_reported_with_its_place(tmp_path: Path) -> None:
    path = tmp_path / "schedule.yaml"
    path.write_text("jobs:\n  - name: x\n    brands: [acme]\n    cron: '61 * * * *'\n"
                    "    max_page: 3\n")
    code, out = cli_run("schedule", "install", "--file", str(path), "--tabfile",
                        str(tmp_path / "tab"))
    assert code == 2
    assert f"{path}:4:5: jobs.0.cron: '61 * * * *' is not a five-field cron" in out
    assert f"{path}:5:5: jobs.0.max_page: unknown field 'max_page' (did you mean " \
           "'max_pages'?)" in out
    assert not (tmp_path / "tab").exists()
    code, out = cli_run("schedule", "run", "nope", "--file", str(path))
    assert code == 2


def sweep(server: FixtureServer, db: Path, *extra: str) -> subprocess.Popen[str]:
    env = dict(os.environ, BRANDSWEEP_FIXTURE_URL=server.url)
    return subprocess.Popen([SCRIPT, "sweep", "--brand", "velora", "--db", str(db),
                             "--no-evidence", "--json", *extra], env=env, text=True,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            start_new_session=True)


def wait_for(db: Path, sql: str, timeout: float = 60) -> None:
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        try:
            con = sqlite3.connect(db)
            if con.execute(sql).fetchone()[0]:
                return
        except sqlite3.OperationalError:
            pass  # not created yet
        time.sleep(0.1)
    raise AssertionError(f"timed out waiting for: {sql}")


@pytest.mark.browser
def test_a_second_sweep_of_the_brand_exits_75_and_a_killed_ones_lock_does_not_block(
        tmp_path: Path) -> None:
    db = tmp_path / "store.db"
    with FixtureServer(port=0, hard=False, seed=7, faults=parse_faults("slow"),
                       settings=FaultSettings(slow_seconds=2)) as server:
        first = sweep(server, db)
        wait_for(db, "select count(*) from sweeps where status = 'running'")
        second = sweep(server, db)
        _out, err = second.communicate(timeout=60)
        assert second.returncode == 75, err
        assert f"a sweep of velora is already running (pid {first.pid}, started 20" in err
        assert len(err.strip().splitlines()) == 1
        os.killpg(first.pid, signal.SIGKILL)
        first.wait()
        third = sweep(server, db, "--max-pages", "1")
        _out, err = third.communicate(timeout=300)
        assert third.returncode == 0, err


def snapshot(db: Path) -> dict[str, Any]:
    con = sqlite3.connect(db)
    return {
        "listings": sorted(con.execute(
            "select marketplace, listing_id, url, title, price, currency, seller, keywords "
            "from listings")),
        "evaluations": sorted(con.execute(
            "select marketplace, listing_id, score, stage, version from evaluations")),
        "cases": sorted(con.execute("select marketplace, listing_id, stage, status from "
                                    "cases")),
        "notice_items": sorted(con.execute("select program, marketplace, listing_id from "
                                           "notice_items")),
    }


@pytest.mark.browser
def test_kill_9_mid_sweep_then_the_next_run_completes_it(tmp_path: Path) -> None:
    rng = random.Random(11)
    with FixtureServer(port=0, hard=False, seed=7) as server:
        whole = tmp_path / "whole.db"
        done = sweep(server, whole)
        out, err = done.communicate(timeout=300)
        assert done.returncode == 0, err
        expected = snapshot(whole)

        db = tmp_path / "killed.db"
        # kill once at a random moment, once right after a marketplace finished
        first = sweep(server, db)
        wait_for(db, "select count(*) from sweeps where status = 'running'")
        time.sleep(rng.uniform(0.5, 3.0))
        os.killpg(first.pid, signal.SIGKILL)
        first.wait()
        second = sweep(server, db)
        wait_for(db, "select count(*) from sweep_progress where sweep_id = 2")
        os.killpg(second.pid, signal.SIGKILL)
        second.wait()

        last = sweep(server, db)
        out, err = last.communicate(timeout=300)
        assert last.returncode == 0, err
        summary = json.loads(out)
        assert summary["resumed"] == 2
        skipped = [m for m, h in summary["marketplaces"].items() if h.get("resumed")]
        assert skipped  # finished marketplaces are not swept again
    con = sqlite3.connect(db)
    assert con.execute("PRAGMA integrity_check").fetchone() == ("ok",)
    assert [r[0] for r in con.execute("select status from sweeps order by id")] == [
        "interrupted", "interrupted", "ok"]
    assert snapshot(db) == expected


# --- a careless or hostile schedule file -----------------------------------------------

def cron_runs(line: str, system: bool = False) -> str:
    """What cron hands to ``/bin/sh -c`` for a crontab line: the command after the five
    fields (and a system crontab's user), cut at the first unescaped ``%`` with ``\\%``
    turned into ``%`` (Vixie cron's do_command.c, as Debian's cron and cronie do it)."""
    cmd = line.split(" ", 6 if system else 5)[-1]
    out: list[str] = []
    escaped = False
    for ch in cmd:
        if escaped:
            if ch == "%":
                out[-1] = "%"
            else:
                out.append(ch)
            escaped = False
            continue
        if ch == "%":
            break
        out.append(ch)
        escaped = ch == "\\"
    return "".join(out)


def ours(tab: Path) -> list[str]:
    text = tab.read_bytes().decode("utf-8", "surrogateescape")
    return [line for line in text.split("\n") if "# brandsweep:" in line]


def test_a_hostile_env_key_is_a_located_error_with_every_other_problem(
        tmp_path: Path) -> None:
    path = tmp_path / "schedule.yaml"
    path.write_text('jobs:\n  - name: x\n    brands: [acme]\n    cron: "15 * * * *"\n'
                    '    env: {"Z;touch PWN;Y": x, OK: "a\\n* * * * * root touch PWN"}\n'
                    '  - name: y\n    brands: ["acme\\r"]\n    cron: "0 0 L * *"\n')
    tab = tmp_path / "crontab"
    tab.write_text("0 1 * * * /usr/bin/backup\n")
    code, out = cli_run("schedule", "install", "--file", str(path), "--tabfile", str(tab))
    assert code == 2
    assert len(out.strip().splitlines()) == 1
    assert f"{path}:5:11: jobs.0.env.Z;touch PWN;Y: 'Z;touch PWN;Y' is not an " \
           "environment variable name" in out
    assert f"{path}:5:31: jobs.0.env.OK: 'a\\n* * * * * root touch PWN' holds a newline" \
           in out
    assert f"{path}:7:14: jobs.1.brands.0: 'acme\\r' holds a carriage return" in out
    assert f"{path}:8:5: jobs.1.cron: '0 0 L * *' is not a five-field cron" in out
    assert tab.read_text() == "0 1 * * * /usr/bin/backup\n"
    assert not list(tmp_path.rglob("PWN"))


@pytest.mark.parametrize("where", ["crontab", "cron.d/brandsweep"])
def test_a_newline_in_the_schedule_folder_is_one_line_and_nothing_is_written(
        tmp_path: Path, where: str) -> None:
    folder = tmp_path / "x\n* * * * * root touch PWN"
    folder.mkdir()
    schedule = write_schedule(folder, "http://127.0.0.1:1")
    tab = tmp_path / where
    tab.parent.mkdir(exist_ok=True)
    tab.write_text("MAILTO=ops@example.com\n")
    for command in ("install", "remove"):
        code, out = cli_run("schedule", command, "--file", str(schedule), "--tabfile",
                            str(tab))
        assert code == 2, out
        assert out.splitlines() == [
            f"Error: {tmp_path}/x\\n* * * * * root touch PWN/schedule.yaml: the path of "
            "the schedule file holds a newline; cron cannot run a job from there: rename "
            "or move it"]
    assert tab.read_text() == "MAILTO=ops@example.com\n"
    code, out = cli_run("schedule", "run", "acme-quick", "--file", str(schedule))
    assert code == 2 and len(out.splitlines()) == 1


def test_a_line_break_that_slips_past_validation_is_caught_before_writing(
        tmp_path: Path) -> None:
    from crawler.exceptions import ConfigError, CrontabError
    from scheduling import crontab
    from scheduling.schedule import Job, Schedule

    tab = tmp_path / "crontab"
    tab.write_text("0 1 * * * /usr/bin/backup\n")
    schedule_file = tmp_path / "schedule.yaml"
    # built without validation, as a bug elsewhere might: the parse-back still refuses
    job = Job.model_construct(name="x", brands=["acme"], cron="15 * * * *",
                              env={"A": "1\n* * * * * root touch PWN"})
    with pytest.raises(CrontabError, match=r"^refusing to write .*crontab: it would have 3 "
                       r"lines, not the 1 kept and 1 of the schedule; .*nothing was "
                       "written$"):
        crontab.install(Schedule.model_construct(jobs=[job]), schedule_file, tab)
    with pytest.raises(ConfigError, match="the schedule has no jobs") as empty:
        crontab.install(Schedule.model_construct(jobs=[]), schedule_file, tab)
    assert empty.value.exit_code == 2
    assert tab.read_text() == "0 1 * * * /usr/bin/backup\n"
    schedule_file.write_text("jobs: []\n")
    code, out = cli_run("schedule", "install", "--file", str(schedule_file), "--tabfile",
                        str(tab))
    assert code == 2
    assert out == f"Error: {schedule_file}:1:1: jobs: the schedule has no jobs, so there is " \
                  "nothing to install; add one\n"
    assert tab.read_text() == "0 1 * * * /usr/bin/backup\n"


SPECIALS = {
    "DOLLAR": "$(touch PWN) ${HOME} `touch PWN`",
    "QUOTES": "it's \"quoted\"; touch PWN && touch PWN | touch PWN",
    "HASH": "a #b # c",
    "PERCENT": "100% 50%% %",
    "BACKSLASH": "\\ \\\\ \\% \\\\% end\\",
    "SPACES": "  tab\there  ",
    "EMPTY": "",
    "UNICODE": "Zoë ✓",
}


@pytest.mark.parametrize("where", ["crontab", "cron.d/brandsweep"])
def test_shell_and_cron_specials_reach_the_job_exactly(tmp_path: Path, where: str) -> None:
    folder = tmp_path / "50%off #1 it's"
    folder.mkdir()
    schedule = folder / "schedule.yaml"
    env = ", ".join(f"{k}: {json.dumps(v)}" for k, v in SPECIALS.items())
    schedule.write_text(f"jobs:\n  - name: j\n    brands: [acme]\n    cron: '0 0 * * 7'\n"
                        f"    env: {{{env}}}\n")
    tab = tmp_path / where
    tab.parent.mkdir(exist_ok=True)
    code, out = cli_run("schedule", "install", "--file", str(schedule), "--tabfile", str(tab))
    assert code == 0, out
    system = where.startswith("cron.d")
    [line] = ours(tab)
    user = __import__("pwd").getpwuid(os.getuid()).pw_name
    assert line.startswith(f"0 0 * * 0 {user} cd " if system else "0 0 * * 0 cd ")
    assert line.endswith(" # brandsweep:" + str(schedule).replace("%", "\\%") + ":j")
    shell = cron_runs(line, system)
    assert shell.endswith(f" # brandsweep:{schedule}:j")  # cron keeps the comment whole
    # the real shell, with only our Python swapped for `env`, to see what the job gets
    python = f"PYTHONSAFEPATH=1 {sys.executable} -m crawler schedule run j"
    assert python in shell
    done = subprocess.run(["env", "-i", "/bin/sh", "-c",
                           shell.replace(python, "PYTHONSAFEPATH=1 env -0; :")],
                          capture_output=True, cwd=tmp_path, check=True)
    got = dict(item.split("=", 1) for item in done.stdout.decode().split("\0") if item)
    assert {k: got.get(k) for k in SPECIALS} == SPECIALS
    assert got["PWD"] == str(folder) and got["PYTHONSAFEPATH"] == "1"
    assert not list(tmp_path.rglob("PWN"))
    code, out = cli_run("schedule", "list", "--tabfile", str(tab))
    assert code == 0 and out.splitlines()[0].startswith("j ")
    assert out.splitlines()[0].endswith(f"({schedule})")
    code, out = cli_run("schedule", "remove", "--file", str(schedule), "--tabfile", str(tab))
    assert code == 0 and out.startswith("1 job removed")
    assert tab.read_text() == ""


def test_other_lines_stay_byte_for_byte(tmp_path: Path) -> None:
    schedule = write_schedule(tmp_path, "http://127.0.0.1:1")
    tab = tmp_path / "crontab"
    others = (b'MAILTO="ops team@example.com"\n'
              b"garbage that python-crontab would disable\n"
              b"@daily /usr/bin/backup  # two blanks\n"
              b"# 5 5 * * * /usr/bin/off # brandsweep-like but not ours\n"
              b"0 1 * * * /usr/bin/caf\xe9 \xff\n")
    tab.write_bytes(others)
    for _ in range(2):
        assert cli_run("schedule", "install", "--file", str(schedule), "--tabfile",
                       str(tab))[0] == 0
    assert tab.read_bytes().startswith(others) and len(ours(tab)) == 2
    assert cli_run("schedule", "remove", "--all", "--tabfile", str(tab))[0] == 0
    assert tab.read_bytes() == others


def test_a_cron_d_file_cron_would_ignore_is_refused(tmp_path: Path) -> None:
    schedule = write_schedule(tmp_path, "http://127.0.0.1:1")
    tab = tmp_path / "cron.d" / "brandsweep.cron"
    code, out = cli_run("schedule", "install", "--file", str(schedule), "--tabfile", str(tab))
    assert code == 2
    assert "cron ignores files in cron.d whose names hold anything but letters" in out
    assert not tab.exists()


def test_your_crontab_through_the_crontab_program(tmp_path: Path,
                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    # the real crontab program would change this machine's crontab: a stand-in with the
    # same interface (-l lists, FILE installs) keeps one in a temporary file
    store = tmp_path / "installed"
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    program = bin_dir / "crontab"
    program.write_text(f"""#!/bin/sh
if [ "$1" = -l ]; then
  [ -f '{store}' ] || {{ echo "no crontab for $(id -un)" >&2; exit 1; }}
  exec cat '{store}'
fi
exec cp "$1" '{store}'
""")
    program.chmod(0o755)
    monkeypatch.setenv("PATH", f"{bin_dir}{os.pathsep}{os.environ['PATH']}")
    schedule = write_schedule(tmp_path, "http://127.0.0.1:1")
    code, out = cli_run("schedule", "install", "--file", str(schedule))
    assert code == 0, out
    assert "2 jobs installed in your crontab" in out
    assert len(ours(store)) == 2 and not store.read_text().split("\n")[0].startswith("#")
    code, out = cli_run("schedule", "list")
    assert code == 0 and out.count("next:") == 2
    store.write_text("0 1 * * * /usr/bin/backup\n" + store.read_text())
    code, out = cli_run("schedule", "remove", "--file", str(schedule))
    assert code == 0 and out.startswith("2 jobs removed from your crontab")
    assert store.read_text() == "0 1 * * * /usr/bin/backup\n"
    monkeypatch.setenv("PATH", str(tmp_path / "nowhere"))
    code, out = cli_run("schedule", "install", "--file", str(schedule))
    assert code == 1 and "no crontab program found" in out


def test_a_crawler_module_in_the_schedule_folder_is_not_run(tmp_path: Path) -> None:
    schedule = tmp_path / "schedule.yaml"
    schedule.write_text("jobs:\n  - name: j\n    brands: [nosuchbrand]\n"
                        "    cron: '0 0 * * *'\n    marketplaces: [nosuchmarket]\n")
    hijack = tmp_path / "crawler"
    hijack.mkdir()
    (hijack / "__init__.py").write_text(
        f"open({str(tmp_path / 'HIJACKED')!r}, 'w').close()\n")
    (hijack / "__main__.py").write_text("")
    tab = tmp_path / "crontab"
    assert cli_run("schedule", "install", "--file", str(schedule), "--tabfile",
                   str(tab))[0] == 0
    [line] = ours(tab)
    done = subprocess.run(["env", "-i", "/bin/sh", "-c", cron_runs(line)],
                          capture_output=True, text=True, timeout=300, cwd="/")
    assert done.returncode == 2, done.stdout + done.stderr  # the sweep: unknown brand
    assert not (tmp_path / "HIJACKED").exists()
    assert "job j starts" in (tmp_path / "logs" / "j.log").read_text()


CODE_ENV = ["PYTHONPATH", "PYTHONHOME", "PYTHONSTARTUP", "PYTHONSAFEPATH", "PYTHONINSPECT",
            "PYTHONEXECUTABLE", "PYTHONUSERBASE", "PYTHONNOUSERSITE", "PYTHONPLATLIBDIR",
            "PYTHONPYCACHEPREFIX", "LD_PRELOAD", "LD_LIBRARY_PATH", "LD_AUDIT", "BASH_ENV",
            "ENV", "PATH", "IFS", "SHELL", "PERL5LIB", "PERL5OPT", "NODE_OPTIONS",
            "PLAYWRIGHT_NODEJS_PATH", "BRANDSWEEP_CHROMIUM"]


def test_env_that_would_choose_the_code_the_job_runs_is_a_located_error(
        tmp_path: Path) -> None:
    # PYTHONPATH=. would undo PYTHONSAFEPATH: the schedule folder's crawler/__main__.py
    # would run in place of brandsweep
    hijack = tmp_path / "crawler"
    hijack.mkdir()
    (hijack / "__init__.py").write_text("")
    (hijack / "__main__.py").write_text(
        f"open({str(tmp_path / 'HIJACKED')!r}, 'w').close()\n")
    path = tmp_path / "schedule.yaml"
    path.write_text("jobs:\n  - name: j\n    brands: [acme]\n    cron: '0 0 * * *'\n"
                    '    env: {PYTHONPATH: ".", BRANDSWEEP_FIXTURE_URL: x, LD_PRELOAD: y}\n')
    tab = tmp_path / "crontab"
    code, out = cli_run("schedule", "install", "--file", str(path), "--tabfile", str(tab))
    assert code == 2
    assert len(out.strip().splitlines()) == 1
    assert f"{path}:5:11: jobs.0.env.PYTHONPATH: 'PYTHONPATH' would change which program " \
           "or code the job runs" in out
    assert f"{path}:5:55: jobs.0.env.LD_PRELOAD: 'LD_PRELOAD'" in out
    assert "BRANDSWEEP_FIXTURE_URL" not in out
    assert not tab.exists() and not (tmp_path / "HIJACKED").exists()


@pytest.mark.parametrize("name", CODE_ENV)
def test_each_code_choosing_env_name_is_refused(tmp_path: Path, name: str) -> None:
    from scheduling import schedule as schedule_file

    path = tmp_path / "schedule.yaml"
    path.write_text(f"jobs:\n  - name: j\n    brands: [acme]\n    cron: '0 0 * * *'\n"
                    f"    env: {{{name}: x}}\n")
    with pytest.raises(ConfigError, match=f"jobs.0.env.{name}: '{name}' would change"):
        schedule_file.load(path)


@pytest.mark.parametrize("cron", ["0 0 30 2 *", "0 0 31 4 *", "0 0 31 2,4,6,9,11 *"])
def test_a_cron_that_never_fires_is_a_located_error_and_nothing_is_written(
        tmp_path: Path, cron: str) -> None:
    path = tmp_path / "schedule.yaml"
    path.write_text(f"jobs:\n  - name: j\n    brands: [acme]\n    cron: '{cron}'\n")
    tab = tmp_path / "crontab"
    tab.write_text("0 1 * * * /usr/bin/backup\n")
    code, out = cli_run("schedule", "install", "--file", str(path), "--tabfile", str(tab))
    assert code == 2, out
    assert f"{path}:4:5: jobs.0.cron: '{cron}' never fires" in out
    assert "internal error" not in out
    assert tab.read_text() == "0 1 * * * /usr/bin/backup\n"


def test_a_cron_that_fires_only_on_february_29_is_accepted(tmp_path: Path) -> None:
    path = tmp_path / "schedule.yaml"
    path.write_text("jobs:\n  - name: leap\n    brands: [acme]\n    cron: '0 0 29 2 *'\n")
    code, out = cli_run("schedule", "install", "--file", str(path), "--tabfile",
                        str(tmp_path / "crontab"))
    assert code == 0, out
    assert "1 job installed in" in out


def test_list_shows_never_for_an_entry_that_never_fires(tmp_path: Path) -> None:
    # written by hand (or an older brandsweep): list must not crash on it
    tab = tmp_path / "crontab"
    tab.write_text("0 0 30 2 * true # brandsweep:/x/schedule.yaml:feb30\n")
    code, out = cli_run("schedule", "list", "--tabfile", str(tab))
    assert code == 0, out
    assert "feb30" in out and "next: never" in out and "1 job\n" in out


def test_a_fifo_or_device_tabfile_is_refused_without_hanging(tmp_path: Path) -> None:
    schedule = write_schedule(tmp_path, "http://127.0.0.1:1")
    fifo = tmp_path / "fifo"
    os.mkfifo(fifo)
    for tab in (fifo, Path("/dev/null")):  # a folder: Click refuses it (exit 2)
        for args in (["install", "--file", str(schedule)], ["list"],
                     ["remove", "--file", str(schedule)]):
            code, out = cli_run("schedule", *args, "--tabfile", str(tab))
            assert code == 2, (tab, args, out)
            assert out == f"Error: {tab}: the crontab file is not a regular file; name " \
                          "another one\n"


def test_a_symlinked_tabfile_is_refused_and_its_target_kept(tmp_path: Path) -> None:
    schedule = write_schedule(tmp_path, "http://127.0.0.1:1")
    real = tmp_path / "real-crontab"
    real.write_text("0 1 * * * /usr/bin/backup\n")
    link = tmp_path / "crontab"
    link.symlink_to(real)
    for args in (["install", "--file", str(schedule)], ["list"],
                 ["remove", "--file", str(schedule)]):
        code, out = cli_run("schedule", *args, "--tabfile", str(link))
        assert code == 2, out
        assert out == f"Error: {link}: the crontab file is a symlink (to {real}); name " \
                      "the real file\n"
    assert link.is_symlink() and real.read_text() == "0 1 * * * /usr/bin/backup\n"
    dangling = tmp_path / "dangling"
    dangling.symlink_to(tmp_path / "nowhere")
    code, out = cli_run("schedule", "install", "--file", str(schedule), "--tabfile",
                        str(dangling))
    assert code == 2 and "is a symlink" in out and not (tmp_path / "nowhere").exists()


def test_a_tabfile_in_a_missing_folder_is_refused(tmp_path: Path) -> None:
    schedule = write_schedule(tmp_path, "http://127.0.0.1:1")
    tab = tmp_path / "no" / "such" / "crontab"
    code, out = cli_run("schedule", "install", "--file", str(schedule), "--tabfile", str(tab))
    assert code == 2
    assert out == f"Error: {tab}: the crontab file's folder {tab.parent} does not exist; " \
                  "create it first\n"
    assert not (tmp_path / "no").exists()


def test_the_crontab_file_is_written_through_a_new_random_name(tmp_path: Path) -> None:
    schedule = write_schedule(tmp_path, "http://127.0.0.1:1")
    tab = tmp_path / "crontab"
    victim = tmp_path / "victim"
    victim.write_text("keep\n")
    (tmp_path / ".crontab.part").symlink_to(victim)  # the old predictable name
    code, out = cli_run("schedule", "install", "--file", str(schedule), "--tabfile", str(tab))
    assert code == 0, out
    assert victim.read_text() == "keep\n" and len(ours(tab)) == 2
    assert sorted(p.name for p in tmp_path.iterdir() if p.name.startswith(".")) == \
        [".crontab.part"]


@pytest.mark.parametrize("brand", ["../probe/trav", "acme/x", "Acme", "-acme", ".acme", ""])
def test_a_brand_that_is_not_a_rule_set_name_is_a_located_error(tmp_path: Path,
                                                                 brand: str) -> None:
    path = tmp_path / "schedule.yaml"
    path.write_text(f"jobs:\n  - name: j\n    brands: [ok-brand_2, '{brand}']\n"
                    "    cron: '0 0 * * *'\n")
    tab = tmp_path / "crontab"
    code, out = cli_run("schedule", "install", "--file", str(path), "--tabfile", str(tab))
    assert code == 2
    assert len(out.strip().splitlines()) == 1
    assert f"{path}:3:26: jobs.0.brands.1: {brand!r} is not a brand name" in out
    assert not tab.exists()


def test_one_job_is_one_job(tmp_path: Path) -> None:
    path = tmp_path / "schedule.yaml"
    path.write_text("jobs:\n  - name: j\n    brands: [acme]\n    cron: '0 0 * * *'\n")
    tab = tmp_path / "crontab"
    code, out = cli_run("schedule", "install", "--file", str(path), "--tabfile", str(tab))
    assert code == 0 and f"1 job installed in {tab}" in out
    code, out = cli_run("schedule", "list", "--tabfile", str(tab))
    assert code == 0 and out.endswith("\n1 job\n")
    code, out = cli_run("schedule", "remove", "--file", str(path), "--tabfile", str(tab))
    assert code == 0 and out == f"1 job removed from {tab}\n"
    code, out = cli_run("schedule", "remove", "--file", str(path), "--tabfile", str(tab))
    assert code == 0 and out == f"0 jobs removed from {tab}\n"


def test_a_redis_key_sends_the_jobs_sweeps_to_the_workers(tmp_path: Path) -> None:
    """``redis:`` (the schedule's, or a job's own; "" for a local sweep) reaches the
    sweep; a value that is not a Redis URL is a located error."""
    from scheduling import schedule as schedule_file

    path = tmp_path / "schedule.yaml"
    path.write_text("redis: redis://127.0.0.1:1/0\njobs:\n  - name: j\n    brands: [acme]\n"
                    "    cron: '0 0 * * *'\n  - name: local\n    brands: [acme]\n"
                    "    cron: '0 0 * * *'\n    redis: ''\n")
    loaded = schedule_file.load(path)
    assert loaded.redis == "redis://127.0.0.1:1/0"
    assert [j.redis for j in loaded.jobs] == [None, ""]
    code, out = cli_run("schedule", "run", "j", "--file", str(path))
    assert code == 2, out
    log = "\n".join(p.read_text() for p in (tmp_path / "logs").glob("*.log"))
    assert "Redis at redis://127.0.0.1:1/0 is unavailable" in log + out
    path.write_text("jobs:\n  - name: j\n    brands: [acme]\n    cron: '0 0 * * *'\n"
                    "    redis: http://127.0.0.1:6379\n")
    with pytest.raises(ConfigError, match=r"schedule.yaml:5:\d+: jobs.0.redis"):
        schedule_file.load(path)
