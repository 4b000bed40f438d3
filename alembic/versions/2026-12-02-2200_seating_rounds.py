"""seating rounds: an event seats everyone several times; tables, seats and cases per round

Revision ID: 0015
Revises: 0014
Create Date: 2026-12-02 22:00:00+00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = '0015'
down_revision: str | None = '0014'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

JSON = sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), 'postgresql')


def upgrade() -> None:
    op.add_column('seating_plan', sa.Column('rounds', JSON, nullable=True))
    # Existing tables and seats are the one round their event had.
    with op.batch_alter_table('event_table') as batch:
        batch.add_column(sa.Column('round', sa.Integer(), server_default='1', nullable=False))
        batch.drop_index('uq_event_table_event_number')
        batch.create_index(
            'uq_event_table_event_round_number', ['event_id', 'round', 'number'], unique=True
        )
    with op.batch_alter_table('table_seat') as batch:
        batch.add_column(sa.Column('round', sa.Integer(), server_default='1', nullable=False))
        batch.drop_index('uq_table_seat_event_member')
        batch.create_index(
            'uq_table_seat_event_round_member', ['event_id', 'round', 'member_id'], unique=True
        )
    op.add_column('business_case', sa.Column('round', sa.Integer(), nullable=True))
    op.execute("UPDATE business_case SET round = 1 WHERE table_id IS NOT NULL")


def downgrade() -> None:
    # Later rounds have no place in a one-round schema: their seats and tables go, and their
    # cases are no longer scheduled at a table.
    op.execute(
        "UPDATE business_case SET table_id = NULL WHERE table_id IN "
        "(SELECT id FROM event_table WHERE round > 1)"
    )
    op.drop_column('business_case', 'round')
    op.execute("DELETE FROM table_seat WHERE round > 1")
    op.execute("DELETE FROM event_table WHERE round > 1")
    with op.batch_alter_table('table_seat') as batch:
        batch.drop_index('uq_table_seat_event_round_member')
        batch.create_index('uq_table_seat_event_member', ['event_id', 'member_id'], unique=True)
        batch.drop_column('round')
    with op.batch_alter_table('event_table') as batch:
        batch.drop_index('uq_event_table_event_round_number')
        batch.create_index('uq_event_table_event_number', ['event_id', 'number'], unique=True)
        batch.drop_column('round')
    op.drop_column('seating_plan', 'rounds')
