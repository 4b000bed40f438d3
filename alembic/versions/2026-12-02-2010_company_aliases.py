"""company_alias: names no rule can tell are one company, kept by admins

Revision ID: 0012
Revises: 0011
Create Date: 2026-12-02 20:10:00+00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = '0012'
down_revision: str | None = '0011'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        'company_alias',
        sa.Column('id', sa.Uuid(), nullable=False),
        sa.Column('alias', sa.String(length=200), nullable=False),
        sa.Column('company', sa.String(length=200), nullable=False),
        sa.Column('alias_key', sa.String(length=200), nullable=False),
        sa.Column('company_key', sa.String(length=200), nullable=False),
        sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint('id'),
        sa.UniqueConstraint('alias_key'),
    )


def downgrade() -> None:
    op.drop_table('company_alias')
