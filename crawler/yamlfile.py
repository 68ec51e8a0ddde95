"""Strict YAML for files people edit: duplicate keys rejected, every value keeps its line.

YAML 1.2 (ruamel.yaml's safe loader), so ``NO`` and ``off`` stay strings. Locations are
reported as ``path:line:col`` (1-based), the way editors and CI annotate them.

Every file a person hands us (profiles, rule sets and their list files, schedules) is
read through ``read_text`` first, so a file that cannot be read, is not a regular file,
is binary or not UTF-8, is larger than ``MAX_BYTES`` or nests deeper than ``MAX_DEPTH``
is one located ``ConfigError`` (exit 2), never a traceback from deep inside a parser.
"""

from __future__ import annotations

import difflib
import os
import re
import stat
import typing
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ValidationError
from ruamel.yaml import YAML
from ruamel.yaml.comments import CommentedMap, CommentedSeq
from ruamel.yaml.error import MarkedYAMLError, YAMLError
from ruamel.yaml.events import AliasEvent, CollectionEndEvent, CollectionStartEvent, ScalarEvent
from ruamel.yaml.reader import ReaderError

from crawler.exceptions import ConfigError

_ENV = re.compile(r"\$\{(?P<name>[A-Za-z_][A-Za-z0-9_]*)(?::-(?P<default>[^}]*))?\}")

# a hand-written profile or rule set is a few kB; a list file of terms may be large, but
# 5 MB is far beyond any real one and keeps a wrong file (a dump, an image) from being read
MAX_BYTES = 5 * 1024 * 1024
# ruamel builds documents recursively: a file nested thousands of levels deep would end in
# RecursionError; real files nest fewer than 10 levels
MAX_DEPTH = 100
# and aliases may not expand a document beyond this many values (scalars, counted with
# every alias written out): far above any real file, far below what hangs validation
MAX_VALUES = 1_000_000


def _position(text: str, offset: int) -> tuple[int, int]:
    """1-based (line, column) of character ``offset`` in ``text``."""
    before = text[:max(0, offset)]
    return before.count("\n") + 1, len(before) - (before.rfind("\n") + 1) + 1


def read_text(path: Path) -> str:
    """The UTF-8 text of a file a person wrote, or ``ConfigError`` saying what is wrong
    with it: missing or unreadable, not a regular file, too large, binary, not UTF-8."""
    try:
        info = os.stat(path)
    except OSError as exc:
        raise ConfigError([f"{path}: cannot read: {exc.strerror}; check the path"]) from exc
    if stat.S_ISDIR(info.st_mode):
        raise ConfigError([f"{path}: is a folder, not a file; name the file itself"])
    if not stat.S_ISREG(info.st_mode):  # a FIFO or device would block or never end
        raise ConfigError([f"{path}: is not a regular file; name a YAML or text file"])
    if info.st_size > MAX_BYTES:
        raise ConfigError([f"{path}: is {info.st_size / 1024 / 1024:.1f} MB, more than the "
                           f"{MAX_BYTES // 1024 // 1024} MB a configuration file may be; is "
                           "this the right file?"])
    try:
        with open(path, "rb") as f:
            raw = f.read(MAX_BYTES + 1)
    except OSError as exc:
        raise ConfigError([f"{path}: cannot read: {exc.strerror}; check its "
                           "permissions"]) from exc
    if len(raw) > MAX_BYTES:  # grew since stat
        raise ConfigError([f"{path}: is larger than the {MAX_BYTES // 1024 // 1024} MB a "
                           "configuration file may be; is this the right file?"])
    if raw.startswith((b"\xff\xfe", b"\xfe\xff")):
        raise ConfigError([f"{path}:1:1: is UTF-16 text: save it as UTF-8"])
    nul = raw.find(b"\0")
    if nul >= 0:
        line = raw.count(b"\n", 0, nul) + 1
        raise ConfigError([f"{path}:{line}: is a binary file (it holds NUL bytes), not "
                           "text; name the YAML or text file instead"])
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = raw.count(b"\n", 0, exc.start) + 1
        col = exc.start - (raw.rfind(b"\n", 0, exc.start) + 1) + 1
        raise ConfigError([f"{path}:{line}:{col}: byte {raw[exc.start]:#04x} is not UTF-8 "
                           "text: save the file as UTF-8"]) from exc
    return text.removeprefix("\ufeff")


