"""Strict YAML for files people edit: duplicate keys rejected, every value keeps its line.

YAML 1.2 (ruamel.yaml's safe loader), so ``NO`` and ``off`` stay strings. Locations are
reported as ``path:line:col`` (1-based), the way editors and CI annotate them.
"""

from __future__ import annotations

import os
import re
from pathlib import Path
from typing import Any

from ruamel.yaml import YAML
from ruamel.yaml.comments import CommentedMap, CommentedSeq
from ruamel.yaml.error import MarkedYAMLError

from crawler.exceptions import ConfigError

_ENV = re.compile(r"\$\{(?P<name>[A-Za-z_][A-Za-z0-9_]*)(?::-(?P<default>[^}]*))?\}")


def load(path: Path) -> Any:
    """Parse ``path``; raise ``ConfigError`` with the location of a syntax error."""
    yaml = YAML(typ="rt")  # round-trip keeps line/column on every mapping and sequence
    yaml.allow_duplicate_keys = False
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise ConfigError([f"{path}: cannot read: {exc.strerror}"]) from exc
    try:
        return yaml.load(text)
    except MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        where = f"{path}:{mark.line + 1}:{mark.column + 1}" if mark else str(path)
        problem = (exc.problem or exc.context or "invalid YAML").strip()
        if "duplicate key" in problem or "found duplicate key" in str(exc):
            problem = "duplicate key " + problem.split('"')[1] if '"' in problem else problem
            problem += ": each key may appear once; remove or rename one"
        raise ConfigError([f"{where}: {problem}"]) from exc


def locate(root: Any, loc: tuple[int | str, ...]) -> tuple[int, int] | None:
    """The 1-based (line, column) of the value at ``loc`` in a loaded document."""
    node = root
    best: tuple[int, int] | None = None
    for key in loc:
        if isinstance(node, CommentedMap) and key in node:
            line, col = node.lc.key(key)
            best = (line + 1, col + 1)
            node = node[key]
        elif isinstance(node, CommentedSeq) and isinstance(key, int) and key < len(node):
            line, col = node.lc.item(key)
            best = (line + 1, col + 1)
            node = node[key]
        else:
            break
    if best is None and isinstance(root, CommentedMap | CommentedSeq):
        best = (root.lc.line + 1, root.lc.col + 1)
    return best


def where(path: Path, root: Any, loc: tuple[int | str, ...]) -> str:
    """``path:line:col`` for the value at ``loc`` (as close as the document allows)."""
    pos = locate(root, loc)
    return f"{path}:{pos[0]}:{pos[1]}" if pos else str(path)


def interpolate(value: str, env: dict[str, str] | None = None) -> str:
    """Expand ``${NAME}`` and ``${NAME:-default}`` from the environment."""
    env = dict(os.environ) if env is None else env

    def sub(m: re.Match[str]) -> str:
        found = env.get(m["name"])
        if found:
            return found
        if m["default"] is not None:
            return m["default"]
        raise KeyError(m["name"])

    return _ENV.sub(sub, value)
