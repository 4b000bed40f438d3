"""Event types about accounts. ``member.created`` is announced where accounts are created
(sign-up, import, an admin's invitation); the other ``member.*`` types are in
``app.members.events``."""

from app.core.outbox import EventData, define_event


class MemberCreatedData(EventData):
    roles: list[str]


MEMBER_CREATED = define_event(
    "member.created",
    subject_type="member",
    data=MemberCreatedData,
    description="An account was created (sign-up, import or approval); `roles` it starts with.",
)
