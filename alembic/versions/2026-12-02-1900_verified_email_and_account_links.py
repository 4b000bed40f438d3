"""member.email_verified_at, account_link (verification, invitation, reset), NFKC e-mail keys

Accounts that have a password when this runs were created before addresses were verified:
they are taken as verified (from their creation), so nobody is locked out by the upgrade.
People without a password (imported, never activated) stay unverified: their invitation
verifies them. ``email_normalized`` becomes the NFKC-normalised, case-folded address; a row
whose new key would collide with another's keeps its old key (both stay reachable).

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-02 19:00:00+00:00
"""

import unicodedata
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = '0011'
down_revision: str | None = '0010'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def _key(email: str) -> str:
    # The same rule as app.auth.service.normalize_email, frozen here as of this revision.
    return unicodedata.normalize("NFKC", email).strip().casefold()


def upgrade() -> None:
    op.add_column('member', sa.Column('email_verified_at', sa.DateTime(timezone=True), nullable=True))
    op.execute("UPDATE member SET email_verified_at = created_at WHERE password_hash IS NOT NULL")
    op.create_table(
        'account_link',
        sa.Column('id', sa.Uuid(), nullable=False),
        sa.Column('member_id', sa.Uuid(), nullable=False),
        sa.Column('purpose', sa.String(length=16), nullable=False),
        sa.Column('token_hash', sa.String(length=64), nullable=False),
        sa.Column('salt', sa.String(length=32), nullable=False),
        sa.Column('state', sa.String(length=64), nullable=False),
        sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
        sa.Column('expires_at', sa.DateTime(timezone=True), nullable=False),
        sa.Column('used_at', sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(['member_id'], ['member.id'], ondelete='CASCADE'),
        sa.PrimaryKeyConstraint('id'),
        sa.UniqueConstraint('token_hash'),
    )
    op.create_index('ix_account_link_member_purpose', 'account_link', ['member_id', 'purpose'], unique=False)

    connection = op.get_bind()
    rows = connection.execute(sa.text("SELECT id, email, email_normalized FROM member")).all()
    taken = {row.email_normalized for row in rows}
    for row in rows:
        key = _key(row.email)
        if key != row.email_normalized and key not in taken:
            connection.execute(
                sa.text("UPDATE member SET email_normalized = :key WHERE id = :id"),
                {"key": key, "id": row.id},
            )
            taken.discard(row.email_normalized)
            taken.add(key)


def downgrade() -> None:
    # The NFKC keys stay: they are still unique, and lower-case for every ASCII address.
    op.drop_index('ix_account_link_member_purpose', table_name='account_link')
    op.drop_table('account_link')
    op.drop_column('member', 'email_verified_at')
