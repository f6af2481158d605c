"""Parse a large import file in a second process while the first one writes.

The worker (forked, so it shares the loaded code) opens the file itself, runs the
parsing stage, and sends each :class:`ParsedBatch` back through a bounded queue; the
parent resolves references, spots repeated keys and writes, inside its own
transaction. Parsing is the costlier half of an import, so on two cores a big file
goes about twice as fast. Where ``fork`` is not available, imports run in one process.
"""

from __future__ import annotations

import gc
import multiprocessing as mp
import os
import traceback
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from kizuna.errors import KizunaError
from kizuna.i18n import _

_QUEUE_DEPTH = 8


def available() -> bool:
    return "fork" in mp.get_all_start_methods() and (os.cpu_count() or 1) > 1


def _work(
    queue: Any, entity_name: str, path: str, fmt: str, encoding: str | None, ctx: Any, check_keys: bool, language: str,
    layout: Any, mapping: Any = None,
) -> None:
    from kizuna.i18n import set_language
    from kizuna.services.imports.readers import open_records
    from kizuna.services.imports.runner import parse_batches
    from kizuna.services.imports.specs import entity

    # What the fork inherited lives as long as this process: out of the collector's passes
    # (a fifth of the parsing time went to full passes over it) and never copied for them.
    gc.freeze()
    set_language(language)
    try:
        consumed = [0]

        def count(n: int) -> None:
            consumed[0] += n

        reader_errors: list[Any] = []
        _columns, records = open_records(Path(path), fmt=fmt, encoding=encoding, errors=reader_errors, on_bytes=count)
        if mapping is not None:  # the file's columns renamed (services.imports.mapping)
            from kizuna.services.imports.mapping import apply

            records = apply(records, mapping)
        sent = 0
        for batch in parse_batches(
            entity(entity_name), path, records, ctx=ctx, layout=layout, reader_errors=reader_errors,
            check_keys=check_keys,
        ):
            batch.bytes_read, sent = consumed[0] - sent, consumed[0]
            queue.put(("batch", batch))
        queue.put(("done", None))
    except BaseException:  # report, never hang the parent
        queue.put(("failed", traceback.format_exc()))


def parse_in_worker(
    entity_name: str, path: Path, *, fmt: str, encoding: str | None, ctx: Any, check_keys: bool, layout: Any,
    mapping: Any = None,
) -> Iterator[Any]:
    """Yield the parsing stage's batches, computed in a forked worker process. ``layout``
    (the writer's ``RowLayout``) is inherited by the fork, not pickled: the worker sends
    back rows the driver takes as they are."""
    from kizuna.i18n import get_language

    context = mp.get_context("fork")
    queue = context.Queue(maxsize=_QUEUE_DEPTH)
    worker = context.Process(
        target=_work,
        args=(queue, entity_name, str(path), fmt, encoding, ctx, check_keys, get_language(), layout, mapping),
        daemon=True,
    )
    worker.start()
    try:
        while True:
            kind, payload = queue.get()
            if kind == "batch":
                yield payload
            elif kind == "done":
                return
            else:
                message = _("the import's parsing process failed:\n{details}").format(details=payload)
                raise KizunaError(message, code="import_worker_failed")
    finally:
        if worker.is_alive():
            worker.terminate()
        worker.join(timeout=10)
