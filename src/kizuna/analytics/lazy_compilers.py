"""Ibis' SQL compilers imported when first used, not all at once (issue 19).

``ibis.backends.sql.compilers`` (Ibis 10–12) imports the compiler of every dialect Ibis
knows — Athena, BigQuery, ClickHouse, Trino, Snowflake and 15 more, with their sqlglot
dialects — as soon as one backend needs its own: a process that opens an SQLite store
spent ~0.06 s of CPU (of a KPI report's ~1.3 s in a fresh process) importing compilers it
never uses. :func:`install` puts in its place a module of the same name and path whose
names (``SQLiteCompiler``, ``sqlite``, …) import their submodule on first use, so each
backend loads only its own compiler; everything else about Ibis is unchanged.

It changes nothing unless the package is not imported yet and its ``__init__`` is what it
is in those versions: a docstring, ``__all__`` and ``from ibis.backends.sql.compilers.X
import Y`` lines only (checked on its source); otherwise Ibis imports it as usual.
"""

from __future__ import annotations

import ast
import importlib
import importlib.util
import sys
from typing import Any

PACKAGE = "ibis.backends.sql.compilers"


def _names(source: str) -> dict[str, str] | None:
    """``{class name: submodule}`` from the package's ``__init__``, or None when it holds
    anything else than a docstring, ``from __future__``, ``__all__`` and such imports."""
    names: dict[str, str] = {}
    for node in ast.parse(source).body:
        if isinstance(node, ast.Expr) and isinstance(node.value, ast.Constant):
            continue  # the docstring
        if isinstance(node, ast.ImportFrom) and node.module == "__future__":
            continue
        if isinstance(node, ast.Assign) and [getattr(t, "id", None) for t in node.targets] == ["__all__"]:
            continue
        if isinstance(node, ast.ImportFrom) and node.level == 0 and (node.module or "").startswith(PACKAGE + "."):
            sub = (node.module or "")[len(PACKAGE) + 1 :]
            if "." in sub or any(a.asname not in (None, a.name) or a.name == "*" for a in node.names):
                return None
            names.update((a.name, sub) for a in node.names)
            continue
        return None
    return names or None


def install() -> bool:
    """Make ``ibis.backends.sql.compilers`` import its compilers on first use; True when done
    (False: already imported, or not the expected package — left to Ibis)."""
    if PACKAGE in sys.modules:
        return False
    spec = importlib.util.find_spec(PACKAGE)
    if spec is None or spec.origin is None or spec.submodule_search_locations is None:
        return False
    try:
        with open(spec.origin, encoding="utf-8") as f:
            names = _names(f.read())
    except (OSError, SyntaxError, ValueError):
        return False
    if names is None:
        return False
    module = importlib.util.module_from_spec(spec)

    def __getattr__(name: str) -> Any:
        sub = names.get(name)
        if sub is not None:
            value = getattr(importlib.import_module(f"{PACKAGE}.{sub}"), name)
            setattr(module, name, value)
            return value
        if name.startswith("__"):
            raise AttributeError(name)
        try:  # a submodule (``compilers.sqlite``): imported, which sets it on the package
            return importlib.import_module(f"{PACKAGE}.{name}")
        except ModuleNotFoundError as e:
            if e.name != f"{PACKAGE}.{name}":
                raise
            raise AttributeError(f"module {PACKAGE!r} has no attribute {name!r}") from None

    def __dir__() -> list[str]:
        return sorted(set(names) | set(vars(module)))

    module.__getattr__ = __getattr__  # type: ignore[method-assign]
    module.__dir__ = __dir__  # type: ignore[method-assign]
    module.__all__ = list(names)  # type: ignore[attr-defined]
    sys.modules[PACKAGE] = module
    parent = importlib.import_module(PACKAGE.rpartition(".")[0])
    parent.compilers = module  # type: ignore[attr-defined]
    return True

