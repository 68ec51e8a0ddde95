"""Strict YAML for files people edit: duplicate keys rejected, every value keeps its line.

YAML 1.2 (ruamel.yaml's safe loader), so ``NO`` and ``off`` stay strings. Locations are
reported as ``path:line:col`` (1-based), the way editors and CI annotate them.
"""

from __future__ import annotations

import difflib
import os
import re
import typing
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ValidationError
from ruamel.yaml import YAML
from ruamel.yaml.comments import CommentedMap, CommentedSeq
from ruamel.yaml.error import MarkedYAMLError, YAMLError
from ruamel.yaml.reader import ReaderError

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
    except ReaderError as exc:
        before = text[:max(0, exc.position)]
        line, col = before.count("\n") + 1, len(before) - (before.rfind("\n") + 1) + 1
        raise ConfigError([f"{path}:{line}:{col}: character {exc.character:#06x} is not "
                           "allowed in YAML: delete it"]) from exc
    except YAMLError as exc:
        raise ConfigError([f"{path}:1:1: invalid YAML: {exc}"]) from exc


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


def hint(name: str, choices: typing.Iterable[str]) -> str:
    """`` (did you mean 'x'?)`` for the closest of ``choices``, or nothing."""
    close = difflib.get_close_matches(name, list(choices), n=1)
    return f" (did you mean {close[0]!r}?)" if close else ""


def problems(path: Path, doc: Any, exc: ValidationError, model: type[BaseModel]
             ) -> list[str]:
    """Every pydantic error as ``path:line:col: field.path: message``, with hints."""
    out = []
    for err in exc.errors():
        # pydantic adds tagged-union member names like 'list[str]' or 'function-after[...]'
        loc = tuple(p for p in err["loc"] if not (isinstance(p, str) and "[" in p))
        msg = err["msg"].removeprefix("Value error, ")
        if err["type"] == "extra_forbidden":
            allowed = _fields_at(model, loc[:-1])
            msg = f"unknown field {loc[-1]!r}{hint(str(loc[-1]), allowed)}"
        elif (m := re.search(r"unknown listing field '([^']+)'", msg)) is not None:
            loc = (*loc, m.group(1))  # point at the field's own line
        elif err["type"] == "missing":
            msg = f"missing required field {loc[-1]!r}"
            loc = loc[:-1]
        out.append(f"{where(path, doc, loc)}: {'.'.join(map(str, loc))}: {msg}"
                   if loc else f"{where(path, doc, loc)}: {msg}")
    return list(dict.fromkeys(out))


def _models_in(annotation: Any) -> tuple[type[BaseModel] | None, bool]:
    """The pydantic model inside an annotation, and whether it sits in a dict's values."""
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return annotation, False
    origin = typing.get_origin(annotation)
    for arg in typing.get_args(annotation):
        model, keyed = _models_in(arg)
        if model is not None:
            return model, keyed or origin is dict
    return None, False


def _fields_at(model: type[BaseModel], loc: tuple[Any, ...]) -> list[str]:
    """The field names allowed at ``loc`` inside ``model`` (for did-you-mean hints)."""
    current: type[BaseModel] | None = model
    skip_key = False
    for part in loc:
        if isinstance(part, int) or current is None:
            continue
        if skip_key:
            skip_key = False
            continue
        info = current.model_fields.get(str(part)) or next(
            (f for f in current.model_fields.values() if f.alias == part), None)
        current, skip_key = _models_in(getattr(info, "annotation", None))
    if current is None:
        return []
    return [f.alias or name for name, f in current.model_fields.items()]
