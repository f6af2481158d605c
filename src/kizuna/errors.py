"""One error vocabulary with stable codes, shared by every entry point.

The CLI prints ``Error: <message>`` and exits 1; the API (``/api/…``) and the tracking
API (``/v1/…``) answer with one shape, :class:`kizuna.http.errors.ErrorBody`:
``{"errors": [ErrorDetail…]}``, each ``ErrorDetail`` a ``{"code", "message", "field"}``
(pydantic models kept with the HTTP layer, so that the command line and the analytics do
not import pydantic). The codes every entry point
shares are the constants of :class:`ErrorCode`; all codes are documented in
``docs/errors.md`` and never change once published.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum

from kizuna.i18n import _, ngettext


class ErrorCode(StrEnum):
    """The codes of the error classes and of the HTTP answers (``docs/errors.md``)."""

    INVALID_INPUT = "invalid_input"
    NOT_FOUND = "not_found"
    CONFLICT = "conflict"
    NOT_AUTHENTICATED = "not_authenticated"
    PERMISSION_DENIED = "permission_denied"
    CONFIGURATION_ERROR = "configuration_error"
    IMPORT_REJECTED = "import_rejected"
    INVALID_ROW = "invalid_row"
    BAD_REQUEST = "bad_request"
    METHOD_NOT_ALLOWED = "method_not_allowed"
    PAYLOAD_TOO_LARGE = "payload_too_large"
    UNSUPPORTED_MEDIA_TYPE = "unsupported_media_type"
    TOO_MANY_REQUESTS = "too_many_requests"
    INTERNAL_ERROR = "internal_error"
    UNAVAILABLE = "unavailable"
    CSRF_FAILED = "csrf_failed"
    DATE_OUT_OF_RANGE = "date_out_of_range"
    DUPLICATE_KEY = "duplicate_key"
    ACCOUNT_NOT_FOUND = "account_not_found"
    INVALID_SCORECARD = "invalid_scorecard"


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

    code: str = ErrorCode.INVALID_INPUT


class NotFound(KizunaError):
    """The thing asked for does not exist (or is not visible to the caller)."""

    code: str = ErrorCode.NOT_FOUND


class Conflict(KizunaError):
    """The request clashes with what is stored (a duplicate key, a stale update)."""

    code: str = ErrorCode.CONFLICT


class NotAuthenticated(KizunaError):
    """No valid sign-in session or API key."""

    code: str = ErrorCode.NOT_AUTHENTICATED


class PermissionDenied(KizunaError):
    """Signed in, but the role or key scope does not allow this."""

    code: str = ErrorCode.PERMISSION_DENIED


class ConfigurationError(KizunaError):
    """A setting or configuration file is wrong."""

    code: str = ErrorCode.CONFIGURATION_ERROR


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
        super().__init__(message, code=ErrorCode.IMPORT_REJECTED)

    def __str__(self) -> str:
        return self.message
