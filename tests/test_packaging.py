"""A wheel built from the tree works where nothing of the tree is: installed into a fresh
virtualenv, run from an empty folder, it finds its shipped profiles and rule sets as
package data."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def _run(*args: str | Path, cwd: Path, timeout: float = 600) -> str:
    env = {k: v for k, v in os.environ.items()
           if k not in ("BRANDSWEEP_RULES", "VIRTUAL_ENV", "PYTHONPATH")}
    done = subprocess.run([str(a) for a in args], cwd=cwd, env=env, capture_output=True,
                          text=True, timeout=timeout)
    assert done.returncode == 0, f"{args}: {done.stdout}\n{done.stderr}"
    return done.stdout


def test_a_wheel_in_a_fresh_venv_lists_marketplaces_and_checks_rules(tmp_path: Path) -> None:
    dist, venv, empty = tmp_path / "dist", tmp_path / "venv", tmp_path / "empty"
    empty.mkdir()
    _run(sys.executable, "-m", "pip", "wheel", "-q", "--no-deps", "-w", dist, ROOT,
         cwd=tmp_path)
    wheel, = dist.glob("brandsweep-*.whl")
    _run(sys.executable, "-m", "venv", venv, cwd=tmp_path)
    _run(venv / "bin" / "pip", "install", "-q", "--disable-pip-version-check", wheel,
         cwd=tmp_path)
    script = venv / "bin" / "brandsweep"
    listed = _run(script, "marketplaces", "list", cwd=empty)
    for name in ("bazaar", "megamart", "shopfront", "tradehub"):
        assert f"{name} " in listed and str(venv) in listed
    checked = _run(script, "rules", "check", cwd=empty)
    assert "acme.yaml: ok" in checked and "velora.yaml: ok" in checked
    assert "0 error(s)" in checked and str(venv) in checked
    assert ROOT.as_posix() not in listed + checked  # nothing read from the tree
