"""next_event_guest: people without an account on the list for the next meeting

Revision ID: 0017
Revises: 0016
Create Date: 2026-12-02 23:30:00+00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = '0017'
down_revision: str | None = '0016'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        'next_event_guest',
        sa.Column('id', sa.Uuid(), nullable=False),
        sa.Column('email', sa.String(length=254), nullable=False),
        sa.Column('email_key', sa.String(length=254), nullable=False),
        sa.Column('language', sa.String(length=2), nullable=False),
        sa.Column('requested_at', sa.DateTime(timezone=True), nullable=False),
        sa.Column('verified_at', sa.DateTime(timezone=True), nullable=True),
        sa.Column('notified_event_id', sa.Uuid(), nullable=True),
        sa.Column('notified_at', sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ['notified_event_id'],
            ['event.id'],
            name=op.f('fk_next_event_guest_notified_event_id_event'),
            ondelete='SET NULL',
        ),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_next_event_guest')),
        sa.UniqueConstraint('email_key', name=op.f('uq_next_event_guest_email_key')),
    )


def downgrade() -> None:
    op.drop_table('next_event_guest')
