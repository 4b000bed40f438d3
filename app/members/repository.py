"""Every query about members: the directory, profiles, roles, consents, exports."""

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from enum import StrEnum
from functools import lru_cache
from typing import Any

from sqlalchemy import (
    ColumnElement,
    Select,
    String,
    and_,
    bindparam,
    case,
    cast,
    delete,
    exists,
    func,
    or_,
    select,
    tuple_,
    update,
)
from sqlalchemy.ext.asyncio import AsyncSession

from app.core.reads import HotRead
from app.models.application import Application
from app.models.audit import AuditEntry
from app.models.case import Case, Recommendation
from app.models.member import (
    PRIVATE_FIELDS,
    ConsentChange,
    Member,
    MemberRole,
    Role,
    Visibility,
)
from app.models.notification import NotificationPreference
from app.models.survey import QuestionType, Survey, SurveyResponse
from app.models.table import TableSeat
from app.models.token import RefreshToken

# A member as the directory reads them: columns by name (a single read has them all), with
# ``activated`` (whether a password is set) and, for members' viewers, ``sat_with_viewer``.
DirectoryEntry = dict[str, Any]


@dataclass(frozen=True, slots=True)
class MemberFilters:
    function: str | None = None
    seniority: int | None = None
    city: str | None = None
    industry: str | None = None
    tag: str | None = None
    status: str | None = None
    role: str | None = None
    q: str | None = None
    company: str | None = None
    email: str | None = None


# sort name -> (the column expression, descending?)
SORT_KEYS: dict[str, tuple[Any, bool]] = {
    "created_at": (Member.created_at, False),
    "-created_at": (Member.created_at, True),
    "full_name": (Member.full_name, False),
    "-full_name": (Member.full_name, True),
    "company": (func.coalesce(Member.company, ""), False),
    "-company": (func.coalesce(Member.company, ""), True),
}


def _escape_like(text: str) -> str:
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


def _has_role(role: Any) -> ColumnElement[bool]:
    return exists().where(MemberRole.member_id == Member.id, MemberRole.role == role)


def _has_tag(dialect: str) -> ColumnElement[bool]:
    if dialect == "postgresql":
        tag = cast(bindparam("tag"), String)  # asyncpg must know the parameter's type
        return Member.expertise_tags.op("@>")(func.jsonb_build_array(tag))
    each = func.json_each(Member.expertise_tags).table_valued("value")
    return exists().select_from(each).where(each.c.value == bindparam("tag"))


def _ID(name: str) -> Any:  # noqa: N802 - reads like the column type it binds
    return bindparam(name, type_=Member.__table__.c.id.type)


class Audience(StrEnum):
    """Which members a viewer may list at all."""

    everyone = "everyone"  # admins
    directory = "directory"  # members and staff: active directory entries, plus themselves
    self_only = "self_only"  # anyone else sees only themselves


# Each filter as a condition on bound parameters, so statements can be built once and reused.
_FILTERS: dict[str, Any] = {
    "function": lambda _: Member.function == bindparam("function"),
    "seniority": lambda _: Member.seniority == bindparam("seniority"),
    "city": lambda _: func.lower(Member.city) == bindparam("city"),
    "industry": lambda _: func.lower(Member.industry) == bindparam("industry"),
    "status": lambda _: Member.status == bindparam("status"),
    "role": lambda _: _has_role(bindparam("role")),
    "tag": _has_tag,
    "q": lambda _: func.lower(Member.full_name).like(bindparam("q"), escape="\\"),
    "company": lambda _: func.lower(Member.company).like(bindparam("company"), escape="\\"),
    "email": lambda _: Member.email_normalized == bindparam("email"),
}


def filter_params(filters: MemberFilters) -> dict[str, Any]:
    """The bound values of the filters that are set, normalised as the conditions expect."""
    values: dict[str, Any] = {}
    for name in _FILTERS:
        value = getattr(filters, name)
        if value is None or value == "":
            continue
        if name in ("city", "industry", "email"):
            value = value.strip().lower()
        elif name in ("q", "company"):
            value = f"%{_escape_like(value.lower())}%"
        values[name] = value
    return values


