"""member: the city index on lower(city), the expression the directory filters by

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-02 03:20:00+00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = '0010'
down_revision: str | None = '0009'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.drop_index('ix_member_city', table_name='member')
    op.create_index('ix_member_city_lower', 'member', [sa.text('lower(city)')], unique=False)


def downgrade() -> None:
    op.drop_index('ix_member_city_lower', table_name='member')
    op.create_index('ix_member_city', 'member', ['city'], unique=False)
