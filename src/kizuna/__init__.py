"""Kizuna (絆): an open-source customer success platform.

The package has no import-time side effects. ``kizuna.connect()`` opens the
configured store and hands out its tables as pandas DataFrames (for analysts in
Jupyter); it is imported lazily so that ``import kizuna.domain`` stays light.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from kizuna.version import __version__

if TYPE_CHECKING:
    from kizuna.client import Kizuna


def connect(url: str | None = None) -> Kizuna:
    """Open a Kizuna store for reading its tables as pandas DataFrames.

    ``url`` is an SQLAlchemy URL; without one, ``KIZUNA_DATABASE_URL`` or the
    default embedded SQLite file (``./kizuna.db``) is used.

    >>> import kizuna
    >>> kz = kizuna.connect("sqlite:///:memory:")
    >>> kz.accounts().empty
    True
    """
    from kizuna.client import connect as _connect

    return _connect(url)


__all__ = ["__version__", "connect"]
