"""surveys that are sent: programmes, invitations (signed single-use links), CES answers;
the knowledge base: articles and their bigram search index

Revision ID: 0023
Revises: 0022
Create Date: 2026-12-06
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import kizuna.db.types

revision: str = "0023"
down_revision: str | None = "0022"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

OLD_KINDS = ("nps", "csat")
NEW_KINDS = ("nps", "csat", "ces")


def _kind(values: tuple[str, ...]) -> sa.Enum:
    return sa.Enum(*values, name="survey_kind", native_enum=False, create_constraint=True, length=4)


def _answers_take(values: tuple[str, ...]) -> None:
    """survey_responses.kind's CHECK constraint names the kinds there are."""
    if op.get_bind().dialect.name == "sqlite":
        with op.batch_alter_table("survey_responses", recreate="always") as batch_op:
            batch_op.alter_column("kind", existing_type=_kind(OLD_KINDS if values == NEW_KINDS else NEW_KINDS),
                                  type_=_kind(values), existing_nullable=False)  # fmt: skip
    else:
        op.drop_constraint(op.f("ck_survey_responses_survey_kind"), "survey_responses", type_="check")
        op.create_check_constraint("survey_kind", "survey_responses",
                                   "kind IN (" + ", ".join(f"'{v}'" for v in values) + ")")  # fmt: skip


def upgrade() -> None:
    _answers_take(NEW_KINDS)
    op.create_table(
        "survey_programmes",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("key", sa.String(length=64), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("kind", _kind(NEW_KINDS), nullable=False),
        sa.Column("question_ja", sa.String(length=500), nullable=True),
        sa.Column("question_en", sa.String(length=500), nullable=True),
        sa.Column("created_at", kizuna.db.types.UTCDateTime(timezone=True), nullable=False),
        sa.Column("updated_at", kizuna.db.types.UTCDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_survey_programmes")),
        sa.UniqueConstraint("key", name=op.f("uq_survey_programmes_key")),
    )
    op.create_table(
        "survey_invitations",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("programme_id", sa.Integer(), nullable=False),
        sa.Column("account_id", sa.Integer(), nullable=False),
        sa.Column("contact_id", sa.Integer(), nullable=False),
        sa.Column("source", sa.String(length=100), nullable=False),
        sa.Column("sent_at", kizuna.db.types.UTCDateTime(timezone=True), nullable=False),
        sa.Column("expires_at", kizuna.db.types.UTCDateTime(timezone=True), nullable=False),
        sa.Column("answered_at", kizuna.db.types.UTCDateTime(timezone=True), nullable=True),
        sa.Column("response_id", sa.Integer(), nullable=True),
        sa.ForeignKeyConstraint(["account_id"], ["accounts.id"], name=op.f("fk_survey_invitations_account_id_accounts"),
                                ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["contact_id"], ["contacts.id"], name=op.f("fk_survey_invitations_contact_id_contacts"),
                                ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["programme_id"], ["survey_programmes.id"],
                                name=op.f("fk_survey_invitations_programme_id_survey_programmes"), ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["response_id"], ["survey_responses.id"],
                                name=op.f("fk_survey_invitations_response_id_survey_responses"), ondelete="SET NULL"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_survey_invitations")),
        sa.UniqueConstraint("response_id", name=op.f("uq_survey_invitations_response_id")),
    )  # fmt: skip
    op.create_index("ix_survey_invitations_contact_sent", "survey_invitations", ["contact_id", "sent_at"])
    op.create_index(op.f("ix_survey_invitations_account_id"), "survey_invitations", ["account_id"])
    op.create_index(op.f("ix_survey_invitations_programme_id"), "survey_invitations", ["programme_id"])
    op.create_table(
        "kb_articles",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("slug", sa.String(length=120), nullable=False),
        sa.Column("language", sa.String(length=2), nullable=False),
        sa.Column("title", sa.String(length=300), nullable=False),
        sa.Column("category", sa.String(length=100), nullable=False),
        sa.Column("body", sa.Text(), nullable=False),
        sa.Column("source", sa.String(length=500), nullable=True),
        sa.Column("created_at", kizuna.db.types.UTCDateTime(timezone=True), nullable=False),
        sa.Column("updated_at", kizuna.db.types.UTCDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_kb_articles")),
        sa.UniqueConstraint("slug", name=op.f("uq_kb_articles_slug")),
    )
    op.create_index(op.f("ix_kb_articles_language"), "kb_articles", ["language"])
    op.create_index(op.f("ix_kb_articles_category"), "kb_articles", ["category"])
    op.create_table(
        "kb_article_bigrams",
        sa.Column("bigram", sa.String(length=2), nullable=False),
        sa.Column("article_id", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(["article_id"], ["kb_articles.id"],
                                name=op.f("fk_kb_article_bigrams_article_id_kb_articles"), ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("bigram", "article_id", name=op.f("pk_kb_article_bigrams")),
        sqlite_with_rowid=False,
    )  # fmt: skip
    op.create_index(op.f("ix_kb_article_bigrams_article_id"), "kb_article_bigrams", ["article_id"])


def downgrade() -> None:
    op.drop_table("kb_article_bigrams")
    op.drop_table("kb_articles")
    op.drop_table("survey_invitations")
    op.drop_table("survey_programmes")
    op.execute("DELETE FROM survey_responses WHERE kind = 'ces'")
    _answers_take(OLD_KINDS)
