"""The Python API for analysts: ``kizuna.connect()`` → tables as pandas DataFrames.

>>> import kizuna
>>> kz = kizuna.connect()               # the configured store (./kizuna.db by default)
>>> kz.accounts().head()                # doctest: +SKIP
>>> kz.table("usage_daily", where={"metric": "logins"})   # doctest: +SKIP
"""

from __future__ import annotations

from typing import Any

import pandas as pd

from kizuna.db import ensure_schema, make_engine
from kizuna.errors import InvalidInput
from kizuna.services.exports import table_frame, table_names
from kizuna.settings import Settings


class Kizuna:
    """An open Kizuna store. Each method returns a fresh pandas DataFrame."""

    def __init__(self, url: str) -> None:
        self._engine = make_engine(url)
        ensure_schema(self._engine)
        self.url = self._engine.url.render_as_string(hide_password=True)

    def __repr__(self) -> str:
        return f"<Kizuna {self.url}>"

    def tables(self) -> list[str]:
        """The names of the tables you can read."""
        return table_names()

    def table(self, name: str, *, where: dict[str, Any] | None = None, limit: int | None = None) -> pd.DataFrame:
        """Read one table (optionally filtered by equality on columns, and limited).

        Timestamps come back timezone-aware (UTC); money columns are integer minor
        units (yen for JPY) beside their ``currency`` column.
        """
        if name not in table_names():
            raise InvalidInput(f"unknown table {name!r}; one of: {', '.join(table_names())}", field="name")
        frame: pd.DataFrame = table_frame(self._engine, name, where=where, limit=limit)
        return frame

    def accounts(self) -> pd.DataFrame:
        return self.table("accounts")

    def contacts(self) -> pd.DataFrame:
        return self.table("contacts")

    def products(self) -> pd.DataFrame:
        return self.table("products")

    def subscriptions(self) -> pd.DataFrame:
        return self.table("subscriptions")

    def usage_daily(self) -> pd.DataFrame:
        return self.table("usage_daily")

    def usage_events(self, *, limit: int | None = None) -> pd.DataFrame:
        return self.table("usage_events", limit=limit)

    def tickets(self) -> pd.DataFrame:
        return self.table("tickets")

    def survey_responses(self) -> pd.DataFrame:
        return self.table("survey_responses")

    def activities(self) -> pd.DataFrame:
        return self.table("activities")

    def close(self) -> None:
        self._engine.dispose()

    def __enter__(self) -> Kizuna:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def connect(url: str | None = None) -> Kizuna:
    return Kizuna(url or Settings().database_url)
