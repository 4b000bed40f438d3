"""Shapes of the registrations API."""

import uuid

from pydantic import EmailStr, Field, model_validator

from app.core.schemas import InputSchema, ReadSchema, UTCTimestamp
from app.models.member import Language
from app.models.registration import RegistrationStatus
from app.registrations.links import TOKEN_PATTERN

NONCE_FIELD = Field(
    min_length=8,
    max_length=64,
    pattern=r"^[A-Za-z0-9_-]+$",
    description="A fresh random value per scan: a retried scan with the same nonce is "
    "answered as the first was.",
)


class RegistrationCreate(InputSchema):
    source: str | None = Field(
        default=None,
        max_length=100,
        description="Where the person came from, e.g. `ads`, `friend`.",
    )
    utm_source: str | None = Field(default=None, max_length=100)
    utm_medium: str | None = Field(default=None, max_length=100)
    utm_campaign: str | None = Field(default=None, max_length=100)

    model_config = {
        "json_schema_extra": {
            "examples": [{"source": "ads", "utm_source": "telegram", "utm_campaign": "board-1"}]
        }
    }


class WalkIn(InputSchema):
    """Who came to the door: a member (``member_id``), or a guest by name (and e-mail, if
    they give one). Exactly one of ``member_id`` and ``guest_name``."""

    member_id: uuid.UUID | None = None
    guest_name: str | None = Field(default=None, min_length=1, max_length=200)
    guest_email: EmailStr | None = Field(default=None, max_length=254)

    model_config = {
        "json_schema_extra": {
            "examples": [{"guest_name": "Olga Smirnova", "guest_email": "olga@example.com"}]
        }
    }

    @model_validator(mode="after")
    def _one_person(self) -> "WalkIn":
        if (self.member_id is None) == (self.guest_name is None):
            raise ValueError("give member_id, or guest_name (with an optional guest_email)")
        return self


class CheckIn(InputSchema):
    nonce: str = NONCE_FIELD

    model_config = {"json_schema_extra": {"examples": [{"nonce": "scan-7f3a9c1e"}]}}


class QrCheckIn(InputSchema):
    qr_token: str = Field(max_length=200, pattern=TOKEN_PATTERN, description="The scanned QR code.")
    nonce: str = NONCE_FIELD

    model_config = {
        "json_schema_extra": {
            "examples": [
                {
                    "qr_token": (
                        "5f0c6a3e9d8b4c71a2e4b6d8f0a1c3e5.qr.0.Yl3k9QmR2xT8vN1pZc7WdE4sHa6JuB0o"
                    ),
                    "nonce": "scan-7f3a9c1e",
                }
            ]
        }
    }


class ConfirmLink(InputSchema):
    token: str = Field(
        max_length=300,
        pattern=TOKEN_PATTERN,
        description="The token of the link in the confirmation e-mail.",
    )

    model_config = {
        "json_schema_extra": {
            "examples": [
                {
                    "token": (
                        "5f0c6a3e9d8b4c71a2e4b6d8f0a1c3e5.9b1d3f5a7c9e1b3d5f7a9c1e3b5d7f9a.1798761600."
                        "Qm3xT8vN1pZc7WdE4sHa6JuB0oYl3k9R"
                    )
                }
            ]
        }
    }


class RegistrationRead(ReadSchema):
    id: uuid.UUID
    event_id: uuid.UUID
    member_id: uuid.UUID | None
    attendee_name: str | None = Field(
        description="Shown to the person themselves and to the staff at the door."
    )
    status: RegistrationStatus
    source: str | None
    utm_source: str | None
    utm_medium: str | None
    utm_campaign: str | None
    waitlist_position: int | None
    offer_expires_at: UTCTimestamp | None
    confirmed_at: UTCTimestamp | None
    checked_in_at: UTCTimestamp | None
    cancelled_at: UTCTimestamp | None
    cancel_reason: str | None
    version: int
    created_at: UTCTimestamp
    updated_at: UTCTimestamp


class RegistrationAdminRead(RegistrationRead):
    guest_email: str | None = Field(description="A Timepad registrant no member matches.")
    timepad_order_id: int | None
    timepad_status: str | None


class QrCode(ReadSchema):
    qr_token: str = Field(description="Encode as a QR code; staff scan it at the door.")


class SourceCount(ReadSchema):
    source: str | None
    utm_source: str | None
    utm_campaign: str | None
    registrations: int
    confirmed: int = Field(description="Confirmed or checked in.")
    checked_in: int


class AttendanceEntry(ReadSchema):
    event_id: uuid.UUID
    event_title: str
    starts_at: UTCTimestamp
    registration_id: uuid.UUID
    status: RegistrationStatus


class AttendanceRead(ReadSchema):
    member_id: uuid.UUID
    registered: int
    attended: int
    no_show: int
    events: list[AttendanceEntry]


class CalendarFeedRead(ReadSchema):
    """My personal calendar feed: subscribe to `url` in a calendar program. It holds my
    confirmed places and the community's events; anyone with the URL can read it, so it is
    rotated (a new URL, the old one ends) or revoked at will."""

    url: str = Field(description="`{DL_PUBLIC_API_URL}/api/v1/calendar/{token}.ics`.")
    created_at: UTCTimestamp


class NextEventNoticeRead(ReadSchema):
    """Whether I am on the list for the next event's opening."""

    requested_at: UTCTimestamp
    notified: bool = Field(description="False until the next event opens registration.")


class GuestNextEventNoticeCreate(InputSchema):
    """Someone without an account asks to be e-mailed when the next meeting opens."""

    email: EmailStr = Field(max_length=254)
    language: Language = Field(default=Language.ru, description="The e-mails' language.")

    model_config = {"json_schema_extra": {"examples": [{"email": "guest@example.com"}]}}


class GuestNextEventNoticeConfirm(InputSchema):
    token: str = Field(min_length=1, max_length=200, description="From the e-mailed link.")

    model_config = {
        "json_schema_extra": {
            "examples": [{"token": "0b6f4c1e-6c3d-4a55-9a43-8d1e2f7c9b10:1796000000000000.mac"}]
        }
    }


class GuestNextEventNoticeRead(ReadSchema):
    email: str
    verified_at: UTCTimestamp