_PAGE_COLUMNS = tuple(
    Member.__table__.c[name]
    for name in (
        "id",
        "full_name",
        "city",
        "function",
        "seniority",
        "industry",
        "expertise_tags",
        "bio",
        "links",
        "status",
        "member_since",
        *PRIVATE_FIELDS,
        *(f"{name}_visibility" for name in PRIVATE_FIELDS),
    )
)
# Admins see whether an account has a password; the hash itself never leaves the database.
_ACTIVATED = Member.__table__.c.password_hash.is_not(None).label("activated")

_seat = TableSeat.__table__
_mine, _other = _seat.alias("mine"), _seat.alias("other")


def _sat_with_viewer() -> Any:
    """Whether the viewer shared a published table with the member: the "table" consent level
    opens fields to them. Asked in the directory's own statement, and only of profiles that
    use that level (a CASE evaluates its branch only when the condition holds), so a page
    costs no second query and the usual profile no lookup at all."""
    shared = exists().where(
        _other.c.member_id == Member.id,
        _mine.c.table_id == _other.c.table_id,
        _mine.c.member_id == _ID("viewer_id"),
    )
    opens_to_table = or_(
        *(
            Member.__table__.c[f"{name}_visibility"] == Visibility.table.value
            for name in PRIVATE_FIELDS
        )
    )
    return case((and_(opens_to_table, Member.id != _ID("viewer_id")), shared), else_=False).label(
        SAT_WITH_VIEWER
    )


# The directory's column that says the viewer sat with the member (members' viewers only:
# admins see every field and others see only themselves).
SAT_WITH_VIEWER = "sat_with_viewer"


@lru_cache(maxsize=512)
def _directory_template(
    dialect: str, audience: Audience, filters: frozenset[str], sort: str | None, after: bool
) -> Select[Any]:
    """One statement per shape of query, built once: constructing SQLAlchemy expressions
    costs more CPU than running the query on a hot read path. Executed on the session's
    connection as Core, since the ORM's execution path costs several times the query."""
    # Table columns, not the entity: rows come back without ORM identity-map work, and the
    # read paths only read them. A page reads only what it shows (and its cursor's key); a
    # single read gets the whole row, which the full view of oneself needs.
    columns = list(Member.__table__.c) if sort is None else list(_PAGE_COLUMNS)
    if sort is not None and sort.lstrip("-") == "created_at":
        columns.append(Member.created_at)
    stmt = select(*columns, _ACTIVATED)
    if audience is Audience.directory:
        stmt = stmt.add_columns(_sat_with_viewer())
        # An outer join on the role's primary key, not EXISTS: inside this OR, PostgreSQL
        # plans EXISTS as a hash of every member_role row, built on each page (a scan that
        # grows with the membership: 30 ms at 100,000 members), or prices it so high that JIT
        # compiles the query. The join probes one index entry per member read and stops with
        # the page. The key (member_id, role) is unique, so no member appears twice.
        role = MemberRole.__table__.alias("directory_role")
        stmt = stmt.select_from(
            Member.__table__.outerjoin(
                role,
                and_(
                    role.c.member_id == Member.id,
                    role.c.role == Role.member.value,
                ),
            )
        ).where(
            or_(
                Member.id == _ID("viewer_id"),
                and_(role.c.member_id.is_not(None), Member.erased_at.is_(None)),
            )
        )
    elif audience is Audience.self_only:
        stmt = stmt.where(Member.id == _ID("viewer_id"))
    for name in sorted(filters):
        stmt = stmt.where(_FILTERS[name](dialect))
    if sort is None:  # a single member by id
        return stmt.where(Member.id == _ID("member_id"))
    column, descending = SORT_KEYS[sort]
    key = tuple_(column, Member.id)
    if after:
        bound = tuple_(bindparam("after_key", type_=column.type), _ID("after_id"))
        stmt = stmt.where(key < bound if descending else key > bound)
    if descending:
        stmt = stmt.order_by(column.desc(), Member.id.desc())
    else:
        stmt = stmt.order_by(column, Member.id)
    return stmt.limit(bindparam("limit"))


