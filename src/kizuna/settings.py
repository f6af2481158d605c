"""One typed configuration object, read from ``KIZUNA_*`` environment variables.

Built by an entry point (the CLI, the web app factory, ``kizuna.connect``) and passed
down; nothing below the entry points reads the environment. Every setting works with
no configuration at all.
"""

from __future__ import annotations

import os
import re
import sys
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date, time
from pathlib import Path
from typing import TYPE_CHECKING
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import Field, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from kizuna.domain.kpi_targets import DEFAULT_TARGETS, parse_targets
from kizuna.domain.money import CURRENCY_EXPONENTS

WEEKDAYS = ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")

if TYPE_CHECKING:
    from kizuna.services.context import RunContext

DEFAULT_DATABASE_FILE = "kizuna.db"


class Settings(BaseSettings):
    """Kizuna's settings. Each field is documented in ``docs/settings.md``."""

    model_config = SettingsConfigDict(env_prefix="KIZUNA_", extra="ignore", env_file=".env", env_file_encoding="utf-8")

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

    login_hashes_at_once: int = Field(
        default=1,
        ge=1,
        le=64,
        description=(
            "How many password checks (argon2, 64 MiB each) may run at once; further sign-ins wait "
            "up to 10 s, then get 429. Bounds the memory a flood of sign-ins can take."
        ),
    )

    # --- product-event ingestion (issue 4): add ingestion settings below this line ---
    usage_mapping: Path | None = Field(
        default=None,
        description=(
            "A TOML file saying which product events count as a login, which as the use of which "
            "feature, and which property carries session minutes (see `docs/usage.md`). Default: "
            "Segment's B2B SaaS names (`Signed In` with `session_minutes`, `Report Created`, …)."
        ),
    )

    rollup_defer_rate: int = Field(
        default=2000,
        ge=0,
        description=(
            "Events stored per second from which the ingestion writer updates the daily usage rollups about "
            "once a second (from a journal written in each commit) instead of in every commit: far fewer "
            "pages written under load, same figures (see `docs/usage.md`). 0: always in every commit."
        ),
    )

    tracking_origins: str = Field(
        default="",
        description=(
            "Web page origins allowed to send product events to the tracking API (`/v1/`) from a browser "
            "(CORS), comma-separated, e.g. `https://app.example.com,https://www.example.com`; `*` allows any "
            "origin. Default: none (server-side libraries need no CORS). Credentials are never allowed; use "
            "an ingest-scoped key in a browser (see `docs/usage.md`)."
        ),
    )

    # --- analytics engine, KPIs and LTV (issue 5): add analytics settings below this line ---
    analytics_url: str | None = Field(
        default=None,
        description=(
            "Where the KPIs are computed (an Ibis backend holding the same tables, see `docs/kpis.md`): "
            "`duckdb:///path/file.duckdb`, `duckdb:///path/folder` (Parquet files), `pyspark:///path/folder` "
            "(Parquet files, local Spark) or a PostgreSQL URL. Default: the operational store itself."
        ),
    )
    gross_margin: float = Field(
        default=0.8,
        description="Gross margin (収益率) used by the LTV formulas, a fraction from 0 to 1 (0.8 = 80%).",
    )
    acquisition_cost: float = Field(
        default=0,
        description=(
            "Cost to acquire one customer account (CAC, 新規顧客獲得コスト) in major units of the default "
            "currency (e.g. yen). Used by net LTV and LTV:CAC; 0 = not set."
        ),
    )
    retention_cost: float = Field(
        default=0,
        description=(
            "Cost to retain one customer account per year (既存顧客維持コスト) in major units of the default "
            "currency. Net LTV subtracts it times the expected lifetime in years."
        ),
    )
    # issue 21: lifetime value per account (sBG residual value)
    ltv_discount_rate: float = Field(
        default=0.10,
        description=(
            "Yearly discount rate (割引率) of the residual value per account, a fraction (0.10 = 10% a year); "
            "a term's rate is (1 + rate) ^ (term months ÷ 12) − 1. Greater than 0, at most 10."
        ),
    )
    ltv_segments: str = Field(
        default="plan",
        description=(
            "What the retention (sBG) is fitted by, besides the contract term, which is always a part: "
            "`plan` (default: plan × term), `tier` (touch tier × term), `industry`, or `none` (term only)."
        ),
    )
    ltv_min_cohorts: int = Field(
        default=3,
        description=(
            "A segment is fitted on its own when its contracts started in at least this many different months "
            "(and it has at least 20 contracts and 20 ended ones); else it uses the pooled fit of its term, and says so "
            "(a term with fewer than 20 ended contracts even pooled uses a constant churn rate)."
        ),
    )
    ltv_observed_from: date | None = Field(
        default=None,
        description=(
            "The day the store's contract history begins (YYYY-MM-DD), when the churns before it were never "
            "recorded (only the customers still active then were imported): contracts that started earlier are "
            "conditioned on having survived to it (left truncation) in the retention fit and the backtest. "
            "Default: the store's first usage day, or its first churn if earlier (none without usage data); "
            "1900-01-01 sees every contract from its start."
        ),
    )
    cache_dir: str = Field(
        default="",
        description=(
            "Folder where Kizuna keeps the SQL text of the KPI queries it compiled (in `sql/`, at most 16 MB), so "
            "that a new process (each `kizuna kpis`, a restarted server) does not compile them again: SQL text "
            "only, never any data (see `docs/kpis.md`). `off`: kept in memory only. Default: `kizuna` in the "
            "user's cache folder (`$XDG_CACHE_HOME`, else `~/.cache`; `~/Library/Caches` on macOS, "
            "`%LOCALAPPDATA%` on Windows)."
        ),
    )
    kpi_months: int = Field(default=12, description="Months the KPI report covers by default (1–120).")
    kpi_targets: str = Field(
        default=DEFAULT_TARGETS,
        description=(
            "Targets shown on the KPI page's tiles, e.g. 'nrr_12m >= 100%, logo_churn_rate <= 1%' "
            "(a KPI, >= or <=, a number; % for rates; money in major units). Empty: no targets."
        ),
    )

    # --- health scores, touch tiers, lifecycle stages, fit (issue 6): add their settings below this line ---
    segments_config: Path | None = Field(
        default=None,
        description=(
            "A TOML file with the touch-tier thresholds, lifecycle-stage rules, at-risk rules and the "
            "ideal customer profile (see `docs/segments.md`; `kizuna segments config` prints the "
            "default). Default: the shipped `segments.toml` (top 50% of revenue high touch, next 30% low touch)."
        ),
    )
    health_scorecards: Path | None = Field(
        default=None,
        description=(
            "A TOML file with the health scorecards (measures, weights, scoring functions, grade bands; "
            "see `docs/health.md`). A version saved by a lead in the web app wins over it. "
            "Default: the shipped `default_scorecards.toml`."
        ),
    )

    # --- the clock (issue 22) ---
    today: date | None = Field(
        default=None,
        description=(
            "The day the web app, the API and the command line take as today (YYYY-MM-DD), e.g. to show a demo company "
            "as of the day it was built; the tests fix it. Default: today's date in `KIZUNA_TIMEZONE`."
        ),
    )

    # --- jobs, the scheduler and the outbox (issue 13): add their settings below this line ---
    scheduler: bool = Field(
        default=True,
        description=(
            "Run the scheduled jobs inside `kizuna serve` (the daily job at `KIZUNA_DAILY_AT`, outbox "
            "delivery). Several servers on one store may all have it on: a lease in the store lets one "
            "of them run each job. `false`: run them with `kizuna jobs run` (cron) instead."
        ),
    )
    daily_at: time = Field(
        default=time(3, 0),
        description="Local time (in `KIZUNA_TIMEZONE`) at which the scheduler runs the daily job, `HH:MM`.",
    )
    outbox_max_attempts: int = Field(
        default=8, ge=1, le=100,
        description="Delivery attempts of an email or webhook before it is parked as failed (`kizuna outbox retry`).",
    )
    outbox_backoff_seconds: float = Field(
        default=30.0, ge=0.0, le=86400.0,
        description="Wait before the first retry of a failed delivery; it doubles after each attempt (at most 6 hours).",
    )
    webhook_secret: str | None = Field(
        default=None,
        description=(
            "Secret that signs generic webhooks (`X-Kizuna-Signature: sha256=<HMAC of the body>`), so the "
            "receiver can check the sender. Slack incoming webhooks need none."
        ),
    )
    smtp_host: str = Field(default="localhost", description="SMTP server for the emails Kizuna sends.")
    smtp_port: int = Field(default=25, ge=1, le=65535, description="SMTP port (587 for STARTTLS, 465 for TLS).")
    smtp_security: str = Field(
        default="none", description="`none`, `starttls` or `tls` (implicit TLS, usually port 465)."
    )
    smtp_username: str | None = Field(default=None, description="SMTP login name, when the server needs one.")
    smtp_password: str | None = Field(default=None, description="SMTP password (from the environment only).")
    mail_from: str = Field(default="kizuna@localhost", description="The From address of the emails Kizuna sends.")
    mail_reply_to: str | None = Field(default=None, description="Reply-To of the emails Kizuna sends, if any.")
    digest_day: str = Field(
        default="monday",
        description=(
            "Day of the week on which the daily job emails each CSM their worklist (the weekly digest, sent "
            "through the outbox): `monday` … `sunday`, or `off`."
        ),
    )
    base_url: str | None = Field(
        default=None,
        description=(
            "The address people open Kizuna at, e.g. `https://kizuna.example.co.jp`: links in emails point "
            "there. Without it, emails carry no links."
        ),
    )

    secret_key: str | None = Field(
        default=None,
        description=(
            "Secret that signs the unsubscribe links in emails (HMAC-SHA256): a link cannot be forged or "
            "altered. Default: a random secret Kizuna makes once and keeps in the store. Changing it makes the "
            "links in emails already sent invalid."
        ),
    )
    mail_language: str = Field(
        default="ja",
        description=(
            "The company's default language of emails to customers' contacts, `ja` or `en`: used when a "
            "contact has no language, or the template has no version in theirs."
        ),
    )
    mail_domain_rate: int = Field(
        default=0, ge=0, le=100_000,
        description=(
            "At most this many emails per minute to one recipient domain (e.g. `30`), so a large send does "
            "not look like spam to a customer's mail server; over it a message waits in the outbox for the "
            "next minute (it is not failed or lost). 0: no limit."
        ),
    )
    survey_fatigue_days: int = Field(
        default=90, ge=0, le=3650,
        description=(
            "Survey fatigue rule: a contact is asked to answer a survey at most once in this many days "
            "(by playbook or by hand); a contact asked more recently is skipped. 0: no limit."
        ),
    )
    survey_link_days: int = Field(
        default=14, ge=1, le=365,
        description="How many days the link in a survey email stays valid; after that it opens a page saying it expired.",
    )
    slack_webhook_url: str | None = Field(
        default=None,
        description=(
            "A Slack incoming-webhook URL (`https://hooks.slack.com/services/…`): the daily job posts there "
            "when an account's health grade turns red, and playbook webhook steps without a `url` post there. "
            "Sent through the outbox (retried). Default: no Slack alerts."
        ),
    )

    freshness_gaps: str = Field(
        default="",
        description=(
            "Expected silence per data feed before it counts as late (stale), in days: "
            "`usage=2,tickets=7` (sources: usage, tickets, surveys, subscriptions, activities). A source not "
            "named: derived from its own history (95th percentile of the gaps between days with data, at "
            "least 3 days). See docs/health.md#stale-feeds."
        ),
    )

    # --- CSV upload in the browser (issue 18): add upload settings below this line ---
    upload_max_bytes: int = Field(
        default=100 << 20,
        ge=1024,
        description=(
            "Largest file the web app's import upload accepts, in bytes (default 100 MB). Larger files: "
            "`kizuna import` on the command line, which has no limit."
        ),
    )
    upload_dir: Path | None = Field(
        default=None,
        description=(
            "Folder where uploaded files wait between preview, dry run and import (removed after a day). "
            "Default: `kizuna-uploads` in the system's temporary folder."
        ),
    )

    @field_validator("tracking_origins")
    @classmethod
    def _origins(cls, value: str) -> str:
        for origin in (o.strip() for o in value.split(",")):
            if not origin or origin == "*":
                continue
            scheme, sep, rest = origin.partition("://")
            if scheme.lower() not in ("http", "https") or not sep or not rest or "/" in rest.rstrip("/"):
                raise ValueError(
                    f"tracking origin {origin!r} is not an origin: use scheme://host[:port], e.g. "
                    "https://app.example.com, or *"
                )
        return value

    @field_validator("freshness_gaps")
    @classmethod
    def _gaps(cls, value: str) -> str:
        from kizuna.domain.freshness import parse_gaps
        from kizuna.errors import InvalidInput

        try:
            parse_gaps(value)
        except InvalidInput as exc:
            raise ValueError(str(exc)) from None
        return value

    @field_validator("timezone")
    @classmethod
    def _known_timezone(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError) as exc:
            raise ValueError(f"unknown time zone {value!r} (use an IANA name such as Asia/Tokyo)") from exc
        return value

    @field_validator("ltv_discount_rate")
    @classmethod
    def _discount_rate_range(cls, value: float) -> float:
        if not 0 < value <= 10:
            raise ValueError(f"the LTV discount rate must be greater than 0 and at most 10 (0.10 for 10%), not {value!r}")
        return value

    @field_validator("ltv_segments")
    @classmethod
    def _known_ltv_segments(cls, value: str) -> str:
        if value not in ("plan", "tier", "industry", "none"):
            raise ValueError(f"ltv_segments must be plan, tier, industry or none, not {value!r}")
        return value

    @field_validator("ltv_observed_from")
    @classmethod
    def _observed_from_range(cls, value: date | None) -> date | None:
        from kizuna.domain.dates import in_range, out_of_range_message

        if value is not None and not in_range(value):
            raise ValueError(out_of_range_message(value))
        return value

    @field_validator("ltv_min_cohorts")
    @classmethod
    def _min_cohorts_range(cls, value: int) -> int:
        if not 1 <= value <= 1000:
            raise ValueError(f"ltv_min_cohorts must be from 1 to 1000, not {value!r}")
        return value

    @field_validator("gross_margin")
    @classmethod
    def _margin_is_a_fraction(cls, value: float) -> float:
        if not 0 <= value <= 1:
            raise ValueError(f"gross margin must be a fraction from 0 to 1 (0.8 for 80%), not {value!r}")
        return value

    @field_validator("acquisition_cost", "retention_cost")
    @classmethod
    def _cost_not_negative(cls, value: float) -> float:
        if value < 0 or value != value:
            raise ValueError(f"a cost must be 0 or more (in major units of the default currency), not {value!r}")
        return value

    @field_validator("kpi_targets")
    @classmethod
    def _kpi_targets(cls, value: str) -> str:
        parse_targets(value)  # a ValueError names the bad item
        return value

    @field_validator("cache_dir")
    @classmethod
    def _cache_dir(cls, value: str) -> str:
        value = value.strip()
        if value.lower() == "off":
            return "off"
        if "\x00" in value:
            raise ValueError(f"{value!r} is not a folder's name (give a folder, or off to keep nothing on disk)")
        if value and Path(value).expanduser().exists() and not Path(value).expanduser().is_dir():
            raise ValueError(f"{value!r} is a file, not a folder (give a folder, or off to keep nothing on disk)")
        return value

    @field_validator("kpi_months")
    @classmethod
    def _kpi_months(cls, value: int) -> int:
        if not 1 <= value <= 120:
            raise ValueError(f"KPI months must be from 1 to 120, not {value!r}")
        return value

    @field_validator("analytics_url")
    @classmethod
    def _analytics_url(cls, value: str | None) -> str | None:
        if value is None or not value.strip():
            return None
        value = value.strip()
        scheme = value.split("://", 1)[0].split("+", 1)[0].lower() if "://" in value else ""
        if scheme not in ("sqlite", "postgresql", "postgres", "duckdb", "pyspark", "spark"):
            raise ValueError(
                f"unknown analytics URL {value!r}: use duckdb:///FILE, duckdb:///FOLDER, pyspark:///FOLDER, "
                "sqlite:///FILE or postgresql://…"
            )
        return value

    @field_validator("default_currency")
    @classmethod
    def _known_currency(cls, value: str) -> str:
        code = value.strip().upper()
        if code not in CURRENCY_EXPONENTS:
            raise ValueError(f"unknown currency {value!r} (use an ISO 4217 code such as JPY)")
        return code

    @field_validator("digest_day")
    @classmethod
    def _digest_day(cls, value: str) -> str:
        day = value.strip().lower()
        if day != "off" and day not in WEEKDAYS:
            raise ValueError(f"KIZUNA_DIGEST_DAY must be one of {', '.join(WEEKDAYS)} or off, not {value!r}")
        return day

    @field_validator("base_url")
    @classmethod
    def _base_url(cls, value: str | None) -> str | None:
        if value is None or not value.strip():
            return None
        url = value.strip().rstrip("/")
        if not re.fullmatch(r"https?://[^\s/?#]+(/[^\s?#]*)?", url):
            raise ValueError(f"KIZUNA_BASE_URL must be an http:// or https:// address, not {value!r}")
        return url

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

    @field_validator("mail_language")
    @classmethod
    def _mail_language(cls, value: str) -> str:
        value = value.strip().lower()
        if value not in ("ja", "en"):
            raise ValueError(f"KIZUNA_MAIL_LANGUAGE must be ja or en, not {value!r}")
        return value

    @field_validator("slack_webhook_url")
    @classmethod
    def _slack_url(cls, value: str | None) -> str | None:
        if value is None or not value.strip():
            return None
        if not re.fullmatch(r"https?://[^\s/?#]+[^\s]*", value.strip()):
            raise ValueError("KIZUNA_SLACK_WEBHOOK_URL must be an https:// (or http://) address")
        return value.strip()

    @field_validator("smtp_security")
    @classmethod
    def _smtp_security(cls, value: str) -> str:
        value = value.strip().lower()
        if value not in ("none", "starttls", "tls"):
            raise ValueError(f"SMTP security must be none, starttls or tls, not {value!r}")
        return value

    @property
    def tracking_origin_set(self) -> frozenset[str]:
        """``tracking_origins`` as a set of lower-case origins without a trailing slash."""
        return frozenset(o.strip().rstrip("/").lower() for o in self.tracking_origins.split(",") if o.strip())

    @property
    def sql_cache_folder(self) -> Path | None:
        """Where compiled SQL is kept on disk (``sql`` in ``KIZUNA_CACHE_DIR``), None when off
        (or when there is no home folder to put the default in)."""
        if self.cache_dir == "off":
            return None
        base = Path(self.cache_dir).expanduser() if self.cache_dir else user_cache_folder()
        return None if base is None else base / "sql"

    @property
    def zone(self) -> ZoneInfo:
        return ZoneInfo(self.timezone)

    def run_context(self) -> RunContext:
        """The frozen run context the services and jobs receive (files read once, now)."""
        from kizuna.services.context import LtvSettings, MailConfig, OutboxConfig, build_context

        return build_context(
            zone=self.zone,
            usage_mapping=self.usage_mapping,
            segments_config=self.segments_config,
            scorecards=self.health_scorecards,
            daily_at=self.daily_at,
            digest_weekday=None if self.digest_day == "off" else WEEKDAYS.index(self.digest_day),
            base_url=self.base_url,
            freshness_gaps=self.freshness_gaps,
            public_url=self.base_url or f"http://{self.host}:{self.port}",
            secret_key=self.secret_key,
            mail_language=self.mail_language,
            slack_webhook_url=self.slack_webhook_url,
            survey_fatigue_days=self.survey_fatigue_days,
            survey_link_days=self.survey_link_days,
            ltv=LtvSettings(self.ltv_segments, self.ltv_discount_rate, self.gross_margin, self.ltv_min_cohorts,
                            self.ltv_observed_from),
            mail=MailConfig(
                host=self.smtp_host, port=self.smtp_port, security=self.smtp_security, username=self.smtp_username,
                password=self.smtp_password, sender=self.mail_from, reply_to=self.mail_reply_to,
            ),
            outbox=OutboxConfig(
                max_attempts=self.outbox_max_attempts, backoff_seconds=self.outbox_backoff_seconds,
                webhook_secret=self.webhook_secret, domain_rate_per_minute=self.mail_domain_rate,
            ),
        )


