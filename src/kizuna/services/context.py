"""The run context: what the services need to know from the settings, built once per
entry point and passed down.

An entry point (the CLI, ``create_app``, the scheduler, ``kizuna.connect``) reads the
settings, calls :func:`build_context` and hands the frozen result to the services and
jobs. Nothing below keeps configuration in module state, so two apps on two stores with
different settings live side by side in one process, and a test varies a setting by
building another context.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, time
from pathlib import Path
from zoneinfo import ZoneInfo

from kizuna.domain.freshness import parse_gaps
from kizuna.domain.segments import SegmentsConfig
from kizuna.domain.segments_config import default_segments_config
from kizuna.domain.usage import DEFAULT_MAPPING, UsageMapping
from kizuna.services.usage import DEFAULT_ZONE, RollupConfig, load_mapping


@dataclass(frozen=True)
class MailConfig:
    """How email leaves the building (SMTP); used by the outbox's email sender."""

    host: str = "localhost"
    port: int = 25
    security: str = "none"  # "none", "starttls" or "tls"
    username: str | None = None
    password: str | None = field(default=None, repr=False)
    sender: str = "kizuna@localhost"
    reply_to: str | None = None
    timeout: float = 30.0


@dataclass(frozen=True)
class OutboxConfig:
    """How the outbox delivers: attempts before a message is parked as failed, backoff."""

    max_attempts: int = 8
    backoff_seconds: float = 30.0  # first retry after this; doubles each time
    max_backoff_seconds: float = 6 * 3600.0
    claim_seconds: float = 300.0  # a claimed message is retried after this if its sender died
    webhook_timeout: float = 10.0
    webhook_secret: str | None = field(default=None, repr=False)  # signs generic webhooks (HMAC-SHA256)
    domain_rate_per_minute: int = 0  # emails per minute to one recipient domain; over it a message waits (0: no limit)


@dataclass(frozen=True)
class LtvSettings:
    """Lifetime value per account (issue 21): what the retention is fitted by besides the
    term (``plan``, ``tier``, ``industry`` or ``none``), the yearly discount rate, the
    gross margin, the start months a segment needs to be fitted on its own, and the day the
    contract history begins (None: every contract seen from its start)."""

    segment_by: str = "plan"
    annual_discount_rate: float = 0.10
    margin: float = 0.8
    min_cohorts: int = 3
    observed_from: date | None = None


@dataclass(frozen=True)
class RunContext:
    """Everything a service or job reads from the configuration, as plain values."""

    zone: ZoneInfo = DEFAULT_ZONE
    usage_mapping: UsageMapping = DEFAULT_MAPPING
    segments_path: Path | None = None  # None: the shipped segments.toml
    scorecards_path: Path | None = None  # a saved version in the store wins over it
    daily_at: time = time(3, 0)  # local time (``zone``) of the scheduled daily job
    digest_weekday: int | None = 0  # the weekly digest emails go out on this day (0: Monday); None: never
    base_url: str | None = None  # where people open Kizuna, for links in emails
    mail: MailConfig = field(default_factory=MailConfig)
    outbox: OutboxConfig = field(default_factory=OutboxConfig)
    freshness_gaps: tuple[tuple[str, int], ...] = ()  # (source, expected gap in days) set by the settings
    public_url: str = "http://127.0.0.1:8000"  # base_url, else the address `kizuna serve` listens on (unsubscribe links)
    secret_key: str | None = field(default=None, repr=False)  # signs unsubscribe links (None: a secret kept in the store)
    mail_language: str = "ja"  # the company default language of emails to contacts
    slack_webhook_url: str | None = field(default=None, repr=False)  # alerts and playbook Slack steps without a URL
    ltv: LtvSettings = field(default_factory=LtvSettings)
    survey_fatigue_days: int = 90  # a contact is asked at most once in this many days (0: no limit)
    survey_link_days: int = 14  # a survey link is valid this many days

    @property
    def rollup(self) -> RollupConfig:
        """The zone and event mapping the usage rollups use."""
        return RollupConfig(self.zone, self.usage_mapping)

    def segments(self) -> SegmentsConfig:
        """The tier, stage, at-risk and fit rules: the file's current content (read again
        when it changes, so a long-running server follows an edit), else the default."""
        from kizuna.services.segments import load_config

        return load_config(self.segments_path) if self.segments_path is not None else default_segments_config()


def build_context(
    *,
    zone: ZoneInfo = DEFAULT_ZONE,
    usage_mapping: Path | None = None,
    segments_config: Path | None = None,
    scorecards: Path | None = None,
    daily_at: time = time(3, 0),
    digest_weekday: int | None = 0,
    base_url: str | None = None,
    mail: MailConfig | None = None,
    outbox: OutboxConfig | None = None,
    freshness_gaps: str = "",
    public_url: str | None = None,
    secret_key: str | None = None,
    mail_language: str = "ja",
    slack_webhook_url: str | None = None,
    ltv: LtvSettings | None = None,
    survey_fatigue_days: int = 90,
    survey_link_days: int = 14,
) -> RunContext:
    """Read the configuration files named by the settings (once) into a context.

    A file that is missing or wrong raises ``ConfigurationError`` naming it, at start-up
    rather than in the middle of the night's job.
    """
    context = RunContext(
        zone=zone,
        usage_mapping=load_mapping(usage_mapping),
        segments_path=segments_config,
        scorecards_path=scorecards,
        daily_at=daily_at,
        digest_weekday=digest_weekday,
        base_url=base_url,
        mail=mail or MailConfig(),
        outbox=outbox or OutboxConfig(),
        freshness_gaps=tuple(parse_gaps(freshness_gaps).items()),
        public_url=(public_url or base_url or "http://127.0.0.1:8000").rstrip("/"),
        secret_key=secret_key,
        mail_language=mail_language,
        slack_webhook_url=slack_webhook_url,
        ltv=ltv or LtvSettings(),
        survey_fatigue_days=survey_fatigue_days,
        survey_link_days=survey_link_days,
    )
    context.segments()  # a bad file is reported now, not at 03:00
    return context
