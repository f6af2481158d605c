"""``python -m benchmarks [NAME …] [-- options]``: run benchmarks and print their figures.

NAME is one of the modules below (default: all). Results are also written to
``benchmarks/results/<name>.json``.
"""

from __future__ import annotations

import importlib
import json
import sys

from benchmarks.common import save

BENCHMARKS = ["imports", "demo", "web", "web_cpu", "ingest", "search", "pipeline", "health", "health_generators", "clv", "jobs", "login",
              "playbooks", "ltv", "churn", "surveys", "kb", "onboarding", "renewals", "opportunities"]


def main() -> None:
    head = sys.argv[1 : sys.argv.index("--")] if "--" in sys.argv else sys.argv[1:]
    names = [a for a in head if not a.startswith("-")] or BENCHMARKS
    extra = sys.argv[sys.argv.index("--") + 1 :] if "--" in sys.argv else []
    options = [a for a in head if a.startswith("-")]
    if options in (["-h"], ["--help"]):  # a benchmark's own options (`ingest --help`), not a run of it
        extra = ["--help"]
    elif options:  # a benchmark's option before `--` would have run it with its defaults (1 M events)
        raise SystemExit(f"options go after `--` (python -m benchmarks ingest -- --events 1000): {' '.join(options)}")
    for name in names:
        if name not in BENCHMARKS:
            raise SystemExit(f"unknown benchmark {name!r}; one of {BENCHMARKS}")
        module = importlib.import_module(f"benchmarks.{name}")
        print(f"== {name}", flush=True)
        result = module.main(extra)
        print(json.dumps(result, indent=2, ensure_ascii=False), flush=True)
        print(f"saved {save(name, result)}", flush=True)


if __name__ == "__main__":
    main()
