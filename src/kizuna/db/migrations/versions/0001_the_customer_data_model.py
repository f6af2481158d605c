"""the customer data model

Revision ID: 0001
Revises:
Create Date: 2026-11-23
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

import kizuna.db.types

revision: str = "0001"
down_revision: str | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "products",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("code", sa.String(length=64), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column(
            "kind",
            sa.Enum("plan", "addon", name="product_kind", native_enum=False, create_constraint=True),
            nullable=False,
        ),
        sa.Column("rank", sa.Integer(), nullable=False),
        sa.Column("list_price", sa.BigInteger(), nullable=False),
        sa.Column("currency", sa.String(length=3), nullable=False),
        sa.Column("seats_included", sa.Integer(), nullable=True),
        sa.Column("description", sa.Text(), nullable=True),
        sa.Column("is_active", sa.Boolean(), nullable=False),
        sa.Column("created_at", kizuna.db.types.UTCDateTime(timezone=True), nullable=False),
        sa.Column("updated_at", kizuna.db.types.UTCDateTime(timezone=True), nullable=False),
        sa.CheckConstraint("list_price >= 0", name=op.f("ck_products_list_price_not_negative")),
        sa.CheckConstraint(
            "seats_included IS NULL OR seats_included >= 0",
            name=op.f("ck_products_seats_not_negative"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_products")),
        sa.UniqueConstraint("code", name=op.f("uq_products_code")),
    )
    op.create_table(
        "users",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("email", sa.String(length=254), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column(
            "role",
            sa.Enum(
                "admin",
                "lead",
                "csm",
                "viewer",
                name="user_role",
                native_enum=False,
                create_constraint=True,
            ),
            nullable=False,
        ),
        sa.Column("locale", sa.String(length=8), nullable=True),
        sa.Column("password_hash", sa.String(length=255), nullable=True),
        sa.Column("is_active", sa.Boolean(), nullable=False),
        sa.Column("last_login_at", kizuna.db.types.UTCDateTime(timezone=True), nullable=True),
        sa.Column("created_at", kizuna.db.types.UTCDateTime(timezone=True), nullable=False),
        sa.Column("updated_at", kizuna.db.types.UTCDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_users")),
        sa.UniqueConstraint("email", name=op.f("uq_users_email")),
    )
    op.create_table(
        "accounts",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("external_id", sa.String(length=128), nullable=False),
        sa.Column("name", sa.String(length=255), nullable=False),
        sa.Column("domain", sa.String(length=255), nullable=True),
        sa.Column("industry", sa.String(length=100), nullable=True),
        sa.Column("employee_count", sa.Integer(), nullable=True),
        sa.Column("owner_id", sa.Integer(), nullable=True),
        sa.Column("parent_id", sa.Integer(), nullable=True),
        sa.Column(
            "custom_fields",
            sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"),
            nullable=False,
        ),
        sa.Column("created_at", kizuna.db.types.UTCDateTime(timezone=True), nullable=False),
        sa.Column("updated_at", kizuna.db.types.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["owner_id"], ["users.id"], name=op.f("fk_accounts_owner_id_users"), ondelete="SET NULL"
        ),
        sa.ForeignKeyConstraint(
            ["parent_id"],
            ["accounts.id"],
            name=op.f("fk_accounts_parent_id_accounts"),
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_accounts")),
        sa.UniqueConstraint("external_id", name=op.f("uq_accounts_external_id")),
    )
    with op.batch_alter_table("accounts", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_accounts_domain"), ["domain"], unique=False)
        batch_op.create_index(batch_op.f("ix_accounts_name"), ["name"], unique=False)
        batch_op.create_index(batch_op.f("ix_accounts_owner_id"), ["owner_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_accounts_parent_id"), ["parent_id"], unique=False)

    op.create_table(
        "contacts",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("external_id", sa.String(length=128), nullable=False),
        sa.Column("account_id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("email", sa.String(length=254), nullable=True),
        sa.Column("role", sa.String(length=100), nullable=True),
        sa.Column("is_champion", sa.Boolean(), nullable=False),
        sa.Column("created_at", kizuna.db.types.UTCDateTime(timezone=True), nullable=False),
        sa.Column("updated_at", kizuna.db.types.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["account_id"],
            ["accounts.id"],
            name=op.f("fk_contacts_account_id_accounts"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_contacts")),
        sa.UniqueConstraint("external_id", name=op.f("uq_contacts_external_id")),
    )
    with op.batch_alter_table("contacts", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_contacts_account_id"), ["account_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_contacts_email"), ["email"], unique=False)

    op.create_table(
        "onboarding_milestones",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("external_id", sa.String(length=128), nullable=False),
        sa.Column("account_id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.Column("due_on", sa.Date(), nullable=True),
        sa.Column("completed_at", kizuna.db.types.UTCDateTime(timezone=True), nullable=True),
        sa.Column("created_at", kizuna.db.types.UTCDateTime(timezone=True), nullable=False),
        sa.Column("updated_at", kizuna.db.types.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["account_id"],
            ["accounts.id"],
            name=op.f("fk_onboarding_milestones_account_id_accounts"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_onboarding_milestones")),
        sa.UniqueConstraint("external_id", name=op.f("uq_onboarding_milestones_external_id")),
    )
    with op.batch_alter_table("onboarding_milestones", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_onboarding_milestones_account_id"), ["account_id"], unique=False)

    op.create_table(
        "subscriptions",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("external_id", sa.String(length=128), nullable=False),
        sa.Column("account_id", sa.Integer(), nullable=False),
        sa.Column("product_id", sa.Integer(), nullable=False),
        sa.Column("quantity", sa.Integer(), nullable=False),
        sa.Column("monthly_amount", sa.BigInteger(), nullable=False),
        sa.Column("currency", sa.String(length=3), nullable=False),
        sa.Column(
            "billing_interval",
            sa.Enum("month", "year", name="billing_interval", native_enum=False, create_constraint=True),
            nullable=False,
        ),
        sa.Column(
            "status",
            sa.Enum(
                "trial",
                "active",
                "canceled",
                "expired",
                name="subscription_status",
                native_enum=False,
                create_constraint=True,
            ),
            nullable=False,
        ),
        sa.Column("started_on", sa.Date(), nullable=False),
        sa.Column("trial_ends_on", sa.Date(), nullable=True),
        sa.Column("current_term_end", sa.Date(), nullable=True),
        sa.Column("canceled_at", kizuna.db.types.UTCDateTime(timezone=True), nullable=True),
        sa.Column("ended_on", sa.Date(), nullable=True),
        sa.Column("cancel_reason", sa.String(length=255), nullable=True),
        sa.Column("created_at", kizuna.db.types.UTCDateTime(timezone=True), nullable=False),
        sa.Column("updated_at", kizuna.db.types.UTCDateTime(timezone=True), nullable=False),
        sa.CheckConstraint(
            "ended_on IS NULL OR ended_on >= started_on",
            name=op.f("ck_subscriptions_ends_after_start"),
        ),
        sa.CheckConstraint("monthly_amount >= 0", name=op.f("ck_subscriptions_monthly_amount_not_negative")),
        sa.CheckConstraint("quantity >= 0", name=op.f("ck_subscriptions_quantity_not_negative")),
        sa.ForeignKeyConstraint(
            ["account_id"],
            ["accounts.id"],
            name=op.f("fk_subscriptions_account_id_accounts"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["product_id"],
            ["products.id"],
            name=op.f("fk_subscriptions_product_id_products"),
            ondelete="RESTRICT",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_subscriptions")),
        sa.UniqueConstraint("external_id", name=op.f("uq_subscriptions_external_id")),
    )
    with op.batch_alter_table("subscriptions", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_subscriptions_account_id"), ["account_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_subscriptions_current_term_end"), ["current_term_end"], unique=False)
        batch_op.create_index(batch_op.f("ix_subscriptions_product_id"), ["product_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_subscriptions_status"), ["status"], unique=False)

    op.create_table(
        "success_goals",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("external_id", sa.String(length=128), nullable=False),
        sa.Column("account_id", sa.Integer(), nullable=False),
        sa.Column("title", sa.String(length=300), nullable=False),
        sa.Column("metric", sa.String(length=200), nullable=True),
        sa.Column("baseline_value", sa.Float(), nullable=True),
        sa.Column("target_value", sa.Float(), nullable=True),
        sa.Column("current_value", sa.Float(), nullable=True),
        sa.Column("due_on", sa.Date(), nullable=True),
        sa.Column(
            "status",
            sa.Enum(
                "not_started",
                "on_track",
                "at_risk",
                "achieved",
                "missed",
                name="goal_status",
                native_enum=False,
                create_constraint=True,
            ),
            nullable=False,
        ),
        sa.Column("created_at", kizuna.db.types.UTCDateTime(timezone=True), nullable=False),
        sa.Column("updated_at", kizuna.db.types.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["account_id"],
            ["accounts.id"],
            name=op.f("fk_success_goals_account_id_accounts"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_success_goals")),
        sa.UniqueConstraint("external_id", name=op.f("uq_success_goals_external_id")),
    )
    with op.batch_alter_table("success_goals", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_success_goals_account_id"), ["account_id"], unique=False)

    op.create_table(
        "tasks",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("external_id", sa.String(length=128), nullable=False),
        sa.Column("account_id", sa.Integer(), nullable=True),
        sa.Column("assignee_id", sa.Integer(), nullable=True),
        sa.Column("title", sa.String(length=300), nullable=False),
        sa.Column("description", sa.Text(), nullable=True),
        sa.Column(
            "priority",
            sa.Enum(
                "low",
                "normal",
                "high",
                name="task_priority",
                native_enum=False,
                create_constraint=True,
            ),
            nullable=False,
        ),
        sa.Column(
            "status",
            sa.Enum(
                "open",
                "done",
                "canceled",
                name="task_status",
                native_enum=False,
                create_constraint=True,
            ),
            nullable=False,
        ),
        sa.Column("due_on", sa.Date(), nullable=True),
        sa.Column("completed_at", kizuna.db.types.UTCDateTime(timezone=True), nullable=True),
        sa.Column("source", sa.String(length=100), nullable=False),
        sa.Column("created_at", kizuna.db.types.UTCDateTime(timezone=True), nullable=False),
        sa.Column("updated_at", kizuna.db.types.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["account_id"],
            ["accounts.id"],
            name=op.f("fk_tasks_account_id_accounts"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["assignee_id"],
            ["users.id"],
            name=op.f("fk_tasks_assignee_id_users"),
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_tasks")),
        sa.UniqueConstraint("external_id", name=op.f("uq_tasks_external_id")),
    )
    with op.batch_alter_table("tasks", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_tasks_account_id"), ["account_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_tasks_assignee_id"), ["assignee_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_tasks_due_on"), ["due_on"], unique=False)

    op.create_table(
        "usage_daily",
        sa.Column("account_id", sa.Integer(), nullable=False),
        sa.Column("day", sa.Date(), nullable=False),
        sa.Column("metric", sa.String(length=100), nullable=False),
        sa.Column("value", sa.Float(), nullable=False),
        sa.ForeignKeyConstraint(
            ["account_id"],
            ["accounts.id"],
            name=op.f("fk_usage_daily_account_id_accounts"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("account_id", "day", "metric", name=op.f("pk_usage_daily")),
    )
    op.create_table(
        "activities",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("external_id", sa.String(length=128), nullable=False),
        sa.Column("account_id", sa.Integer(), nullable=False),
        sa.Column("contact_id", sa.Integer(), nullable=True),
        sa.Column("author_id", sa.Integer(), nullable=True),
        sa.Column(
            "kind",
            sa.Enum(
                "meeting",
                "call",
                "email",
                "note",
                name="activity_kind",
                native_enum=False,
                create_constraint=True,
            ),
            nullable=False,
        ),
        sa.Column("occurred_at", kizuna.db.types.UTCDateTime(timezone=True), nullable=False),
        sa.Column("subject", sa.String(length=500), nullable=True),
        sa.Column("summary", sa.Text(), nullable=True),
        sa.Column("created_at", kizuna.db.types.UTCDateTime(timezone=True), nullable=False),
        sa.Column("updated_at", kizuna.db.types.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["account_id"],
            ["accounts.id"],
            name=op.f("fk_activities_account_id_accounts"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["author_id"],
            ["users.id"],
            name=op.f("fk_activities_author_id_users"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["contact_id"],
            ["contacts.id"],
            name=op.f("fk_activities_contact_id_contacts"),
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_activities")),
        sa.UniqueConstraint("external_id", name=op.f("uq_activities_external_id")),
    )
    with op.batch_alter_table("activities", schema=None) as batch_op:
        batch_op.create_index("ix_activities_account_time", ["account_id", "occurred_at"], unique=False)

    op.create_table(
        "survey_responses",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("external_id", sa.String(length=128), nullable=False),
        sa.Column("account_id", sa.Integer(), nullable=False),
        sa.Column("contact_id", sa.Integer(), nullable=True),
        sa.Column(
            "kind",
            sa.Enum("nps", "csat", name="survey_kind", native_enum=False, create_constraint=True),
            nullable=False,
        ),
        sa.Column("score", sa.Integer(), nullable=False),
        sa.Column("comment", sa.Text(), nullable=True),
        sa.Column("answered_at", kizuna.db.types.UTCDateTime(timezone=True), nullable=False),
        sa.Column("created_at", kizuna.db.types.UTCDateTime(timezone=True), nullable=False),
        sa.Column("updated_at", kizuna.db.types.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["account_id"],
            ["accounts.id"],
            name=op.f("fk_survey_responses_account_id_accounts"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["contact_id"],
            ["contacts.id"],
            name=op.f("fk_survey_responses_contact_id_contacts"),
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_survey_responses")),
        sa.UniqueConstraint("external_id", name=op.f("uq_survey_responses_external_id")),
    )
    with op.batch_alter_table("survey_responses", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_survey_responses_account_id"), ["account_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_survey_responses_answered_at"), ["answered_at"], unique=False)

    op.create_table(
        "tickets",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("external_id", sa.String(length=128), nullable=False),
        sa.Column("account_id", sa.Integer(), nullable=False),
        sa.Column("contact_id", sa.Integer(), nullable=True),
        sa.Column("subject", sa.String(length=500), nullable=True),
        sa.Column(
            "status",
            sa.Enum(
                "open",
                "pending",
                "solved",
                "closed",
                name="ticket_status",
                native_enum=False,
                create_constraint=True,
            ),
            nullable=False,
        ),
        sa.Column(
            "priority",
            sa.Enum(
                "low",
                "normal",
                "high",
                "urgent",
                name="ticket_priority",
                native_enum=False,
                create_constraint=True,
            ),
            nullable=False,
        ),
        sa.Column(
            "channel",
            sa.Enum(
                "email",
                "chat",
                "phone",
                "web",
                name="ticket_channel",
                native_enum=False,
                create_constraint=True,
            ),
            nullable=False,
        ),
        sa.Column("opened_at", kizuna.db.types.UTCDateTime(timezone=True), nullable=False),
        sa.Column("first_response_at", kizuna.db.types.UTCDateTime(timezone=True), nullable=True),
        sa.Column("resolved_at", kizuna.db.types.UTCDateTime(timezone=True), nullable=True),
        sa.Column("message_count", sa.Integer(), nullable=False),
        sa.Column("csat", sa.Integer(), nullable=True),
        sa.Column("created_at", kizuna.db.types.UTCDateTime(timezone=True), nullable=False),
        sa.Column("updated_at", kizuna.db.types.UTCDateTime(timezone=True), nullable=False),
        sa.CheckConstraint("csat IS NULL OR (csat >= 1 AND csat <= 5)", name=op.f("ck_tickets_csat_1_to_5")),
        sa.CheckConstraint("message_count >= 0", name=op.f("ck_tickets_message_count_not_negative")),
        sa.ForeignKeyConstraint(
            ["account_id"],
            ["accounts.id"],
            name=op.f("fk_tickets_account_id_accounts"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["contact_id"],
            ["contacts.id"],
            name=op.f("fk_tickets_contact_id_contacts"),
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_tickets")),
        sa.UniqueConstraint("external_id", name=op.f("uq_tickets_external_id")),
    )
    with op.batch_alter_table("tickets", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_tickets_account_id"), ["account_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_tickets_opened_at"), ["opened_at"], unique=False)

    op.create_table(
        "usage_events",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("source", sa.String(length=64), nullable=False),
        sa.Column("message_id", sa.String(length=128), nullable=False),
        sa.Column("account_id", sa.Integer(), nullable=False),
        sa.Column("contact_id", sa.Integer(), nullable=True),
        sa.Column("anonymous_id", sa.String(length=128), nullable=True),
        sa.Column("event", sa.String(length=200), nullable=False),
        sa.Column("timestamp", kizuna.db.types.UTCDateTime(timezone=True), nullable=False),
        sa.Column("received_at", kizuna.db.types.UTCDateTime(timezone=True), nullable=False),
        sa.Column(
            "properties",
            sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"),
            nullable=False,
        ),
        sa.ForeignKeyConstraint(
            ["account_id"],
            ["accounts.id"],
            name=op.f("fk_usage_events_account_id_accounts"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["contact_id"],
            ["contacts.id"],
            name=op.f("fk_usage_events_contact_id_contacts"),
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_usage_events")),
        sa.UniqueConstraint("source", "message_id", name=op.f("uq_usage_events_source_message_id")),
    )
    with op.batch_alter_table("usage_events", schema=None) as batch_op:
        batch_op.create_index("ix_usage_events_account_time", ["account_id", "timestamp"], unique=False)
        batch_op.create_index(batch_op.f("ix_usage_events_contact_id"), ["contact_id"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("usage_events", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_usage_events_contact_id"))
        batch_op.drop_index("ix_usage_events_account_time")

    op.drop_table("usage_events")
    with op.batch_alter_table("tickets", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_tickets_opened_at"))
        batch_op.drop_index(batch_op.f("ix_tickets_account_id"))

    op.drop_table("tickets")
    with op.batch_alter_table("survey_responses", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_survey_responses_answered_at"))
        batch_op.drop_index(batch_op.f("ix_survey_responses_account_id"))

    op.drop_table("survey_responses")
    with op.batch_alter_table("activities", schema=None) as batch_op:
        batch_op.drop_index("ix_activities_account_time")

    op.drop_table("activities")
    op.drop_table("usage_daily")
    with op.batch_alter_table("tasks", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_tasks_due_on"))
        batch_op.drop_index(batch_op.f("ix_tasks_assignee_id"))
        batch_op.drop_index(batch_op.f("ix_tasks_account_id"))

    op.drop_table("tasks")
    with op.batch_alter_table("success_goals", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_success_goals_account_id"))

    op.drop_table("success_goals")
    with op.batch_alter_table("subscriptions", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_subscriptions_status"))
        batch_op.drop_index(batch_op.f("ix_subscriptions_product_id"))
        batch_op.drop_index(batch_op.f("ix_subscriptions_current_term_end"))
        batch_op.drop_index(batch_op.f("ix_subscriptions_account_id"))

    op.drop_table("subscriptions")
    with op.batch_alter_table("onboarding_milestones", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_onboarding_milestones_account_id"))

    op.drop_table("onboarding_milestones")
    with op.batch_alter_table("contacts", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_contacts_email"))
        batch_op.drop_index(batch_op.f("ix_contacts_account_id"))

    op.drop_table("contacts")
    with op.batch_alter_table("accounts", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_accounts_parent_id"))
        batch_op.drop_index(batch_op.f("ix_accounts_owner_id"))
        batch_op.drop_index(batch_op.f("ix_accounts_name"))
        batch_op.drop_index(batch_op.f("ix_accounts_domain"))

    op.drop_table("accounts")
    op.drop_table("users")
    op.drop_table("products")
