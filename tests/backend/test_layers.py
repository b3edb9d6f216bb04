"""Imports point one way: the layers of docs/architecture.md ("Layers"), checked on every
module's syntax tree (imports inside functions and under TYPE_CHECKING included).

Each module belongs to the layer of the longest prefix in ``LAYERS`` that names it. A module
may import its own package, and modules of lower layers; a layer of several packages (the
foundation, the edge) lets them import each other; nothing imports upward. A failure names
the importing module, its line and the import.
"""

from __future__ import annotations

import ast
from pathlib import Path

from tests.servers import ROOT

# Lowest first. One entry per layer; the packages of a layer may import each other.
LAYERS: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("db", ("db",)),
    ("realtime", ("realtime",)),
    (
        "foundation",
        (
            "backend.errors",
            "backend.settings",
            "backend.text",
            "backend.local_time",
            "backend.http",
            "backend.problems",
            "backend.idempotency",
            "backend.ops.logging",
            "backend.ops.metrics",
            "backend.auth",
            "backend.audit",
            # The push providers' development credentials, which the settings default to.
            "backend.push.development",
        ),
    ),
    ("streams", ("backend.streams",)),
    # The delivery pipeline's mechanics (worker loop, due batch, backoff, stream positions),
    # which the accounting outbox, partner webhooks and push use.
    ("deliveries", ("backend.deliveries",)),
    ("accounting documents", ("backend.accounting.documents",)),
    ("loyalty", ("backend.loyalty",)),
    ("staff", ("backend.staff",)),
    ("products", ("backend.products",)),
    ("campaigns", ("backend.campaigns",)),
    ("members", ("backend.members",)),
    ("stores", ("backend.stores",)),
    ("sales", ("backend.sales",)),
    ("till", ("backend.till",)),
    ("orders", ("backend.orders",)),
    ("accounting", ("backend.accounting",)),
    ("partners", ("backend.partners",)),
    ("push", ("backend.push",)),
    ("jobs and operations", ("backend.jobs", "backend.ops")),
    (
        "edge",
        (
            "backend.app",
            "backend.cli",
            "backend.cli_jobs",
            "backend.web",
            "backend.realtime_wiring",
            "backend.api_document",
            "backend.rate_limits",
            "backend.seed",
            "backend.servers",
        ),
    ),
)
OURS = ("backend", "realtime", "db")


def module_name(path: Path) -> str:
    parts = path.relative_to(ROOT).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def our_modules() -> dict[str, Path]:
    return {
        module_name(path): path
        for folder in OURS
        for path in sorted((ROOT / folder).rglob("*.py"))
        if "migrations" not in path.parts
    }


def layer_of(module: str) -> tuple[int, str] | None:
    """(rank, layer name) of the longest prefix naming ``module``; None: in no layer."""
    found: tuple[int, str, str] | None = None
    for rank, (name, prefixes) in enumerate(LAYERS):
        for prefix in prefixes:
            named = module == prefix or module.startswith(prefix + ".")
            if named and (found is None or len(prefix) > len(found[2])):
                found = (rank, name, prefix)
    return None if found is None else found[:2]


def imported(tree: ast.AST, modules: set[str]) -> list[tuple[int, str]]:
    """(line, module) of each of our modules that ``tree`` imports (``from backend import
    errors`` imports ``backend.errors``)."""
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names = [
                f"{node.module}.{alias.name}"
                if f"{node.module}.{alias.name}" in modules
                else node.module
                for alias in node.names
            ]
        else:
            continue
        found += [(node.lineno, name) for name in names if name.split(".")[0] in OURS]
    return found


def violations(module: str, tree: ast.AST, modules: set[str]) -> list[str]:
    """Each import of ``module`` that points up a layer, as a sentence naming it."""
    own = layer_of(module)
    assert own is not None, f"{module} is in no layer: add it to LAYERS (and the docs)"
    found = []
    for line, name in imported(tree, modules):
        theirs = layer_of(name)
        assert theirs is not None, f"{module}:{line} imports {name}, which is in no layer"
        if theirs[0] > own[0]:
            found.append(
                f"{module}:{line} imports {name}: {own[1]} may not import {theirs[1]}, "
                "which is above it"
            )
    return found


def test_imports_point_down_the_layers() -> None:
    modules = our_modules()
    found = [
        problem
        for module, path in modules.items()
        if module != "backend"  # the package's docstring
        for problem in violations(module, ast.parse(path.read_text()), set(modules))
    ]
    assert found == []


def test_a_wrong_import_is_named() -> None:
    modules = {"backend.loyalty.book", "backend.till.purchases", "backend.errors"}
    tree = ast.parse(
        "from backend import errors\n"
        "def f():\n"
        "    from backend.till.purchases import PurchaseService\n"
    )
    assert violations("backend.loyalty.book", tree, modules) == [
        "backend.loyalty.book:3 imports backend.till.purchases: loyalty may not import till, "
        "which is above it"
    ]
    assert violations("realtime.hub", ast.parse("import backend.app"), set()) == [
        "realtime.hub:1 imports backend.app: realtime may not import edge, which is above it"
    ]
