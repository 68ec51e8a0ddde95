"""README documents every command, option and fault; a new one without docs fails here."""

from __future__ import annotations

from pathlib import Path

import click
import pytest

from crawler.cli import cli
from fixtures.__main__ import main as fixtures_cli
from fixtures.faults import FAULTS

README = (Path(__file__).parent.parent / "README.md").read_text()


def _commands(group: click.Group, prefix: str) -> list[tuple[str, click.Command]]:
    out = []
    for name, command in sorted(group.commands.items()):
        out.append((f"{prefix} {name}", command))
        if isinstance(command, click.Group):
            out.extend(_commands(command, f"{prefix} {name}"))
    return out


ALL = _commands(cli, "brandsweep") + _commands(fixtures_cli, "python -m fixtures")


@pytest.mark.parametrize(("path", "command"), ALL, ids=[p for p, _ in ALL])
def test_command_and_options_documented(path: str, command: click.Command) -> None:
    assert f"`{path}" in README, f"README has no section for `{path}`"
    for param in command.params:
        for opt in getattr(param, "opts", []):
            if opt.startswith("--") and opt != "--help":
                assert opt in README, f"{path} {opt} is not in README"


@pytest.mark.parametrize("fault", FAULTS)
def test_fault_documented(fault: str) -> None:
    assert f"| `{fault}` |" in README


def test_readme_starts_with_the_two_commands() -> None:
    first_block = README.split("```sh\n", 1)[1].split("```", 1)[0]
    assert first_block == "make demo\nmake test\n"


@pytest.mark.parametrize("code", ["0", "1", "2", "3", "75"])
def test_exit_codes_documented(code: str) -> None:
    assert f"| {code} |" in README


ROOT = Path(__file__).parent.parent
ARCHITECTURE = README.split("## Architecture", 1)[1].split("\n## ", 1)[0]
FOLDERS = sorted(p.parent.relative_to(ROOT).as_posix()
                 for p in (ROOT / "crawler").glob("*/__init__.py"))


@pytest.mark.parametrize("folder", FOLDERS)
def test_architecture_describes_every_folder(folder: str) -> None:
    assert f"`{folder}/`" in ARCHITECTURE or f"`{folder.split('/')[-1]}/`" in ARCHITECTURE


def test_architecture_names_only_what_exists() -> None:
    import re

    named = re.findall(r"`([a-z_]+(?:/[a-z_*.]+)*(?:/|\.py|\.yaml))`", ARCHITECTURE)
    assert len(named) > 20
    for name in named:
        if "*" in name:
            name = name.split("*")[0]
        name = name.rstrip("/")
        places = [ROOT / name, ROOT / "crawler" / name, *(ROOT / "crawler").glob(f"*/{name}")]
        assert any(p.exists() for p in places), f"README Architecture names {name}"
