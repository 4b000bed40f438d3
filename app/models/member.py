"""A person with an account: applicant, member, reviewer, facilitator or admin."""

import uuid
from datetime import date, datetime
from enum import StrEnum

from sqlalchemy import CheckConstraint, Index, String, text
from sqlmodel import Field, SQLModel

from app.models.base import JSONType, UTCDateTime, created_at_field, utcnow, uuid_pk


class Role(StrEnum):
    applicant = "applicant"
    member = "member"
    reviewer = "reviewer"
    facilitator = "facilitator"
    admin = "admin"


class MemberStatus(StrEnum):
    active = "active"
    paused = "paused"
    left = "left"


class Language(StrEnum):
    """The language of the e-mails a member receives."""

    ru = "ru"
    en = "en"


class Visibility(StrEnum):
    """Who may see a private field besides its owner and admins."""

    nobody = "nobody"
    table = "table"  # people seated at the same table at an event
    members = "members"
    public = "public"


class Function(StrEnum):
    ceo = "CEO"
    cto = "CTO"
    cio = "CIO"
    cdo = "CDO"
    cpo = "CPO"
    cmo = "CMO"
    cfo = "CFO"
    coo = "COO"
    chro = "CHRO"
    head_of_sales = "head_of_sales"
    head_of_product = "head_of_product"
    head_of_engineering = "head_of_engineering"
    other = "other"


SENIORITY_LABELS: dict[int, str] = {
    1: "team lead",
    2: "head of department",
    3: "director",
    4: "C-level",
    5: "owner / board member",
}

# The private fields and the column that holds each one's visibility.
PRIVATE_FIELDS: tuple[str, ...] = ("company", "job_title", "phone", "email")


class Member(SQLModel, table=True):
    __tablename__ = "member"
    __table_args__ = (
        CheckConstraint("seniority IS NULL OR seniority BETWEEN 1 AND 5", name="seniority_range"),
        Index("ix_member_created_at_id", "created_at", "id"),
        Index("ix_member_full_name_id", "full_name", "id"),
        # The directory filters by city case-insensitively: an index on the expression it
        # compares, which also gives PostgreSQL statistics on it (without them it guesses
        # 0.5 % of the members live in any city and scans and sorts them all).
        Index("ix_member_city_lower", text("lower(city)")),
    )

    id: uuid.UUID = uuid_pk()
    email: str = Field(sa_type=String(254))
    # The NFKC-normalised, case-folded e-mail: uniqueness and login compare this, so
    # "ＡＤＭＩＮ@example.com" is the account of "admin@example.com".
    email_normalized: str = Field(sa_type=String(254), unique=True)
    # When the person proved the address is theirs (a verification, invitation or reset link
    # it received). Until then nothing that arrives by e-mail address is matched to them.
    email_verified_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    # None until the person sets a password (imported and invited people start without one).
    password_hash: str | None = Field(default=None, sa_type=String(255))

    full_name: str = Field(default="", sa_type=String(200))
    phone: str | None = Field(default=None, sa_type=String(40))
    city: str | None = Field(default=None, sa_type=String(100))
    function: str | None = Field(default=None, sa_type=String(40), index=True)
    seniority: int | None = Field(default=None)
    industry: str | None = Field(default=None, sa_type=String(100))
    expertise_tags: list[str] = Field(default_factory=list, sa_type=JSONType)
    bio: str | None = Field(default=None, sa_type=String(2000))
    links: list[str] = Field(default_factory=list, sa_type=JSONType)
    company: str | None = Field(default=None, sa_type=String(200))
    job_title: str | None = Field(default=None, sa_type=String(200))

    company_visibility: str = Field(default=Visibility.nobody, sa_type=String(16))
    job_title_visibility: str = Field(default=Visibility.nobody, sa_type=String(16))
    phone_visibility: str = Field(default=Visibility.nobody, sa_type=String(16))
    email_visibility: str = Field(default=Visibility.nobody, sa_type=String(16))

    status: str = Field(default=MemberStatus.active, sa_type=String(16))
    # The server default fills the column for members who existed before it.
    language: str = Field(
        default=Language.ru, sa_type=String(8), sa_column_kwargs={"server_default": "ru"}
    )
    member_since: date | None = None
    # Bumped on logout-everywhere, password and role changes: older access tokens die at once.
    token_version: int = Field(default=0)
    # Bumped on every change of the resource; the ETag.
    version: int = Field(default=1)
    created_at: datetime = created_at_field()
    updated_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
    erased_at: datetime | None = Field(default=None, sa_type=UTCDateTime)


class MemberRole(SQLModel, table=True):
    __tablename__ = "member_role"

    member_id: uuid.UUID = Field(foreign_key="member.id", ondelete="CASCADE", primary_key=True)
    role: str = Field(sa_type=String(16), primary_key=True, index=True)
    granted_at: datetime = created_at_field()


class ConsentChange(SQLModel, table=True):
    """The history of a member's privacy choices: one row per change."""

    __tablename__ = "consent_change"

    id: uuid.UUID = uuid_pk()
    member_id: uuid.UUID = Field(foreign_key="member.id", ondelete="CASCADE", index=True)
    field: str = Field(sa_type=String(32))
    visibility: str = Field(sa_type=String(16))
    changed_at: datetime = created_at_field()
