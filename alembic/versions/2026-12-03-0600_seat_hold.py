"""seat_hold: seats taken ahead of a confirmation's commit, given back if it never commits

Revision ID: 0018
Revises: 0017
Create Date: 2026-12-03 06:00:00+00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = '0018'
down_revision: str | None = '0017'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        'seat_hold',
        sa.Column('registration_id', sa.Uuid(), nullable=False),
        sa.Column('event_id', sa.Uuid(), nullable=False),
        sa.Column('expires_at', sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint('registration_id', name=op.f('pk_seat_hold')),
    )
    op.create_index(op.f('ix_seat_hold_expires_at'), 'seat_hold', ['expires_at'], unique=False)


def downgrade() -> None:
    op.drop_index(op.f('ix_seat_hold_expires_at'), table_name='seat_hold')
    op.drop_table('seat_hold')
