"""Mutation testing of the modules that produce numbers or guard access (``make mutate``).

Each module of ``[tool.kizuna.mutate]`` in ``pyproject.toml`` is run on its own with
mutmut 3, one worker, against only the test files listed for it, in a scratch copy
of the project (``.mutate/<module>/``) so that the working tree stays free to edit.
Each run starts afresh (mutmut does not notice a new test for a function it already
tested); ``--keep`` reuses the last results, re-testing only changed functions.

    python scripts/mutate.py                          # every configured module
    python scripts/mutate.py domain/subscriptions     # some of them (a part of the path)
    python scripts/mutate.py --list                   # the modules and their test files
    python scripts/mutate.py analytics/health --functions _lead_times \
        --tests tests/test_health_frames.py           # a function against its fast tests only

Prints, per module, the mutation score (killed ÷ mutants), the time taken and the
surviving mutants with their diffs; exits 1 when a module is under ``--target``
(85 % by default). A mutant that cannot change behaviour is marked in the source with
``# pragma: no mutate`` and a comment saying why.
"""

from __future__ import annotations

import argparse
import hashlib
import os
import re
import shutil
import subprocess
import sys
import time
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
WORK = ROOT / ".mutate"
KILLED = {"killed", "timeout", "caught by type check", "segfault"}


def configured() -> dict[str, list[str]]:
    data = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))
    modules: dict[str, list[str]] = data["tool"]["kizuna"]["mutate"]["modules"]
    return modules


def slug(module: str) -> str:
    return re.sub(r"[^A-Za-z0-9]+", "-", module.removeprefix("src/kizuna/").removesuffix(".py")).strip("-")


def workdir(module: str, override: bool, tests: list[str]) -> Path:
    """The module's scratch copy; a run with its own ``--tests`` gets one of its own (mutmut
    resets every result when the test selection changes)."""
    if not override:
        return WORK / slug(module)
    return WORK / f"{slug(module)}-{hashlib.sha1(' '.join(tests).encode()).hexdigest()[:8]}"


def prepare(module: str, tests: list[str], work: Path, postgres: bool = False) -> Path:
    """A copy of src/ and tests/ with a pyproject.toml whose [tool.mutmut] names the module."""
    work.mkdir(parents=True, exist_ok=True)
    ignore = shutil.ignore_patterns("__pycache__", "*.pyc", ".mypy_cache")
    for folder in ("src", "tests"):
        shutil.copytree(ROOT / folder, work / folder, dirs_exist_ok=True, ignore=ignore)
    pyproject = (ROOT / "pyproject.toml").read_text(encoding="utf-8")
    # SQLite only (the PostgreSQL twins of a test add minutes, not kills); no demo builds
    # (--postgres: with them, for code only PostgreSQL reaches; each mutant then starts a server)
    marks = "not slow and not browser" if postgres else "not postgres and not slow and not browser"
    args = ["-p", "no:xdist", "-p", "no:cacheprovider", "-q", "-m", marks]
    pyproject += (
        "\n[tool.mutmut]\n"
        f'source_paths = ["src"]\nonly_mutate = ["{module}"]\n'
        f"pytest_add_cli_args_test_selection = {tests!r}\npytest_add_cli_args = {args!r}\n"
        "use_git_change_detection = false\n"
    ).replace("'", '"')
    (work / "pyproject.toml").write_text(pyproject, encoding="utf-8")
    (work / "sqlite-template.db").unlink(missing_ok=True)  # the migrations may have changed since
    return work


def mutmut(work: Path, *args: str, capture: bool = False) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH",) and not k.startswith("KIZUNA_")}
    # the tests' migrated SQLite template, built by the first test run and copied by the others
    # (each mutant runs in a fresh fork: migrating again cost ~1-3 s a mutant)
    env["MUTATE_SQLITE_TEMPLATE"] = str(work / "sqlite-template.db")
    return subprocess.run(
        [sys.executable, "-m", "mutmut", *args], cwd=work, env=env, text=True, capture_output=capture, check=False
    )