@lru_cache(maxsize=512)
def _directory_read(
    dialect: str, audience: Audience, filters: frozenset[str], sort: str | None, after: bool
) -> HotRead:
    return HotRead(_directory_template(dialect, audience, filters, sort, after))


def audience_of(*, is_admin: bool, sees_members: bool) -> Audience:
    if is_admin:
        return Audience.everyone
    return Audience.directory if sees_members else Audience.self_only


async def list_members(
    session: AsyncSession,
    *,
    viewer_id: uuid.UUID,
    audience: Audience,
    filters: MemberFilters,
    sort: str,
    after: tuple[Any, uuid.UUID] | None,
    limit: int,
) -> list[DirectoryEntry]:
    """One page in keyset order; fetches limit+1 to know whether another page follows."""
    params = filter_params(filters)
    filter_names = list(params)
    params.update(viewer_id=viewer_id, limit=limit + 1)
    if after is not None:
        params.update(after_key=after[0], after_id=after[1])
    return await _directory_read(
        session.bind.dialect.name, audience, frozenset(filter_names), sort, after is not None
    ).rows(session, params)


async def get_member(session: AsyncSession, member_id: uuid.UUID) -> Member | None:
    return await session.get(Member, member_id)


async def get_visible_member(
    session: AsyncSession, member_id: uuid.UUID, *, viewer_id: uuid.UUID, audience: Audience
) -> DirectoryEntry | None:
    read = _directory_read(session.bind.dialect.name, audience, frozenset(), None, False)
    rows = await read.rows(session, {"viewer_id": viewer_id, "member_id": member_id})
    return rows[0] if rows else None


async def replace_roles(session: AsyncSession, member_id: uuid.UUID, roles: Sequence[str]) -> None:
    await session.execute(delete(MemberRole).where(MemberRole.member_id == member_id))
    session.add_all(MemberRole(member_id=member_id, role=role) for role in roles)
    await session.flush()


async def add_consent_changes(session: AsyncSession, changes: list[ConsentChange]) -> None:
    session.add_all(changes)
    await session.flush()


async def consent_history(session: AsyncSession, member_id: uuid.UUID) -> list[ConsentChange]:
    result = await session.execute(
        select(ConsentChange)
        .where(ConsentChange.member_id == member_id)
        .order_by(ConsentChange.changed_at, ConsentChange.id)
    )
    return list(result.scalars())


async def delete_consent_history(session: AsyncSession, member_id: uuid.UUID) -> None:
    await session.execute(delete(ConsentChange).where(ConsentChange.member_id == member_id))


async def applications_of(session: AsyncSession, member_id: uuid.UUID) -> list[Application]:
    result = await session.execute(
        select(Application)
        .where(Application.member_id == member_id)
        .order_by(Application.created_at, Application.id)
    )
    return list(result.scalars())


async def cases_of(session: AsyncSession, member_id: uuid.UUID) -> list[Case]:
    result = await session.execute(
        select(Case).where(Case.author_id == member_id).order_by(Case.created_at, Case.id)
    )
    return list(result.scalars())


async def recommendations_of(session: AsyncSession, member_id: uuid.UUID) -> list[Recommendation]:
    result = await session.execute(
        select(Recommendation)
        .where(Recommendation.author_id == member_id)
        .order_by(Recommendation.created_at, Recommendation.id)
    )
    return list(result.scalars())


async def survey_answers_of(session: AsyncSession, member_id: uuid.UUID) -> list[SurveyResponse]:
    """The answers linked to the member: named surveys only (anonymous ones link to nobody)."""
    result = await session.execute(
        select(SurveyResponse)
        .where(SurveyResponse.member_id == member_id)
        .order_by(SurveyResponse.submitted_on, SurveyResponse.id)
    )
    return list(result.scalars())


async def unlink_survey_answers(session: AsyncSession, member_id: uuid.UUID) -> None:
    """An erased member's named answers stay in the results, linked to no one, with their
    free text blanked (it may say who wrote it)."""
    text_types = (QuestionType.short_text, QuestionType.long_text)
    for response in await survey_answers_of(session, member_id):
        survey = await session.get(Survey, response.survey_id)
        texts = {
            q["key"] for q in (survey.questions if survey else []) if q.get("type") in text_types
        }
        response.answers = {
            key: "[erased]" if key in texts else value for key, value in response.answers.items()
        }
        response.member_id = None