def user_cache_folder(environ: Mapping[str, str] | None = None, platform: str = sys.platform) -> Path | None:
    """Kizuna's folder in the user's cache folder (the XDG base directory on Linux), None
    without a home folder."""
    environ = os.environ if environ is None else environ
    try:
        if platform == "win32":
            local = environ.get("LOCALAPPDATA")
            return (Path(local) if local else Path.home() / "AppData" / "Local") / "kizuna" / "Cache"
        if platform == "darwin":
            return Path.home() / "Library" / "Caches" / "kizuna"
        xdg = environ.get("XDG_CACHE_HOME", "")
        return (Path(xdg) if os.path.isabs(xdg) else Path.home() / ".cache") / "kizuna"  # a relative one: ignored (XDG)
    except RuntimeError:  # no home folder
        return None


#: Settings whose value is a secret: shown as set or not, never as it is.
SECRET_SETTINGS = frozenset({"smtp_password", "webhook_secret", "secret_key", "slack_webhook_url"})
#: Settings holding a URL that may carry a password (``scheme://user:password@host``).
URL_SETTINGS = frozenset({"database_url", "analytics_url"})


@dataclass(frozen=True)
class SettingRow:
    """One setting as the admin page shows it: ``source`` is ``environment``, ``dotenv``
    (the ``.env`` file), ``program`` (passed to ``Settings(...)`` by the program embedding
    Kizuna) or ``default``."""

    name: str  # KIZUNA_…
    value: str
    source: str
    secret: bool


