"""The store is the data layer: no module outside ``crawler/store/`` holds SQL or reaches
for the SQLite connection. Tests, fixtures and benches may (they build stores by hand)."""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
CHECKED = ("crawler", "spiders", "scheduling")
STORE = ROOT / "crawler" / "store"

# SQL as statements are written, not as prose: a column list of names and commas before
# ``from``, a table name then ``(`` or ``set name =``; compared in lower case
SQL = re.compile(
    r"\bselect\s+(?:distinct\s+)?(?:[\w.*]+|count\(\*\))(?:\s+as\s+\w+)?"
    r"(?:\s*,\s*[\w.*()]+(?:\s+as\s+\w+)?)*\s+from\s+[\w\[]"
    r"|\binsert\s+(?:or\s+\w+\s+)?into\s+\[?\w+\]?\s*[(\s]"
    r"|\bupdate\s+\[?\w+\]?\s+set\s+\w+\s*="
    r"|\bdelete\s+from\s+\[?\w+\]?(?:\s+where\b|\s*$)"
    r"|\bcreate\s+(?:unique\s+)?(?:table|index|view|trigger)\s+(?:if\s+not\s+exists\s+)?\w+"
    r"|\bpragma\s+\w+\s*(?:=|\(|$)"
    r"|\bwith\s+\w+(?:\([\w\s,]*\))?\s+as\s+\(\s*(?:select|values)\b")
# what a sqlite3 / sqlite_utils connection is used through
CURSOR_CALLS = {"execute", "executemany", "executescript"}
DATABASE_API = {"query", "execute", "executescript", "table", "rows_where", "table_names",
                "view_names", "conn", "enable_wal", "vacuum", "attach", "create_view",
                "create_table", "enable_fts"}
DRIVERS = {"sqlite3", "sqlite_utils", "apsw"}


def _docstrings(tree: ast.AST) -> set[int]:
    """ids of the string nodes that are docstrings (prose, not code)."""
    out = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Module | ast.ClassDef | ast.FunctionDef |
                      ast.AsyncFunctionDef) and node.body:
            first = node.body[0]
            if isinstance(first, ast.Expr) and isinstance(first.value, ast.Constant):
                out.add(id(first.value))
    return out


def _strings(tree: ast.AST) -> list[tuple[int, str]]:
    """(line, text) of every string literal but docstrings; an f-string's placeholders
    become ``x`` so the SQL around them reads whole."""
    skip = _docstrings(tree)
    out = []
    inside_fstrings = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.JoinedStr):
            parts = []
            for value in node.values:
                inside_fstrings.add(id(value))
                parts.append(value.value if isinstance(value, ast.Constant) and
                             isinstance(value.value, str) else "x")
            out.append((node.lineno, "".join(parts)))
    for node in ast.walk(tree):
        if isinstance(node, ast.Constant) and isinstance(node.value, str) and \
                id(node) not in skip and id(node) not in inside_fstrings:
            out.append((node.lineno, node.value))
    return out


def _is_db(node: ast.expr) -> bool:
    return (isinstance(node, ast.Attribute) and node.attr == "db") or \
        (isinstance(node, ast.Name) and node.id == "db")


def violations(source: str, name: str = "<source>") -> list[str]:
    """Each place in ``source`` that holds SQL or uses a database connection."""
    tree = ast.parse(source, name)
    found = []
    for line, text in _strings(tree):
        if SQL.search(" ".join(text.lower().split())):
            found.append(f"{name}:{line}: SQL in a string: {text.strip()[:60]!r}")
    for node in ast.walk(tree):
        where = f"{name}:{getattr(node, 'lineno', 0)}"
        if isinstance(node, ast.Attribute) and node.attr == "conn":
            found.append(f"{where}: a database connection (.conn)")
        elif isinstance(node, ast.Attribute) and node.attr in DATABASE_API and \
                _is_db(node.value):
            found.append(f"{where}: the database's own API (.db.{node.attr})")
        elif isinstance(node, ast.Subscript) and _is_db(node.value):
            found.append(f"{where}: a table through the database (db[...])")
        elif isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and \
                node.func.attr in CURSOR_CALLS and (node.args or node.keywords):
            found.append(f"{where}: a statement run (.{node.func.attr}(...))")
        elif isinstance(node, ast.Import | ast.ImportFrom):
            names = [a.name for a in node.names] if isinstance(node, ast.Import) else \
                [node.module or ""]
            if any(n.split(".")[0] in DRIVERS for n in names):
                found.append(f"{where}: imports a database driver ({', '.join(names)})")
    return found


def _modules() -> list[Path]:
    return sorted(p for top in CHECKED for p in (ROOT / top).rglob("*.py")
                  if not p.is_relative_to(STORE))


def test_no_sql_outside_the_store() -> None:
    modules = _modules()
    assert len(modules) > 50  # the walk found the code
    found = [v for p in modules
             for v in violations(p.read_text(encoding="utf-8"), str(p.relative_to(ROOT)))]
    assert found == [], "SQL belongs in crawler/store/ (a function of the table group's " \
        "module):\n" + "\n".join(found)


def test_the_store_itself_is_where_the_sql_is() -> None:
    # the check finds SQL where it is, so an empty result above means something
    found = [v for p in sorted(STORE.glob("*.py"))
             for v in violations(p.read_text(encoding="utf-8"), p.name)]
    assert any("SQL in a string" in v for v in found)
    assert any(".conn" in v for v in found)


@pytest.mark.parametrize("code", [
    'rows = store.db.query("select id, status from cases where id = ?", [1])',
    'conn.execute("select c.*, l.title from cases c join listings l on l.id = c.id")',
    'sql = ("select count(*) from cases c "\n       "where c.brand = ?")',
    'sql = f"select {column} from evidence where case_id = ?"',
    'store.db.conn.execute("x", [])',
    'cur.executemany(SQL, rows)',
    'x = "insert or ignore into images (sha256, url) values (?, ?)"',
    'x = "update cases set status = ?, updated_at = ? where id = ?"',
    'x = "delete from seller_networks where brand = ?"',
    'x = "PRAGMA wal_checkpoint(PASSIVE)"',
    'x = "create index if not exists idx on cases (status)"',
    'x = "with k(m, l) as (values (?, ?)) select t.a from t join k on t.m = k.m"',
    'rows = db["listings"].rows',
    'n = store.db.table_names()',
    'import sqlite3',
    'from sqlite_utils import Database',
])
def test_sql_and_connections_are_found(code: str) -> None:
    assert violations(code), code


@pytest.mark.parametrize("code", [
    '"""Select the cases from the queue and update the store: delete from it nothing."""',
    'def f():\n    """select id, status from cases where id = ?"""',
    'raise UnknownCase("no case 3; `brandsweep review list` shows the cases")',
    'msg = "select one of the marketplaces from the list, then update the profile"',
    'raw, queued, leased = pipe.execute()',  # a Redis pipeline, not SQL
    'close = index.query(hashes[sha], 10, limit=3)',  # the photo hash index
    'path = bench.db.resolve()',  # a Path named db
    'x = "--db names the store\'s file"',
])
def test_prose_and_other_apis_are_not_sql(code: str) -> None:
    assert violations(code) == [], code
