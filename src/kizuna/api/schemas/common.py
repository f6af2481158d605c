"""What every resource's schemas share: bounded scalar types, the input base classes,
the list envelope and the error shape.

Bounds follow the stored columns (``String(n)`` lengths, 32-bit ``Integer`` columns),
so that a request the schema accepts can always be stored, on SQLite and PostgreSQL.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import date, datetime
from typing import Annotated, Any, ClassVar, Generic, Self, TypeVar

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, Strict, StrictBool, ValidationInfo, field_validator
from pydantic_core import PydanticCustomError

from kizuna.domain.dates import DATE_OUT_OF_RANGE, in_range, out_of_range_message
from kizuna.http.errors import ErrorBody
from kizuna.i18n import _

T = TypeVar("T")

#: Ids and 32-bit integer columns (PostgreSQL ``integer``).
MAX_INT = 2_147_483_647
#: Money in minor units: at most 10 trillion (¥10,000,000,000,000 or $100 billion) per line,
#: so that an account's total stays far inside a 64-bit integer.
MAX_MONEY = 10_000_000_000_000
MAX_PER_PAGE = 200
MAX_PAGE = 1_000_000


def _storable(value: Any) -> Any:
    """Text both backends can store: no NUL character, no lone surrogate."""
    if not isinstance(value, str):
        return value
    if "\x00" in value:
        raise PydanticCustomError("invalid_text", _("must not contain NUL characters"))
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        raise PydanticCustomError("invalid_text", _("must be valid Unicode text")) from None
    return value


Storable = AfterValidator(_storable)

#: Whole numbers in a body are JSON integers only: ``true`` is not 1 and ``"5"`` is not 5
#: (pydantic's strict mode for these fields; query and path parameters stay text).
Id = Annotated[int, Strict(), Field(ge=1, le=MAX_INT)]
Count = Annotated[int, Strict(), Field(ge=0, le=MAX_INT)]
Money = Annotated[
    int,
    Strict(),
    Field(ge=0, le=MAX_MONEY, description="Integer minor units of `currency` (yen for JPY, cents for USD)."),
]
#: A survey or ticket score: a JSON integer, never ``"5"`` or ``true``.
Score = Annotated[int, Strict()]
Currency = Annotated[
    str,
    Field(min_length=3, max_length=3, pattern="^[A-Za-z]{3}$", description="ISO 4217 code, e.g. JPY, USD."),
    Storable,
]
ExternalId = Annotated[
    str, Field(min_length=1, max_length=128, description="The record's id in your source system."), Storable
]
Code = Annotated[str, Field(min_length=1, max_length=64), Storable]
Name200 = Annotated[str, Field(min_length=1, max_length=200), Storable]
Name255 = Annotated[str, Field(min_length=1, max_length=255), Storable]
Text100 = Annotated[str, Field(max_length=100), Storable]
Text255 = Annotated[str, Field(max_length=255), Storable]
Text500 = Annotated[str, Field(max_length=500), Storable]
Text2000 = Annotated[str, Field(max_length=2000), Storable]
Text10000 = Annotated[str, Field(max_length=10000), Storable]
Text20000 = Annotated[str, Field(max_length=20000), Storable]
Email = Annotated[str, Field(max_length=254, description="An email address (stored lower-case)."), Storable]
Domain = Annotated[str, Field(max_length=255, description="e.g. example.co.jp (a URL is reduced to its host)."),
                   Storable]  # fmt: skip


def in_date_range(code: str = DATE_OUT_OF_RANGE) -> AfterValidator:
    """A date or time inside 1900-01-01 … 2200-12-31 (``kizuna.domain.dates``), a datetime
    by its own day; else the error ``code`` (``http.errors.OWN_CODES`` keeps it)."""

    def check(value: Any) -> Any:
        if isinstance(value, date) and not in_range(value):
            raise PydanticCustomError(code, out_of_range_message(value))
        return value

    return AfterValidator(check)


InDateRange = in_date_range()

Day = Annotated[date, Field(description="A date, 2024-09-18 (between 1900-01-01 and 2200-12-31)."), InDateRange]
_MOMENT = Field(description="ISO 8601, e.g. 2024-09-18T10:00:00+09:00; without an offset, read in "
                            "KIZUNA_TIMEZONE. Its day lies between 1900-01-01 and 2200-12-31.")  # fmt: skip
Moment = Annotated[datetime, _MOMENT, InDateRange]
#: An activity's time: the same range, under its published code ``occurred_at_out_of_range``.
OccurredAt = Annotated[datetime, _MOMENT, in_date_range("occurred_at_out_of_range")]

_CustomKey = Annotated[str, Field(min_length=1, max_length=100), Storable]
_CustomValue = (
    StrictBool
    | Annotated[int, Field(ge=-(2**53), le=2**53)]
    | Annotated[float, Field(allow_inf_nan=False)]
    | Annotated[str, Field(max_length=2000), Storable]
    | None
)
CustomFields = Annotated[
    dict[_CustomKey, _CustomValue],
    Field(max_length=100, description="Up to 100 custom fields: names to strings, numbers, booleans or null."),
]


class InputModel(BaseModel):
    """A request body: unknown fields are errors (a typo would otherwise lose data);
    surrounding whitespace of text is dropped."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)