def _mask_url(url: str) -> str:
    """``postgresql://kizuna:hunter2@db/kizuna`` → ``postgresql://kizuna:•••@db/kizuna``."""
    scheme, sep, rest = url.partition("://")
    credentials, at, host = rest.rpartition("@")
    if not sep or not at or ":" not in credentials:
        return url
    return f"{scheme}://{credentials.split(':', 1)[0]}:•••@{host}"


def _shown(value: object) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, time):
        return value.strftime("%H:%M")
    return str(value)


def setting_rows(settings: Settings, environ: Mapping[str, str] | None = None) -> list[SettingRow]:
    """Every ``KIZUNA_`` setting in force, in the order of ``docs/settings.md``, with where its
    value came from; secrets masked (a password inside a URL too)."""
    from dotenv import dotenv_values

    environ = os.environ if environ is None else environ
    env_names = {key.upper() for key in environ}
    env_file = settings.model_config.get("env_file")
    dotenv_names = (
        {key.upper() for key in dotenv_values(str(env_file))} if isinstance(env_file, str) and Path(env_file).is_file()
        else set()
    )  # fmt: skip
    rows = []
    for field in type(settings).model_fields:
        name = f"KIZUNA_{field.upper()}"
        if name in env_names:
            source = "environment"
        elif name in dotenv_names:
            source = "dotenv"
        elif field in settings.model_fields_set:
            source = "program"
        else:
            source = "default"
        raw = getattr(settings, field)
        secret = field in SECRET_SETTINGS
        if secret:
            value = "•••" if raw else ""
        elif field in URL_SETTINGS and raw:
            value = _mask_url(str(raw))
        else:
            value = _shown(raw)
        rows.append(SettingRow(name=name, value=value, source=source, secret=secret))
    return rows