def _check_shape(path: Path, yaml: YAML, text: str) -> None:
    """Walk the parser's events (an iterative state machine, unlike the composer) and
    stop at the first collection nested deeper than ``MAX_DEPTH``, or once aliases
    (``*name``) would expand the document beyond ``MAX_VALUES`` values: validation walks
    every alias as a copy, so a few nested ones ("billion laughs") would never finish."""
    open_ones: list[tuple[str | None, int]] = [(None, 0)]  # (anchor, values inside)
    anchored: dict[str, int] = {}
    total = 0
    for event in yaml.parse(text):
        mark = event.start_mark
        if isinstance(event, CollectionStartEvent):
            open_ones.append((event.anchor, 1))
            if len(open_ones) - 1 > MAX_DEPTH:
                raise ConfigError([f"{path}:{mark.line + 1}:{mark.column + 1}: nested more "
                                   f"than {MAX_DEPTH} levels deep; flatten it (real "
                                   "configuration files nest a few levels)"])
            continue
        if isinstance(event, CollectionEndEvent):
            anchor, size = open_ones.pop()
        elif isinstance(event, AliasEvent):
            anchor, size = None, anchored.get(str(event.anchor), 1)
            total += size
        elif isinstance(event, ScalarEvent):
            anchor, size = event.anchor, 1
            total += 1
        else:
            continue
        if anchor is not None:
            anchored[str(anchor)] = size
        parent_anchor, inside = open_ones[-1]
        open_ones[-1] = (parent_anchor, inside + size)
        if total > MAX_VALUES:
            raise ConfigError([f"{path}:{mark.line + 1}:{mark.column + 1}: aliases expand "
                               f"this document beyond {MAX_VALUES:,} values; write the "
                               "values out, or nest fewer aliases"])


def load(path: Path) -> Any:
    """Parse ``path``; raise ``ConfigError`` with the location of a syntax error (or of
    why the file cannot be read as YAML at all)."""
    yaml = YAML(typ="rt")  # round-trip keeps line/column on every mapping and sequence
    yaml.allow_duplicate_keys = False
    text = read_text(path)
    try:
        _check_shape(path, yaml, text)
        return yaml.load(text)
    except MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        where = f"{path}:{mark.line + 1}:{mark.column + 1}" if mark else str(path)
        problem = (exc.problem or exc.context or "invalid YAML").strip()
        if "duplicate key" in problem or "found duplicate key" in str(exc):
            problem = "duplicate key " + problem.split('"')[1] if '"' in problem else problem
            problem += ": each key may appear once; remove or rename one"
        elif "'\\t'" in problem:
            problem = "a tab character: YAML indents with spaces, never tabs; replace it"
        raise ConfigError([f"{where}: {problem}"]) from exc
    except ReaderError as exc:
        line, col = _position(text, exc.position)
        raise ConfigError([f"{path}:{line}:{col}: character {exc.character:#06x} is not "
                           "allowed in YAML: delete it"]) from exc
    except YAMLError as exc:
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else "invalid YAML"
        raise ConfigError([f"{path}:1:1: invalid YAML: {first}"]) from exc
    except RecursionError as exc:  # the depth check should make this unreachable
        raise ConfigError([f"{path}: nested too deeply to read; flatten it"]) from exc


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
        elif not loc and (m := re.match(r"([a-z_]+(?:\.[a-z_0-9]+)+): (.*)", msg)):
            # a check across fields names the one it is about: point at it
            loc, msg = tuple(m.group(1).split(".")), m.group(2)
        if len(loc) > 1 and _plain_string(doc, loc[:-1]):
            loc = loc[:-1]  # `title: h2` was read as `title: {css: h2}`: name `title`
        out.append(f"{where(path, doc, loc)}: {'.'.join(map(str, loc))}: {msg}"
                   if loc else f"{where(path, doc, loc)}: {msg}")
    return list(dict.fromkeys(out))


def _plain_string(root: Any, loc: tuple[int | str, ...]) -> bool:
    """True when the document holds a plain string at ``loc``."""
    node = root
    for key in loc:
        in_list = isinstance(node, list) and isinstance(key, int) and key < len(node)
        if in_list or (isinstance(node, dict) and key in node):
            node = node[key]
        else:
            return False
    return isinstance(node, str)


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