def _drop_null(schema: dict[str, Any], model: type[BaseModel]) -> None:
    """The schema of a field that may be left out but not set to null says so."""
    for name in getattr(model, "not_null", ()):
        prop = schema.get("properties", {}).get(name)
        if prop is None or "anyOf" not in prop:
            continue
        options = [o for o in prop["anyOf"] if o.get("type") != "null"]
        if len(options) == 1:
            del prop["anyOf"]
            prop.update(options[0])
        else:
            prop["anyOf"] = options
        if "default" in prop and prop["default"] is None:
            del prop["default"]


class PatchModel(InputModel):
    """A partial update: every field optional, only the fields sent change. ``null``
    clears an optional field; the fields in ``not_null`` cannot be cleared."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True, json_schema_extra=_drop_null)
    not_null: ClassVar[frozenset[str]] = frozenset()

    @field_validator("*", mode="after")
    @classmethod
    def reject_null(cls, value: Any, info: ValidationInfo) -> Any:
        if value is None and info.field_name in cls.not_null:
            raise PydanticCustomError("not_null", _("may not be null"))
        return value


class OutputModel(BaseModel):
    model_config = ConfigDict(from_attributes=True)


class ClosedOutput(OutputModel):
    """An answer built from a service's read model: a key its schema does not name is an
    error (the tests catch it), never silently left out of the answer."""

    model_config = ConfigDict(from_attributes=True, extra="forbid")


class PageOut(BaseModel, Generic[T]):
    """One page of a list, and how many records match in all."""

    items: list[T]
    total: int = Field(description="Records matching the filters, on every page.")
    page: int
    per_page: int

    @classmethod
    def of(cls, page: Any, convert: Callable[[Any], T]) -> Self:
        """From a service's ``Page``, each item through ``convert``."""
        return cls(items=[convert(x) for x in page.items], total=page.total, page=page.page, per_page=page.per_page)


class TrackingErrorOut(ErrorBody):
    """The tracking API's (``/v1/…``) error answer: the same ``errors`` list, and on top what
    Segment's and RudderStack's libraries read (those of the first error)."""

    success: bool = Field(description="Always false.")
    code: str = Field(description="The first error's code.")
    message: str = Field(description="The first error's field and message, and how many more there are.")
    rejected: int | None = Field(None, description="Events rejected (a batch whose good events were stored).")
    stored: int | None = Field(None, description="Events stored now.")
    duplicates: int | None = Field(None, description="Already stored: a retry, counted once.")
    parked: int | None = Field(None, description="Kept until their account or user exists.")


def _error(description: str) -> dict[str, Any]:
    return {"model": ErrorBody, "description": description}


ERROR_RESPONSES: dict[int | str, dict[str, Any]] = {
    400: _error("The body could not be read at all, e.g. not UTF-8 (`bad_request`)."),
    401: _error("No valid API key or sign-in (`not_authenticated`)."),
    403: _error("The key's scope or the user's role does not allow this, or a browser's CSRF token is missing."),
    404: _error("No record with this id (`<resource>_not_found`)."),
    409: _error("A duplicate `external_id`/`code`, or a product still in use."),
    413: _error("The request body is larger than 1 MB (`payload_too_large`)."),
    422: _error("The input is not acceptable (`invalid_input`, `unknown_<resource>`, …); `field` names it."),
}


# --- the usage page's twin and analytics.js' settings (``api/routers/usage.py``) ------------


class ReasonCountOut(ClosedOutput):
    reason: str
    count: int


class ParkedReasonOut(ClosedOutput):
    reason: str
    count: int
    oldest: datetime | None = Field(description="When the oldest message kept for this reason arrived.")


class KeyUseOut(ClosedOutput):
    name: str
    scope: str
    prefix: str
    source: str
    last_used_at: datetime | None
    revoked: bool


class UsageSummaryOut(ClosedOutput):
    """What the tracking API received (``services.usage.report.IngestionSummary``)."""

    hours: list[datetime] = Field(description="The start of each hour (UTC), oldest first.")
    per_hour: dict[str, list[int]] = Field(description="Outcome (stored, duplicate, parked, …) → count per hour.")
    totals: dict[str, int] = Field(description="Outcome → count over the window.")
    rejected_by_reason: list[ReasonCountOut]
    parked_by_reason: list[ParkedReasonOut]
    keys: list[KeyUseOut] = Field(description="The API keys that send events.")


class SegmentIoOut(BaseModel):
    apiKey: str
    apiHost: str
    protocol: str
    unbundledIntegrations: list[str]
    addBundledMetadata: bool


class MetricsOut(BaseModel):
    sampleRate: float


class BrowserSettingsOut(BaseModel):
    """What analytics.js (``@segment/analytics-next``) reads before it sends: Kizuna's
    `/v1/` as its only destination, no middleware, no metrics."""

    integrations: dict[str, SegmentIoOut]
    plan: dict[str, str]
    edgeFunction: dict[str, str]
    analyticsNextEnabled: bool
    middlewareSettings: dict[str, str]
    enabledMiddleware: dict[str, bool]
    metrics: MetricsOut
    legacyVideoPluginsEnabled: bool
    remotePlugins: list[str]
