"""SQL is written by the ORM or sent with bound parameters, never built from values.

Two nets over ``backend/``, ``realtime/`` and ``db/`` (migrations aside: fixed DDL written
by Piccolo):

- ruff's S608 (flake8-bandit: SQL built with f-strings, ``%``, ``.format`` or ``+``) stays
  switched on for them in ``pyproject.toml``, so ``make lint`` fails on a new case;
- this module's own walk of the syntax trees, which also catches what S608 does not (an
  f-string of DDL such as ``CREATE DATABASE``, SQL that does not start with its verb).

Each place that joins SQL text at run time is listed in ``REVIEWED`` with why it is safe; a
new one fails here until it is reviewed and listed (or, better, rewritten with ``db.sql``'s
named ``{name}`` parameters).
"""

from __future__ import annotations

import ast
import json
import re
import subprocess
import sys
import tomllib
from pathlib import Path

from tests.servers import ROOT

CHECKED = ("backend", "realtime", "db")
RUFF = str(Path(sys.executable).with_name("ruff"))
SQL_WORDS = re.compile(
    r"\b(SELECT|INSERT|UPDATE|DELETE|CREATE|ALTER|DROP|TRUNCATE|LOCK|WITH|WHERE|FROM)\b"
)

# (file, function) -> why the text joined there cannot carry a value.
REVIEWED = {
    ("backend/push/scheduled_kinds.py", "<module>"): (
        "joins backend.loyalty.expiring_soon's fixed EXPIRING_DAYS with its own fixed SELECT; "
        "every value is a bound {name}"
    ),
    ("backend/partners/expiring.py", "<module>"): (
        "joins backend.loyalty.expiring_soon's fixed EXPIRING_DAYS with its own fixed SELECT; "
        "every value is a bound {name}"
    ),
    ("backend/deliveries/feed.py", "_statements"): (
        "joins the feed's mark and position table names, one of two fixed names each "
        "(the Literal types Marks and Positions, given by the feeds' module constants); "
        "every value is a bound {name}"
    ),
    ("backend/campaigns/telling.py", "audience_window"): (
        "joins campaigns.live's fixed AUDIENCE_FROM and audience_conditions' fixed fragments "
        "with its own fixed window; every value is a bound {name}"
    ),
    ("backend/campaigns/drafts.py", "check_draft"): (
        "counts over campaigns.live's fixed AUDIENCE_FROM and audience_conditions' fixed "
        "fragments; values are bound"
    ),
    ("backend/streams/member.py", "each_statement"): (
        "puts campaigns.telling.audience_window's fixed SQL into a fixed statement; values "
        "are bound"
    ),
    ("backend/loyalty/tiers.py", "<module>"): (
        "puts the fixed QUALIFYING_SPEND expression into fixed statements; values are bound"
    ),
    ("backend/sales/sale.py", "<module>"): (
        "puts backend.loyalty.tiers' fixed QUALIFYING_SPEND into the fixed BUYER_COLUMNS, and "
        "those into the fixed _LOCK_BUYER; values are bound"
    ),
    ("backend/campaigns/usage.py", "<module>"): (
        "puts its own fixed USAGE_COLUMN into the fixed _USAGE; the member's id is bound"
    ),
    ("backend/till/purchases.py", "<module>"): (
        "puts backend.sales.sale's fixed BUYER_COLUMNS into the fixed _WHAT_IS_KNOWN; values "
        "are bound"
    ),
    ("backend/till/checkout_rows.py", "<module>"): (
        "puts its fixed LOCK_CHECKOUT and backend.sales.sale's fixed BUYER_COLUMNS into the "
        "fixed LOCK_ACCOUNT and LOCK_BUYER; values are bound"
    ),
    ("backend/till/checkout_rows.py", "sent"): (
        "joins db.deferred's WITH items (its callers' fixed templates, parameters renamed) "
        "with a fixed SELECT; values are bound"
    ),
    ("backend/loyalty/ledger.py", "<module>"): (
        "puts MEMBERS.insert's fixed WITH item into the fixed _POST; values are bound"
    ),
    ("backend/loyalty/ledger.py", "_post_statement"): (
        "puts DeferredWrites.prefix()'s numbered CTE items before the fixed _POST; values are bound"
    ),
    ("backend/stores/figures.py", "<module>"): (
        "puts STORES.insert's fixed WITH item into the fixed _MOVE_DAY; values are bound"
    ),
    ("db/embedded.py", "start_embedded_postgres"): (
        "the database name matched _DB_NAME ([a-z_][a-z0-9_]*) first; psql takes no parameters"
    ),
    ("backend/streams/stream.py", "__init__"): (
        "joins the stream kind's fixed numbering statement and its insert item; values are bound"
    ),
    ("backend/streams/stream.py", "insert"): (
        "puts the kind's table and owner column and its callers' constant WITH item names into "
        "fixed SQL; values are bound"
    ),
}

# Migrations run their statements once, through Piccolo's run_ddl, which takes no parameters:
# the files that format something into one say what, and why it cannot carry a value.
REVIEWED_MIGRATIONS: dict[str, str] = {}


