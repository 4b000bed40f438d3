"""notification preferences, reminders sent, calendar feeds, next-event requests,
organisers' messages; event.reminder_offsets_minutes,
business_case.outcome_requested_at

Revision ID: 0014
Revises: 0013
Create Date: 2026-12-02 22:00:00+00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = '0014'
down_revision: str | None = '0013'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table('calendar_feed',
    sa.Column('member_id', sa.Uuid(), nullable=False),
    sa.Column('salt', sa.String(length=32), nullable=False),
    sa.Column('token_digest', sa.String(length=64), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['member_id'], ['member.id'], name=op.f('fk_calendar_feed_member_id_member'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('member_id', name=op.f('pk_calendar_feed')),
    sa.UniqueConstraint('token_digest', name=op.f('uq_calendar_feed_token_digest'))
    )
    op.create_table('event_message',
    sa.Column('id', sa.Uuid(), nullable=False),
    sa.Column('event_id', sa.Uuid(), nullable=False),
    sa.Column('author_id', sa.Uuid(), nullable=True),
    sa.Column('subject', sa.String(length=200), nullable=False),
    sa.Column('body', sa.Text(), nullable=False),
    sa.Column('statuses', sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), 'postgresql'), nullable=False),
    sa.Column('table_ids', sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), 'postgresql'), nullable=True),
    sa.Column('recipients', sa.Integer(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['author_id'], ['member.id'], name=op.f('fk_event_message_author_id_member'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['event_id'], ['event.id'], name=op.f('fk_event_message_event_id_event'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_event_message'))
    )
    op.create_table('next_event_request',
    sa.Column('member_id', sa.Uuid(), nullable=False),
    sa.Column('requested_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('notified_event_id', sa.Uuid(), nullable=True),
    sa.Column('notified_at', sa.DateTime(timezone=True), nullable=True),
    sa.ForeignKeyConstraint(['member_id'], ['member.id'], name=op.f('fk_next_event_request_member_id_member'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['notified_event_id'], ['event.id'], name=op.f('fk_next_event_request_notified_event_id_event'), ondelete='SET NULL'),
    sa.PrimaryKeyConstraint('member_id', name=op.f('pk_next_event_request'))
    )
    op.create_table('notification_preference',
    sa.Column('member_id', sa.Uuid(), nullable=False),
    sa.Column('reminders', sa.Boolean(), nullable=False),
    sa.Column('next_event', sa.Boolean(), nullable=False),
    sa.Column('messages', sa.Boolean(), nullable=False),
    sa.Column('surveys', sa.Boolean(), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['member_id'], ['member.id'], name=op.f('fk_notification_preference_member_id_member'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('member_id', name=op.f('pk_notification_preference'))
    )
    op.create_table('registration_reminder',
    sa.Column('registration_id', sa.Uuid(), nullable=False),
    sa.Column('offset_minutes', sa.Integer(), nullable=False),
    sa.Column('sent_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['registration_id'], ['registration.id'], name=op.f('fk_registration_reminder_registration_id_registration'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('registration_id', 'offset_minutes', name=op.f('pk_registration_reminder'))
    )
    with op.batch_alter_table('business_case', schema=None) as batch_op:
        batch_op.add_column(sa.Column('outcome_requested_at', sa.DateTime(timezone=True), nullable=True))
    with op.batch_alter_table('event', schema=None) as batch_op:
        batch_op.add_column(sa.Column('reminder_offsets_minutes', sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), 'postgresql'), server_default=sa.text("'[2880, 180]'"), nullable=False))



def downgrade() -> None:
    with op.batch_alter_table('event', schema=None) as batch_op:
        batch_op.drop_column('reminder_offsets_minutes')
    with op.batch_alter_table('business_case', schema=None) as batch_op:
        batch_op.drop_column('outcome_requested_at')

    op.drop_table('registration_reminder')
    op.drop_table('notification_preference')
    op.drop_table('next_event_request')
    op.drop_table('event_message')
    op.drop_table('calendar_feed')
