"""create accounts members audit

Revision ID: 0001
Revises: 
Create Date: 2026-11-28 12:54:10.744659+00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = '0001'
down_revision: str | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table('audit_entry',
    sa.Column('id', sa.Uuid(), nullable=False),
    sa.Column('occurred_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('actor_id', sa.Uuid(), nullable=True),
    sa.Column('action', sa.String(length=64), nullable=False),
    sa.Column('target_type', sa.String(length=32), nullable=False),
    sa.Column('target_id', sa.Uuid(), nullable=True),
    sa.Column('client_address', sa.String(length=64), nullable=True),
    sa.Column('request_id', sa.String(length=64), nullable=True),
    sa.Column('details', sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), 'postgresql'), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_audit_entry'))
    )
    op.create_index(op.f('ix_audit_entry_action'), 'audit_entry', ['action'], unique=False)
    op.create_index(op.f('ix_audit_entry_actor_id'), 'audit_entry', ['actor_id'], unique=False)
    op.create_index('ix_audit_entry_occurred_at_id', 'audit_entry', ['occurred_at', 'id'], unique=False)
    op.create_index(op.f('ix_audit_entry_target_id'), 'audit_entry', ['target_id'], unique=False)
    op.create_table('idempotency_record',
    sa.Column('id', sa.Uuid(), nullable=False),
    sa.Column('caller', sa.String(length=400), nullable=False),
    sa.Column('key', sa.String(length=255), nullable=False),
    sa.Column('request_hash', sa.String(length=64), nullable=False),
    sa.Column('response_status', sa.Integer(), nullable=True),
    sa.Column('response_headers', sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), 'postgresql'), nullable=False),
    sa.Column('response_body', sa.LargeBinary(), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('expires_at', sa.DateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_idempotency_record')),
    sa.UniqueConstraint('caller', 'key', name='uq_idempotency_record_caller_key')
    )
    op.create_index('ix_idempotency_record_expires_at', 'idempotency_record', ['expires_at'], unique=False)
    op.create_table('login_failure',
    sa.Column('id', sa.Uuid(), nullable=False),
    sa.Column('key', sa.String(length=300), nullable=False),
    sa.Column('occurred_at', sa.DateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_login_failure'))
    )
    op.create_index('ix_login_failure_key_occurred_at', 'login_failure', ['key', 'occurred_at'], unique=False)
    op.create_table('member',
    sa.Column('id', sa.Uuid(), nullable=False),
    sa.Column('email', sa.String(length=254), nullable=False),
    sa.Column('email_normalized', sa.String(length=254), nullable=False),
    sa.Column('password_hash', sa.String(length=255), nullable=True),
    sa.Column('full_name', sa.String(length=200), nullable=False),
    sa.Column('phone', sa.String(length=40), nullable=True),
    sa.Column('city', sa.String(length=100), nullable=True),
    sa.Column('function', sa.String(length=40), nullable=True),
    sa.Column('seniority', sa.Integer(), nullable=True),
    sa.Column('industry', sa.String(length=100), nullable=True),
    sa.Column('expertise_tags', sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), 'postgresql'), nullable=False),
    sa.Column('bio', sa.String(length=2000), nullable=True),
    sa.Column('links', sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), 'postgresql'), nullable=False),
    sa.Column('company', sa.String(length=200), nullable=True),
    sa.Column('job_title', sa.String(length=200), nullable=True),
    sa.Column('company_visibility', sa.String(length=16), nullable=False),
    sa.Column('job_title_visibility', sa.String(length=16), nullable=False),
    sa.Column('phone_visibility', sa.String(length=16), nullable=False),
    sa.Column('email_visibility', sa.String(length=16), nullable=False),
    sa.Column('status', sa.String(length=16), nullable=False),
    sa.Column('member_since', sa.Date(), nullable=True),
    sa.Column('token_version', sa.Integer(), nullable=False),
    sa.Column('version', sa.Integer(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('erased_at', sa.DateTime(timezone=True), nullable=True),
    sa.CheckConstraint('seniority IS NULL OR seniority BETWEEN 1 AND 5', name=op.f('ck_member_seniority_range')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_member')),
    sa.UniqueConstraint('email_normalized', name=op.f('uq_member_email_normalized'))
    )
    op.create_index(op.f('ix_member_city'), 'member', ['city'], unique=False)
    op.create_index('ix_member_created_at_id', 'member', ['created_at', 'id'], unique=False)
    op.create_index('ix_member_full_name_id', 'member', ['full_name', 'id'], unique=False)
    op.create_index(op.f('ix_member_function'), 'member', ['function'], unique=False)
    op.create_table('api_token',
    sa.Column('id', sa.Uuid(), nullable=False),
    sa.Column('member_id', sa.Uuid(), nullable=False),
    sa.Column('name', sa.String(length=100), nullable=False),
    sa.Column('token_hash', sa.String(length=64), nullable=False),
    sa.Column('prefix', sa.String(length=16), nullable=False),
    sa.Column('scopes', sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), 'postgresql'), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('expires_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('revoked_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('last_used_at', sa.DateTime(timezone=True), nullable=True),
    sa.ForeignKeyConstraint(['member_id'], ['member.id'], name=op.f('fk_api_token_member_id_member'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_api_token')),
    sa.UniqueConstraint('token_hash', name=op.f('uq_api_token_token_hash'))
    )
    op.create_index(op.f('ix_api_token_member_id'), 'api_token', ['member_id'], unique=False)
    op.create_table('consent_change',
    sa.Column('id', sa.Uuid(), nullable=False),
    sa.Column('member_id', sa.Uuid(), nullable=False),
    sa.Column('field', sa.String(length=32), nullable=False),
    sa.Column('visibility', sa.String(length=16), nullable=False),
    sa.Column('changed_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['member_id'], ['member.id'], name=op.f('fk_consent_change_member_id_member'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_consent_change'))
    )
    op.create_index(op.f('ix_consent_change_member_id'), 'consent_change', ['member_id'], unique=False)
    op.create_table('member_role',
    sa.Column('member_id', sa.Uuid(), nullable=False),
    sa.Column('role', sa.String(length=16), nullable=False),
    sa.Column('granted_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['member_id'], ['member.id'], name=op.f('fk_member_role_member_id_member'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('member_id', 'role', name=op.f('pk_member_role'))
    )
    op.create_index(op.f('ix_member_role_role'), 'member_role', ['role'], unique=False)
    op.create_table('refresh_token',
    sa.Column('id', sa.Uuid(), nullable=False),
    sa.Column('member_id', sa.Uuid(), nullable=False),
    sa.Column('family_id', sa.Uuid(), nullable=False),
    sa.Column('token_hash', sa.String(length=64), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('expires_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('used_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('revoked_at', sa.DateTime(timezone=True), nullable=True),
    sa.ForeignKeyConstraint(['member_id'], ['member.id'], name=op.f('fk_refresh_token_member_id_member'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_refresh_token')),
    sa.UniqueConstraint('token_hash', name=op.f('uq_refresh_token_token_hash'))
    )
    op.create_index(op.f('ix_refresh_token_family_id'), 'refresh_token', ['family_id'], unique=False)
    op.create_index(op.f('ix_refresh_token_member_id'), 'refresh_token', ['member_id'], unique=False)


def downgrade() -> None:
    op.drop_index(op.f('ix_refresh_token_member_id'), table_name='refresh_token')
    op.drop_index(op.f('ix_refresh_token_family_id'), table_name='refresh_token')
    op.drop_table('refresh_token')
    op.drop_index(op.f('ix_member_role_role'), table_name='member_role')
    op.drop_table('member_role')
    op.drop_index(op.f('ix_consent_change_member_id'), table_name='consent_change')
    op.drop_table('consent_change')
    op.drop_index(op.f('ix_api_token_member_id'), table_name='api_token')
    op.drop_table('api_token')
    op.drop_index(op.f('ix_member_function'), table_name='member')
    op.drop_index('ix_member_full_name_id', table_name='member')
    op.drop_index('ix_member_created_at_id', table_name='member')
    op.drop_index(op.f('ix_member_city'), table_name='member')
    op.drop_table('member')
    op.drop_index('ix_login_failure_key_occurred_at', table_name='login_failure')
    op.drop_table('login_failure')
    op.drop_index('ix_idempotency_record_expires_at', table_name='idempotency_record')
    op.drop_table('idempotency_record')
    op.drop_index(op.f('ix_audit_entry_target_id'), table_name='audit_entry')
    op.drop_index('ix_audit_entry_occurred_at_id', table_name='audit_entry')
    op.drop_index(op.f('ix_audit_entry_actor_id'), table_name='audit_entry')
    op.drop_index(op.f('ix_audit_entry_action'), table_name='audit_entry')
    op.drop_table('audit_entry')