def python_files() -> list[Path]:
    return [
        path
        for folder in CHECKED
        for path in sorted((ROOT / folder).rglob("*.py"))
        if "migrations" not in path.parts
    ]


def _constant_text(node: ast.AST) -> str | None:
    if isinstance(node, ast.Constant) and isinstance(node.value, str):
        return node.value
    return None


def _concatenated(node: ast.AST, inner: set[int]) -> list[ast.AST]:
    """The operands of a chain of ``+``; the ids of the chain's own nodes go to ``inner``."""
    if isinstance(node, ast.BinOp) and isinstance(node.op, ast.Add):
        inner.add(id(node))
        return _concatenated(node.left, inner) + _concatenated(node.right, inner)
    return [node]


class BuiltSql(ast.NodeVisitor):
    """Finds SQL text joined with something that is not a literal."""

    def __init__(self) -> None:
        self.functions: list[str] = ["<module>"]
        self.found: list[tuple[str, int]] = []
        self._seen: set[int] = set()

    def _scope(self, node: ast.FunctionDef | ast.AsyncFunctionDef) -> None:
        self.functions.append(node.name)
        self.generic_visit(node)
        self.functions.pop()

    visit_FunctionDef = visit_AsyncFunctionDef = _scope

    def _found(self, node: ast.AST) -> None:
        self.found.append((self.functions[-1], getattr(node, "lineno", 0)))

    def visit_JoinedStr(self, node: ast.JoinedStr) -> None:
        text = "".join(_constant_text(part) or "" for part in node.values)
        if SQL_WORDS.search(text) and any(
            isinstance(part, ast.FormattedValue) for part in node.values
        ):
            self._found(node)
        self.generic_visit(node)

    def visit_BinOp(self, node: ast.BinOp) -> None:
        if id(node) in self._seen:
            self.generic_visit(node)
            return
        if isinstance(node.op, ast.Mod) and SQL_WORDS.search(_constant_text(node.left) or ""):
            self._found(node)
        elif isinstance(node.op, ast.Add):
            parts = _concatenated(node, self._seen)
            texts = [_constant_text(part) for part in parts]
            if any(SQL_WORDS.search(t or "") for t in texts) and None in texts:
                self._found(node)
        self.generic_visit(node)

    def visit_Call(self, node: ast.Call) -> None:
        function = node.func
        if (
            isinstance(function, ast.Attribute)
            and function.attr == "format"
            and SQL_WORDS.search(_constant_text(function.value) or "")
        ):
            self._found(node)
        self.generic_visit(node)


def test_no_sql_is_built_from_values_outside_the_reviewed_places() -> None:
    found: dict[tuple[str, str], list[int]] = {}
    for path in python_files():
        finder = BuiltSql()
        finder.visit(ast.parse(path.read_text(), filename=str(path)))
        for function, line in finder.found:
            found.setdefault((str(path.relative_to(ROOT)), function), []).append(line)
    unreviewed = {place: lines for place, lines in found.items() if place not in REVIEWED}
    assert unreviewed == {}, "SQL built from run-time text: use db.sql's {name} parameters"
    assert set(REVIEWED) <= set(found), "REVIEWED lists places that no longer build SQL"


def test_the_walk_finds_the_usual_ways_of_building_sql() -> None:
    code = """
def f(x, table):
    a = f"SELECT * FROM member WHERE id = '{x}'"
    b = "DELETE FROM member WHERE id = '%s'" % x
    c = "UPDATE member SET tier = '{}'".format(x)
    d = "SELECT * FROM " + table + " WHERE id = 1"
    e = f'CREATE DATABASE "{x}"'
    ok = "SELECT * FROM member WHERE id = {}"
    ok_too = ("SELECT id " "FROM member") + " WHERE id = $1"
    message = f"order {x} was paid"
"""
    finder = BuiltSql()
    finder.visit(ast.parse(code))
    assert [line for _, line in finder.found] == [3, 4, 5, 6, 7]


def test_ruff_keeps_flagging_string_built_sql_in_these_folders() -> None:
    config = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["ruff"]["lint"]
    selected = set(config["select"])
    assert {"S", "S608"} & selected, "ruff's S608 (flake8-bandit) is not selected"
    assert not {"S", "S608"} & set(config.get("ignore", []))
    for pattern, ignored in config.get("per-file-ignores", {}).items():
        if pattern.split("/")[0] in CHECKED and "migrations" not in pattern:
            assert not {"S", "S608"} & set(ignored), f"{pattern} switches S608 off"
    # And the suppressions in the code are the reviewed places, no others.
    done = subprocess.run(
        [RUFF, "check", "--select", "S608", "--ignore-noqa", "--output-format", "json", *CHECKED],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=False,
    )
    flagged = {
        Path(item["filename"]).relative_to(ROOT).as_posix() for item in json.loads(done.stdout)
    }
    assert flagged <= {path for path, _ in REVIEWED} | set(REVIEWED_MIGRATIONS)
    assert set(REVIEWED_MIGRATIONS) <= flagged, "REVIEWED_MIGRATIONS lists a file ruff is fine with"