async def erase_cases(session: AsyncSession, member_id: uuid.UUID) -> None:
    """Blank what a person wrote in cases and advice; their open cases are withdrawn. The
    rows stay, so ratings and the statistics of tables and facilitators keep their counts."""
    erased = "[erased]"
    await session.execute(
        update(Case)
        .where(Case.author_id == member_id)
        .values(
            title=erased,
            context=erased,
            question=erased,
            good_outcome=erased,
            outcome_action=None,
            outcome_result=None,
        )
    )
    await session.execute(
        update(Case)
        .where(
            Case.author_id == member_id,
            Case.status.in_(("draft", "submitted", "accepted", "scheduled")),
        )
        .values(status="withdrawn", table_id=None)
    )
    await session.execute(
        update(Recommendation)
        .where(Recommendation.author_id == member_id)
        .values(advice=erased, experience=erased)
    )


async def erase_applications(session: AsyncSession, member_id: uuid.UUID) -> None:
    """Blank what a person wrote in their applications; an open one is withdrawn. The rows
    stay (with their status and times) so the admission funnel keeps its counts."""
    content = dict.fromkeys(
        (
            "function",
            "seniority",
            "industry",
            "years_in_management",
            "team_size",
            "company",
            "job_title",
            "experience_summary",
            "wants",
            "gives",
            "source",
            "utm_source",
            "utm_medium",
            "utm_campaign",
            "decision_reason",
        )
    )
    await session.execute(
        update(Application)
        .where(Application.member_id == member_id)
        .values(**content, reviewers_may_see_company=False)
    )
    await session.execute(
        update(Application)
        .where(
            Application.member_id == member_id,
            Application.status.in_(("draft", "submitted", "in_review")),
        )
        .values(status="withdrawn", withdrawn_at=func.now(), escalation=None)
    )


async def refresh_tokens_of(session: AsyncSession, member_id: uuid.UUID) -> list[RefreshToken]:
    result = await session.execute(
        select(RefreshToken)
        .where(RefreshToken.member_id == member_id)
        .order_by(RefreshToken.created_at)
    )
    return list(result.scalars())


EXPORT_ACTIVITY_LIMIT = 1000


async def activity_of(session: AsyncSession, member_id: uuid.UUID) -> list[AuditEntry]:
    result = await session.execute(
        select(AuditEntry)
        .where(or_(AuditEntry.actor_id == member_id, AuditEntry.target_id == member_id))
        .order_by(AuditEntry.occurred_at.desc())
        .limit(EXPORT_ACTIVITY_LIMIT)
    )
    return list(result.scalars())


# Core, built once: the ORM's aliased self-join cost more per request than running it.
_MATES = (
    select(_other.c.member_id)
    .join(_mine, _mine.c.table_id == _other.c.table_id)
    .where(
        _mine.c.member_id == bindparam("member_id", type_=_seat.c.member_id.type),
        _other.c.member_id != bindparam("member_id"),
    )
    .distinct()
)


async def table_mates(session: AsyncSession, member_id: uuid.UUID) -> frozenset[uuid.UUID]:
    """Everyone who shared a published table with the member, at any event."""
    connection = await session.connection()
    rows = await connection.execute(_MATES, {"member_id": member_id})
    return frozenset(rows.scalars())


async def notification_preference(
    session: AsyncSession, member_id: uuid.UUID, *, for_update: bool = False
) -> NotificationPreference | None:
    query = select(NotificationPreference).where(NotificationPreference.member_id == member_id)
    if for_update:
        query = query.with_for_update()
    return (await session.execute(query)).scalar_one_or_none()


async def members_muting(
    session: AsyncSession, member_ids: Sequence[uuid.UUID], kind: str
) -> set[uuid.UUID]:
    """Which of these members turned this kind of e-mail off."""
    if not member_ids:
        return set()
    column = getattr(NotificationPreference, kind)
    rows = await session.execute(
        select(NotificationPreference.member_id).where(
            NotificationPreference.member_id.in_(list(member_ids)), column.is_(False)
        )
    )
    return set(rows.scalars())
