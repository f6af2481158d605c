"""Knowledge-base search over 10,000 articles (issue 17): p50/p95 of ``kb.search``.

Writes ``--articles`` Markdown files (Japanese and English, ~1,500 characters each, words
drawn from a fixed vocabulary), imports them with the real ``kb.import_folder``, then times
searches for two-character Japanese words, longer phrases, English words and words that are
nowhere. Baseline in the same run: a ``LIKE '%word%'`` scan of the same articles (what the
search would cost without the bigram index). Target: p95 < 100 ms.
"""

from __future__ import annotations

import argparse
import os
import random
import tempfile
import time
from pathlib import Path

from benchmarks.web import percentile

JA = ["導入", "設定", "請求", "契約", "更新", "解約", "権限", "管理者", "取引先", "連携", "通知", "分析", "ダッシュボード",
      "インポート", "エクスポート", "パスワード", "ログイン", "担当者", "アンケート", "ヘルススコア", "利用状況", "料金"]
EN = ["setup", "billing", "contract", "renewal", "permission", "admin", "account", "integration", "notification",
      "report", "dashboard", "import", "export", "password", "login", "survey", "health", "usage", "pricing"]


def _write(folder: Path, n: int, rng: random.Random) -> None:
    for i in range(n):
        ja = i % 2 == 0
        words = JA if ja else EN
        title = ("の".join if ja else " ".join)(rng.sample(words, 3))
        body = ("。".join if ja else ". ".join)(" ".join(rng.choices(words, k=8)) for _ in range(25))
        (folder / f"a{i}.md").write_text(f"---\ntitle: {title}\ncategory: c{i % 20}\nlanguage: {'ja' if ja else 'en'}\n"
                                         f"slug: a{i}\n---\n{body}\n", encoding="utf-8")  # fmt: skip


def main(argv: list[str] | None = None) -> dict[str, object]:
    parser = argparse.ArgumentParser(prog="python -m benchmarks kb")
    parser.add_argument("--articles", type=int, default=10_000)
    parser.add_argument("--queries", type=int, default=200)
    args = parser.parse_args(argv)

    from sqlalchemy import text

    from kizuna.db import make_engine, session_scope
    from kizuna.db.schema import ensure_schema
    from kizuna.services import kb

    work = Path(tempfile.mkdtemp(prefix="kizuna-kb-bench-"))
    rng = random.Random(42)
    folder = work / "articles"
    folder.mkdir()
    _write(folder, args.articles, rng)
    engine = make_engine(f"sqlite:///{work / 'kizuna.db'}")
    ensure_schema(engine)
    start = time.perf_counter()
    with session_scope(engine) as session:
        done = kb.import_folder(session, folder)
    imported = time.perf_counter() - start
    queries = ([rng.choice(["導入", "設定", "請求", "契約", "連携", "通知", "料金"]) for _ in range(args.queries // 4)]
               + [rng.choice(JA) + rng.choice(["の", ""]) + rng.choice(JA) for _ in range(args.queries // 4)]
               + [rng.choice(EN) for _ in range(args.queries // 4)]
               + [rng.choice(["存在しない語", "nothinghere", "量子"]) for _ in range(args.queries // 4)])  # fmt: skip
    timings: list[float] = []
    scans: list[float] = []
    hits = 0
    with session_scope(engine) as session:
        for query in queries[:10]:
            kb.search(session, query)
        for query in queries:
            t = time.perf_counter()
            hits += len(kb.search(session, query))
            timings.append((time.perf_counter() - t) * 1000)
            t = time.perf_counter()
            session.execute(text("SELECT id FROM kb_articles WHERE lower(title) LIKE :q OR lower(body) LIKE :q LIMIT 50"),
                            {"q": f"%{query.lower()}%"}).all()  # fmt: skip
            scans.append((time.perf_counter() - t) * 1000)
        index_rows = session.execute(text("SELECT count(*) FROM kb_article_bigrams")).scalar_one()
    engine.dispose()
    return {
        "articles": done.created, "import_seconds": round(imported, 1), "bigram_rows": int(index_rows),
        "queries": len(queries), "results": hits,
        "search_p50_ms": round(percentile(timings, 0.5), 1), "search_p95_ms": round(percentile(timings, 0.95), 1),
        "like_scan_p50_ms": round(percentile(scans, 0.5), 1), "like_scan_p95_ms": round(percentile(scans, 0.95), 1),
        "target": {"search_p95_ms": 100}, "load_average_1m": round(os.getloadavg()[0], 1),
    }  # fmt: skip
