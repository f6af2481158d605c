"""One typed configuration object, read from ``KIZUNA_*`` environment variables.

Built by an entry point (the CLI, the web app factory, ``kizuna.connect``) and passed
down; nothing below the entry points reads the environment. Every setting works with
no configuration at all.
"""

from __future__ import annotations

from pathlib import Path
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import Field, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from kizuna.domain.money import CURRENCY_EXPONENTS

DEFAULT_DATABASE_FILE = "kizuna.db"


class Settings(BaseSettings):
    """Kizuna's settings. Each field is documented in ``docs/settings.md``."""

    model_config = SettingsConfigDict(env_prefix="KIZUNA_", extra="ignore")

    database_url: str = Field(
        default=f"sqlite:///{DEFAULT_DATABASE_FILE}",
        description=(
            "SQLAlchemy URL of the operational store. Default: an SQLite file "
            "`kizuna.db` in the working directory. PostgreSQL: "
            "`postgresql+psycopg://user:password@host/dbname`."
        ),
    )
    timezone: str = Field(
        default="Asia/Tokyo",
        description=(
            "IANA time zone used to read dates and times that carry no offset "
            "(e.g. `2024/09/18 10:00` in a CSV) and to display times."
        ),
    )
    default_currency: str = Field(
        default="JPY",
        description="ISO 4217 currency assumed for amounts whose row names no currency.",
    )
    language: str | None = Field(
        default=None,
        description=(
            "Language of the command line's messages, `ja` or `en`. Default: from `LANG` "
            "(Japanese for `ja_JP.UTF-8`), else English. The web app follows each user's choice."
        ),
    )

    host: str = Field(default="127.0.0.1", description="Address `kizuna serve` listens on.")
    port: int = Field(default=8000, ge=1, le=65535, description="Port `kizuna serve` listens on.")
    session_days: int = Field(
        default=14, ge=1, le=365, description="How long a web sign-in lasts without signing in again."
    )
    secure_cookies: bool | None = Field(
        default=None,
        description=(
            "Mark cookies Secure. Default: when the request came over HTTPS (behind a TLS proxy, "
            "run uvicorn with --proxy-headers)."
        ),
    )

    # --- product-event ingestion (issue 4): add ingestion settings below this line ---

    # --- analytics engine, KPIs and LTV (issue 5): add analytics settings below this line ---

    # --- health scores, touch tiers, lifecycle stages, fit (issue 6): add their settings below this line ---

    @field_validator("timezone")
    @classmethod
    def _known_timezone(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError) as exc:
            raise ValueError(f"unknown time zone {value!r} (use an IANA name such as Asia/Tokyo)") from exc
        return value

    @field_validator("default_currency")
    @classmethod
    def _known_currency(cls, value: str) -> str:
        code = value.strip().upper()
        if code not in CURRENCY_EXPONENTS:
            raise ValueError(f"unknown currency {value!r} (use an ISO 4217 code such as JPY)")
        return code

    @field_validator("database_url")
    @classmethod
    def _usable_url(cls, value: str) -> str:
        value = value.strip()
        if "://" not in value:
            # A bare path is taken as an SQLite file: friendlier than an SQLAlchemy error.
            return f"sqlite:///{Path(value)}"
        if value.startswith(("postgres://", "postgresql://")):
            # Use the psycopg 3 driver the postgres extra installs.
            return "postgresql+psycopg://" + value.split("://", 1)[1]
        return value

    @property
    def zone(self) -> ZoneInfo:
        return ZoneInfo(self.timezone)
