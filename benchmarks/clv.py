"""CLV benchmark: BG/NBD and Gamma-Gamma maximum-likelihood fits, Kizuna vs ``lifetimes``.

Data: the CDNOW sample (2,357 customers, ``tests/data/cdnow``) and N synthetic customers
(default 1,000,000) drawn from the BG/NBD process with known parameters (the CDNOW
estimates) and Gamma-Gamma spend, so the recovered parameters can be checked too.

Baseline in the same run: the ``lifetimes`` package (0.11.3, archived; needs numpy<2,
pandas<2, scipy<1.14) in its own virtualenv, ``benchmarks/.venvs/lifetimes``, created
on first run with ``python -m venv`` + ``pip install``. Both sides run in a child
process, read the same CSV with pandas, and time only the fits; the ratio is
lifetimes' time over ours. A lifetimes fit that exceeds ``--lifetimes-timeout`` is
reported as "> N s".

``python -m benchmarks clv -- --customers 100000 --lifetimes-timeout 120``
"""

from __future__ import annotations

import argparse
import json
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

from benchmarks.common import ROOT

CDNOW = ROOT / "tests" / "data" / "cdnow"
VENV = ROOT / "benchmarks" / ".venvs" / "lifetimes"
LIFETIMES_PINS = ["lifetimes==0.11.3", "numpy<2", "pandas<2", "scipy<1.14", "autograd<1.7"]
#: The CDNOW estimates (FHL 2005a, 2005b), used as the truth of the synthetic customers.
TRUTH_BGNBD = {"r": 0.243, "alpha": 4.414, "a": 0.793, "b": 2.426}
TRUTH_GG = {"p": 6.25, "q": 3.74, "gamma": 15.44}

KIZUNA = """
import json, sys, time
import pandas as pd
from kizuna.analytics import ltv_models
d = pd.read_csv(sys.argv[1])
out = {}
t = time.perf_counter()
f = ltv_models.fit_bgnbd(d["frequency"].to_numpy(float), d["recency"].to_numpy(float), d["T"].to_numpy(float))
out["bgnbd_seconds"] = time.perf_counter() - t
out["bgnbd"] = {**f.params, "log_likelihood": f.log_likelihood, "converged": f.converged}
t = time.perf_counter()
g = ltv_models.fit_gammagamma(d["frequency"].to_numpy(float), d["monetary_value"].to_numpy(float))
out["gammagamma_seconds"] = time.perf_counter() - t
out["gammagamma"] = {**g.params, "log_likelihood": g.log_likelihood, "converged": g.converged}
print(json.dumps(out))
"""

LIFETIMES = """
import json, sys, time, warnings
warnings.simplefilter("ignore")
import pandas as pd
from lifetimes import BetaGeoFitter, GammaGammaFitter
d = pd.read_csv(sys.argv[1])
out = {}
t = time.perf_counter()
f = BetaGeoFitter(penalizer_coef=0.0).fit(d["frequency"], d["recency"], d["T"])
out["bgnbd_seconds"] = time.perf_counter() - t
out["bgnbd"] = {k: float(v) for k, v in f.params_.items()}
print(json.dumps(out), flush=True)
rep = d[d["frequency"] > 0]
t = time.perf_counter()
g = GammaGammaFitter(penalizer_coef=0.0).fit(rep["frequency"], rep["monetary_value"])
out["gammagamma_seconds"] = time.perf_counter() - t
out["gammagamma"] = {("gamma" if k == "v" else k): float(v) for k, v in g.params_.items()}
print(json.dumps(out), flush=True)
"""


def lifetimes_python() -> Path:
    """The lifetimes virtualenv's interpreter, creating the virtualenv on first use."""
    python = VENV / "bin" / "python"
    if python.exists():
        return python
    print(f"creating {VENV} (lifetimes and its older pins)…", flush=True)
    VENV.parent.mkdir(parents=True, exist_ok=True)
    base = getattr(sys, "_base_executable", sys.executable)
    subprocess.run([base, "-m", "venv", str(VENV)], check=True)
    subprocess.run([str(python), "-m", "pip", "install", "--quiet", *LIFETIMES_PINS], check=True)
    return python


def synthetic(path: Path, n: int, seed: int = 2005) -> None:
    """N customers from BG/NBD (ages 26–52 weeks) with Gamma-Gamma spend, as CSV."""
    from kizuna.analytics import ltv_models

    rng = np.random.default_rng(seed)
    ages = rng.uniform(26.0, 52.0, n).round(2)
    x, tx, t = ltv_models.simulate_bgnbd(n, *TRUTH_BGNBD.values(), ages, seed=seed + 1)
    tx = np.minimum(tx.round(2), t)
    nu = rng.gamma(TRUTH_GG["q"], 1.0 / TRUTH_GG["gamma"], n)
    rep = x > 0
    spend = np.zeros(n)
    spend[rep] = rng.gamma(TRUTH_GG["p"] * x[rep], 1.0 / (nu[rep] * x[rep])).round(2)
    spend[rep] = np.maximum(spend[rep], 0.01)
    with path.open("w") as fh:
        fh.write("frequency,recency,T,monetary_value\n")
        np.savetxt(fh, np.column_stack([x, tx, t, spend]), fmt=["%d", "%.2f", "%.2f", "%.2f"], delimiter=",")