def statuses(work: Path) -> dict[str, str]:
    out = mutmut(work, "results", "--all", "true", capture=True).stdout
    found = {}
    for line in out.splitlines():
        name, sep, status = line.strip().rpartition(": ")
        if sep and "__mutmut_" in name:
            found[name] = status
    return found


def run(module: str, tests: list[str], target: float, show_diffs: bool, keep: bool, functions: list[str],
        report: bool = False, override: bool = False, postgres: bool = False) -> bool:
    work = workdir(module, override, tests)
    if not report:
        prepare(module, tests, work, postgres)
    if not keep and not functions and not report:  # mutmut does not notice new tests for functions it already tested
        shutil.rmtree(work / "mutants", ignore_errors=True)
    dotted = module.removeprefix("src/").removesuffix(".py").removesuffix("/__init__").replace("/", ".")
    # a function's name, or one mutant's (x_<function>__mutmut_<n>, as listed): re-run even if decided
    names = [f"{dotted}.{fn}" if "__mutmut_" in fn else f"{dotted}.x_{fn}__mutmut_*" for fn in functions]
    print(f"== {module}  (tests: {' '.join(tests)})", flush=True)
    started = time.monotonic()
    if not report:
        mutmut(work, "run", "--max-children", "1", *names)
    took = time.monotonic() - started
    found = statuses(work)
    unchecked = sum(1 for s in found.values() if s == "not checked")
    if unchecked:
        print(f"   ({unchecked} mutants not run yet: left out of the score)")
        found = {k: s for k, s in found.items() if s != "not checked"}
    total = len(found)
    killed = sum(1 for s in found.values() if s in KILLED)
    survivors = sorted(name for name, s in found.items() if s not in KILLED)
    score = killed / total if total else 1.0
    print(f"-- {module}: {killed}/{total} killed = {score:.1%} in {took / 60:.1f} min; {len(survivors)} survive")
    for name in survivors:
        print(f"   {found[name]}: {name}")
        if show_diffs:
            diff = mutmut(work, "show", name, capture=True).stdout
            print("\n".join("      " + ln for ln in diff.splitlines()[1:] if ln.startswith(("+", "-"))))
    return score >= target


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n", 1)[0])
    parser.add_argument("modules", nargs="*", help="parts of module paths (default: all configured)")
    parser.add_argument("--target", type=float, default=0.85)
    parser.add_argument("--list", action="store_true", help="list the modules and their tests")
    parser.add_argument("--keep", action="store_true", help="reuse the last run's results (only changed code is re-run)")
    parser.add_argument("--functions", default="", help="only these functions or mutants (comma-separated), keeping other results")
    parser.add_argument("--report", action="store_true", help="only report the last run's results (an interrupted one too)")
    parser.add_argument("--no-diffs", action="store_true", help="list surviving mutants without their diffs")
    parser.add_argument("--tests", default="", help="these tests (comma-separated) instead of the configured ones, "
                        "e.g. a function's fast direct tests (its own scratch copy)")
    parser.add_argument("--postgres", action="store_true", help="also the tests marked postgres (code only PostgreSQL "
                        "reaches; a server is started for each mutant: slower)")
    opts = parser.parse_args()
    modules = configured()
    chosen = [m for m in modules if not opts.modules or any(part in m for part in opts.modules)]
    if opts.modules and not chosen:
        parser.error(f"no configured module matches {' '.join(opts.modules)}; see --list")
    if opts.list:
        for m in chosen:
            print(f"{m}: {' '.join(modules[m])}")
        return 0
    ok = True
    for m in chosen:
        functions = [f for f in opts.functions.split(",") if f]
        tests = [t for t in opts.tests.split(",") if t] or modules[m]
        ok = run(m, tests, opts.target, not opts.no_diffs, opts.keep, functions, opts.report, bool(opts.tests),
                 opts.postgres) and ok
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
