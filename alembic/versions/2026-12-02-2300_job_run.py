"""job_run: each scheduled job's last run and lease, so it runs once across processes

Revision ID: 0016
Revises: 0015
Create Date: 2026-12-02 22:00:00+00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = '0016'
down_revision: str | None = '0015'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        'job_run',
        sa.Column('name', sa.String(length=64), nullable=False),
        sa.Column('every_seconds', sa.Integer(), nullable=False),
        sa.Column('last_started_at', sa.DateTime(timezone=True), nullable=True),
        sa.Column('last_finished_at', sa.DateTime(timezone=True), nullable=True),
        sa.Column('last_outcome', sa.String(length=16), nullable=True),
        sa.Column('last_error', sa.String(length=500), nullable=True),
        sa.Column('ran_by', sa.String(length=128), nullable=True),
        sa.Column('lease_until', sa.DateTime(timezone=True), nullable=True),
        sa.Column('claim_token', sa.Uuid(), nullable=True),
        sa.Column('run_requested_at', sa.DateTime(timezone=True), nullable=True),
        sa.Column('runs', sa.Integer(), nullable=False),
        sa.Column('failures', sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint('name', name=op.f('pk_job_run')),
    )


def downgrade() -> None:
    op.drop_table('job_run')
