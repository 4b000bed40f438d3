"""Event types about members. Thin and without personal data: consumers that need a field
fetch the member through the API, where the privacy rules apply to them. ``member.created``
is the accounts' (``app.auth.events``): an account is created below this area."""

from app.core.outbox import EventData, define_event


class MemberUpdatedData(EventData):
    fields: list[str]
    privacy_changed: bool


class MemberStatusData(EventData):
    status: str


class MemberRolesData(EventData):
    roles: list[str]


class MemberErasedData(EventData):
    pass


MEMBER_UPDATED = define_event(
    "member.updated",
    subject_type="member",
    data=MemberUpdatedData,
    description="A member changed their profile; `fields` names what changed (never values).",
)
MEMBER_STATUS_CHANGED = define_event(
    "member.status_changed",
    subject_type="member",
    data=MemberStatusData,
    description="An admin changed a member's status (active, paused, left).",
)
MEMBER_ROLES_CHANGED = define_event(
    "member.roles_changed",
    subject_type="member",
    data=MemberRolesData,
    description="A member's roles were replaced; `roles` is the new set.",
)
MEMBER_ERASED = define_event(
    "member.erased",
    subject_type="member",
    data=MemberErasedData,
    description="A member erased their personal data; consumers must delete their copies.",
)
