"""Event types about accounts. ``member.created`` is announced where accounts are created
(sign-up, import, an admin's invitation); the other ``member.*`` types are in
``app.members.events``. The ``account.*`` types are internal: each asks the e-mail channel to
send the account a link (the link itself is made when the e-mail is written)."""

from app.core.outbox import EventData, define_event


class MemberCreatedData(EventData):
    roles: list[str]


MEMBER_CREATED = define_event(
    "member.created",
    subject_type="member",
    data=MemberCreatedData,
    description="An account was created (sign-up, import or approval); `roles` it starts with.",
)


class AccountLinkData(EventData):
    """The account (``id``) and its version; the e-mail carries the account's newest live link
    of the kind, made when the e-mail is written."""


VERIFICATION_REQUESTED = define_event(
    "account.verification_requested",
    subject_type="member",
    data=AccountLinkData,
    description="A new address needs proof that it is its owner's: a verification link.",
    internal=True,
)
SIGNUP_ATTEMPTED = define_event(
    "account.signup_attempted",
    subject_type="member",
    data=AccountLinkData,
    description="Someone signed up with a registered address: its owner is told, with a "
    "password-reset link.",
    internal=True,
)
INVITED = define_event(
    "account.invited",
    subject_type="member",
    data=AccountLinkData,
    description="A person without a password is invited to set one.",
    internal=True,
)
PASSWORD_RESET_REQUESTED = define_event(
    "account.password_reset_requested",
    subject_type="member",
    data=AccountLinkData,
    description="A password reset was asked for the account: a reset link.",
    internal=True,
)
