"""One error vocabulary with stable codes, shared by every entry point.

The CLI prints ``Error: <message>`` and exits 1; the API renders
``{"errors": [{"code", "message", "field"}]}``. Codes are documented in
``docs/errors.md`` and never change once published.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from kizuna.i18n import _, ngettext


class KizunaError(Exception):
    """Base of every error Kizuna reports to a user."""

    code: str = "kizuna_error"

    def __init__(self, message: str, *, code: str | None = None, field: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        if code is not None:
            self.code = code
        self.field = field


class InvalidInput(KizunaError):
    """The input (a file, an option, a request body) is not acceptable."""

    code = "invalid_input"


class NotFound(KizunaError):
    """The thing asked for does not exist (or is not visible to the caller)."""

    code = "not_found"


class Conflict(KizunaError):
    """The request clashes with what is stored (a duplicate key, a stale update)."""

    code = "conflict"


class NotAuthenticated(KizunaError):
    """No valid sign-in session or API key."""

    code = "not_authenticated"


class PermissionDenied(KizunaError):
    """Signed in, but the role or key scope does not allow this."""

    code = "permission_denied"


class ConfigurationError(KizunaError):
    """A setting or configuration file is wrong."""

    code = "configuration_error"


@dataclass(frozen=True, order=True)
class RowError:
    """One problem in one row of an input file: ``FILE:LINE: column: reason``."""

    path: str
    line: int
    column: str
    reason: str

    def __str__(self) -> str:
        where = f"{self.path}:{self.line}"
        return f"{where}: {self.column}: {self.reason}" if self.column else f"{where}: {self.reason}"


@dataclass
class ImportRejected(InvalidInput):
    """An import found bad rows; nothing was written."""

    errors: list[RowError] = field(default_factory=list)
    rows_read: int = 0

    def __post_init__(self) -> None:
        n = len(self.errors)
        problems = ngettext("{n} problem", "{n} problems", n).format(n=f"{n:,}")
        if self.rows_read:
            rows = ngettext("{n} row", "{n} rows", self.rows_read).format(n=f"{self.rows_read:,}")
            message = _("{problems} found in {rows}; nothing was imported").format(problems=problems, rows=rows)
        else:
            message = _("{problems} found; nothing was imported").format(problems=problems)
        super().__init__(message, code="import_rejected")

    def __str__(self) -> str:
        return self.message