def run(python: Path | str, code: str, data: Path, timeout: float | None = None) -> tuple[dict[str, object], float]:
    """Run ``code`` on ``data`` in a child; its last JSON line and the wall time.

    On timeout the partial result printed so far (if any) is returned with ``timed_out``."""
    start = time.perf_counter()
    try:
        proc = subprocess.run(
            [str(python), "-c", code, str(data)], capture_output=True, text=True, timeout=timeout, check=False
        )
        stdout, timed_out = proc.stdout, False
        if proc.returncode != 0:
            raise RuntimeError(f"{python} failed:\n{proc.stderr[-3000:]}")
    except subprocess.TimeoutExpired as exc:
        out = exc.stdout or b""
        stdout, timed_out = (out.decode() if isinstance(out, bytes) else out), True
    lines = [ln for ln in stdout.splitlines() if ln.startswith("{")]
    result: dict[str, object] = json.loads(lines[-1]) if lines else {}
    result["timed_out"] = timed_out
    return result, time.perf_counter() - start


def cli_fit(data: Path) -> float:
    """``kizuna ltv estimate --model bgnbd`` end to end: read and check every row, fit, predict."""
    kizuna = shutil.which("kizuna") or str(Path(sys.executable).with_name("kizuna"))
    start = time.perf_counter()
    subprocess.run([kizuna, "ltv", "fit", "--model", "bgnbd", "--input", str(data), "--format", "json"],
                   check=True, capture_output=True)  # fmt: skip
    return time.perf_counter() - start


def _ratio(theirs: object, ours: object) -> float | None:
    if isinstance(theirs, float) and isinstance(ours, float) and ours > 0:
        return round(theirs / ours, 1)
    return None


def _secs(value: object, timeout: float, timed_out: object) -> str:
    if isinstance(value, float):
        return f"{value:.2f} s"
    return f"> {timeout:.0f} s" if timed_out else "—"


def main(argv: list[str] | None = None) -> dict[str, object]:
    parser = argparse.ArgumentParser(prog="python -m benchmarks clv")
    parser.add_argument("--customers", type=int, default=1_000_000)
    parser.add_argument("--lifetimes-timeout", type=float, default=600.0)
    parser.add_argument("--no-lifetimes", action="store_true", help="skip the baseline")
    parser.add_argument("--no-cli", action="store_true", help="skip the end-to-end CLI timing")
    args = parser.parse_args(argv)

    baseline = None if args.no_lifetimes else lifetimes_python()
    work = Path(tempfile.mkdtemp(prefix="kizuna-bench-clv-"))
    try:
        big = work / f"synthetic_{args.customers}.csv"
        start = time.perf_counter()
        synthetic(big, args.customers)
        generated = time.perf_counter() - start
        rows: list[dict[str, object]] = []
        datasets = [("cdnow", CDNOW / "cdnow_spend.csv"), (f"synthetic {args.customers:,}", big)]
        for name, data in datasets:
            ours, _wall = run(sys.executable, KIZUNA, data)
            theirs: dict[str, object] = {}
            if baseline is not None:
                theirs, _w = run(baseline, LIFETIMES, data, timeout=args.lifetimes_timeout)
            rows.append({
                "data": name,
                "kizuna": ours,
                "lifetimes": theirs,
                "bgnbd_ratio": _ratio(theirs.get("bgnbd_seconds"), ours.get("bgnbd_seconds")),
                "gammagamma_ratio": _ratio(theirs.get("gammagamma_seconds"), ours.get("gammagamma_seconds")),
            })  # fmt: skip
        cli_seconds = None if args.no_cli else round(cli_fit(big), 2)
    finally:
        shutil.rmtree(work, ignore_errors=True)

    print(f"\n{'data':<22} {'model':<11} {'kizuna':>10} {'lifetimes':>12} {'ratio':>7}")
    for row in rows:
        ours, theirs = row["kizuna"], row["lifetimes"]
        assert isinstance(ours, dict)
        assert isinstance(theirs, dict)
        for model in ("bgnbd", "gammagamma"):
            print(
                f"{row['data']:<22} {model:<11} {_secs(ours.get(f'{model}_seconds'), 0, False):>10} "
                f"{_secs(theirs.get(f'{model}_seconds'), args.lifetimes_timeout, theirs.get('timed_out')):>12} "
                f"{str(row[f'{model}_ratio'] or '—') + '×':>7}"
            )
    synthetic_ours = rows[1]["kizuna"]
    assert isinstance(synthetic_ours, dict)
    bg_seconds = synthetic_ours.get("bgnbd_seconds")
    return {
        "customers": args.customers,
        "synthetic_generation_seconds": round(generated, 2),
        "truth": {"bgnbd": TRUTH_BGNBD, "gammagamma": TRUTH_GG},
        "results": rows,
        "kizuna_cli_seconds_end_to_end": cli_seconds,
        "lifetimes_timeout_seconds": args.lifetimes_timeout,
        "target": "BG/NBD fit on 1,000,000 customers < 10 s",
        "met": bool(isinstance(bg_seconds, float) and bg_seconds < 10) if args.customers >= 1_000_000 else None,
    }


if __name__ == "__main__":
    from benchmarks.common import save

    print(save("clv", main(sys.argv[1:])))
