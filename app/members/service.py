"""Members: the directory with privacy applied, my profile, consents, roles, export, erasure."""

import uuid
from collections.abc import Callable, Mapping, Sequence
from dataclasses import replace
from datetime import UTC, date, datetime
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from app.auth import accounts
from app.auth import service as auth_service
from app.auth.links import InvalidLink
from app.auth.principal import Principal
from app.core import audit
from app.core.config import Settings
from app.core.context import RequestContext
from app.core.errors import Forbidden, InvalidInput, NotFound
from app.core.etag import check_if_match, etag_of
from app.core.outbox import emit
from app.core.pagination import Page, aware_time, decode_keyset_cursor, encode_cursor
from app.core.security import sign_value, unsign_value
from app.members import repository
from app.members.events import (
    MEMBER_ERASED,
    MEMBER_ROLES_CHANGED,
    MEMBER_STATUS_CHANGED,
    MEMBER_UPDATED,
    MemberErasedData,
    MemberRolesData,
    MemberStatusData,
    MemberUpdatedData,
)
from app.members.privacy import Viewer, may_filter_by, visible_private_fields
from app.members.repository import MemberFilters
from app.members.schemas import (
    ApplicationExport,
    AuditEntryExport,
    CaseExport,
    ConsentChangeRead,
    InvitationResult,
    InvitationsReport,
    InvitationsRequest,
    MemberAdminUpdate,
    MemberExport,
    MemberRead,
    MemberSelf,
    MemberUpdate,
    NotificationPreferences,
    NotificationPreferencesUpdate,
    Privacy,
    RecommendationExport,
    SessionRead,
    SurveyAnswerExport,
    UnsubscribeResult,
)
from app.models.member import (
    PRIVATE_FIELDS,
    SENIORITY_LABELS,
    ConsentChange,
    Member,
    MemberStatus,
    Role,
    Visibility,
)
from app.models.notification import OPTIONAL_KINDS, NotificationKind, NotificationPreference

# The ORM entity (writes) or a directory entry (reads).
MemberLike = Member | Mapping[str, Any]
# A member's columns by name: a directory page's entries, a row's mapping.
MemberFields = Mapping[str, Any]

_MEMBER_COLUMNS: tuple[str, ...] = tuple(Member.model_fields)
_VISIBILITY_COLUMNS = tuple((name, f"{name}_visibility") for name in PRIVATE_FIELDS)


class FieldNotFilterable(InvalidInput):
    slug, title = "field-not-filterable", "Field not filterable"


class SelfDemotion(InvalidInput):
    slug, title = "self-demotion", "Admins cannot remove their own admin role"


def viewer_of(principal: Principal, shown: Sequence[MemberFields] = ()) -> Viewer:
    """The principal as a reader of the ``shown`` directory entries, with those of them they
    sat with at a table (the "table" consent level opens fields to them): the directory's
    statement tells, for the profiles that use that level."""
    return Viewer(
        id=principal.id,
        is_admin=principal.is_admin,
        sees_members=principal.sees_members,
        table_mates=frozenset(m["id"] for m in shown if m.get(repository.SAT_WITH_VIEWER)),
    )


async def viewer_with_every_mate(session: AsyncSession, principal: Principal) -> Viewer:
    """The principal as a reader of anyone: with everyone they ever sat with at a table."""
    return Viewer(
        id=principal.id,
        is_admin=principal.is_admin,
        sees_members=principal.sees_members,
        table_mates=await repository.table_mates(session, principal.id),
    )


def _audience(principal: Principal) -> repository.Audience:
    return repository.audience_of(is_admin=principal.is_admin, sees_members=principal.sees_members)


def fields_of(member: MemberLike) -> MemberFields:
    """A member's columns by name, from the ORM entity or a directory entry."""
    if isinstance(member, Member):
        return {name: getattr(member, name) for name in _MEMBER_COLUMNS}
    return member


def _visibilities(member: MemberFields) -> dict[str, str]:
    return {name: member[column] for name, column in _VISIBILITY_COLUMNS}


def _public_fields(member: MemberFields) -> dict[str, Any]:
    seniority = member["seniority"]
    return {
        "id": member["id"],
        "full_name": member["full_name"],
        "city": member["city"],
        "function": member["function"],
        "seniority": seniority,
        "seniority_label": SENIORITY_LABELS.get(seniority) if seniority else None,
        "industry": member["industry"],
        "expertise_tags": list(member["expertise_tags"] or []),
        "bio": member["bio"],
        "links": list(member["links"] or []),
        "status": member["status"],
        "member_since": member["member_since"],
    }


def directory_fields(viewer: Viewer | None, member: MemberFields) -> dict[str, Any]:
    """The fields of ``MemberRead`` as ``viewer`` sees the member: private fields outside
    consent are null, and ``activated`` is for admins. Plain values, validated once by the
    caller's model (a page validates all its rows in one call)."""
    fields = _public_fields(member)
    visible = visible_private_fields(viewer, member["id"], _visibilities(member))
    for name in PRIVATE_FIELDS:
        fields[name] = member[name] if name in visible else None
    fields["activated"] = member["activated"] if viewer is not None and viewer.is_admin else None
    return fields


def member_view(viewer: Viewer | None, member: MemberFields) -> MemberRead:
    """A member as ``viewer`` sees them; private fields outside consent are null."""
    return MemberRead.model_validate(directory_fields(viewer, member))


def full_view(member: MemberLike, roles: list[str]) -> MemberSelf:
    fields = fields_of(member)
    return MemberSelf.model_validate(
        {
            **_public_fields(fields),
            **{name: fields[name] for name in PRIVATE_FIELDS},
            "roles": roles,
            "privacy": Privacy.model_validate(_visibilities(fields)),
            "language": fields["language"],
            "email_verified_at": fields["email_verified_at"],
            "activated": fields["password_hash"] is not None,
            "created_at": fields["created_at"],
            "updated_at": fields["updated_at"],
        }
    )


async def read_self_view(session: AsyncSession, member: MemberLike) -> MemberSelf:
    fields = fields_of(member)
    return full_view(fields, await auth_service.roles_of(session, fields["id"]))


def audit_private_read(
    session: AsyncSession,
    principal: Principal,
    context: RequestContext,
    members: Sequence[MemberFields],
) -> None:
    """Admins see private fields of others; each such read is written down (ids only)."""
    if not principal.is_admin:
        return
    others = [
        m["id"]
        for m in members
        if m["id"] != principal.id and any(m[name] for name in PRIVATE_FIELDS)
    ]
    if not others:
        return
    audit.record(
        session,
        actor_id=principal.id,
        action="member.private_fields_read",
        target_type="member",
        target_id=others[0] if len(others) == 1 else None,
        context=context,
        details={"member_ids": [str(i) for i in others]},
    )


async def list_members(
    session: AsyncSession,
    *,
    principal: Principal,
    context: RequestContext,
    filters: MemberFilters,
    sort: str,
    cursor: str | None,
    limit: int,
) -> Page[MemberRead]:
    viewer = viewer_of(principal)  # for the filter rules; rows come below
    if filters.email:
        # The key an address is stored under: "ＡＤＭＩＮ@Example.com" finds admin@example.com.
        filters = replace(filters, email=auth_service.normalize_email(filters.email))
    sort_field = sort.lstrip("-")
    for name in ("company", "email"):
        if getattr(filters, name) is not None and not may_filter_by(viewer, name):
            raise FieldNotFilterable(f"You may not filter by '{name}'.")
    if not may_filter_by(viewer, sort_field):
        raise FieldNotFilterable(f"You may not sort by '{sort_field}'.")
    if filters.role is not None and not principal.is_admin and filters.role != Role.member:
        raise FieldNotFilterable("Only admins may filter by roles other than 'member'.")
    # The key is the sort field's value: a timestamp for created_at, text otherwise.
    read_key: Callable[[str], Any] = aware_time if sort_field == "created_at" else str
    after = decode_keyset_cursor(cursor, sort, read_key)
    rows = await repository.list_members(
        session,
        viewer_id=principal.id,
        audience=_audience(principal),
        filters=filters,
        sort=sort,
        after=after,
        limit=limit,
    )
    page, more = rows[:limit], len(rows) > limit
    next_cursor = None
    if more:
        last = page[-1]
        next_cursor = encode_cursor(sort, [_sort_value(last, sort_field), str(last["id"])])
    audit_private_read(session, principal, context, page)
    viewer = viewer_of(principal, page)
    # One validation of the whole page from plain values (a model per row costs more).
    return Page[MemberRead].model_validate(
        {"items": [directory_fields(viewer, m) for m in page], "next_cursor": next_cursor}
    )


def _sort_value(member: MemberFields, sort_field: str) -> Any:
    value = member[sort_field]
    if isinstance(value, datetime):
        return value.isoformat()
    return value or ""


async def get_member(
    session: AsyncSession, *, principal: Principal, context: RequestContext, member_id: uuid.UUID
) -> MemberRead | MemberSelf:
    member = await repository.get_visible_member(
        session, member_id, viewer_id=principal.id, audience=_audience(principal)
    )
    if member is None:
        raise NotFound("No such member.")
    if principal.is_admin or member["id"] == principal.id:
        audit_private_read(session, principal, context, [member])
        return await read_self_view(session, member)
    return member_view(viewer_of(principal, [member]), member)


async def _require_self(session: AsyncSession, principal: Principal) -> Member:
    member = await repository.get_member(session, principal.id)
    if member is None or member.erased_at is not None:
        raise NotFound("No such member.")
    return member


async def get_me(session: AsyncSession, principal: Principal) -> MemberSelf:
    return await read_self_view(session, await _require_self(session, principal))


async def update_me(
    session: AsyncSession,
    *,
    principal: Principal,
    context: RequestContext,
    data: MemberUpdate,
    if_match: str | None,
) -> MemberSelf:
    member = await _require_self(session, principal)
    roles = await auth_service.roles_of(session, member.id)
    check_if_match(if_match, etag_of(full_view(member, roles)))
    changes = data.model_dump(exclude_unset=True, exclude={"privacy"})
    for name, value in changes.items():
        if name == "links" and value is not None:
            value = [str(link) for link in value]
        if name in ("expertise_tags", "links") and value is None:
            value = []
        if name in ("full_name", "language") and value is None:
            raise InvalidInput(f"{name} cannot be removed.")
        setattr(member, name, value)
    consent_changes = _apply_privacy(member, data)
    if changes or consent_changes:
        member.version += 1
        member.updated_at = datetime.now(UTC)
        await repository.add_consent_changes(session, consent_changes)
        # Field names only: values of private fields never enter the audit log.
        audit.record(
            session,
            actor_id=principal.id,
            action="member.updated",
            target_type="member",
            target_id=member.id,
            context=context,
            details={
                "fields": sorted(changes),
                "privacy": {c.field: c.visibility for c in consent_changes},
            },
        )
        emit(
            session,
            MEMBER_UPDATED,
            MemberUpdatedData(
                id=member.id,
                version=member.version,
                fields=sorted(changes),
                privacy_changed=bool(consent_changes),
            ),
        )
    await session.flush()
    return full_view(member, roles)


def _apply_privacy(member: Member, data: MemberUpdate) -> list[ConsentChange]:
    if data.privacy is None:
        return []
    now = datetime.now(UTC)
    changes = []
    for name, visibility in data.privacy.model_dump(exclude_none=True).items():
        if getattr(member, f"{name}_visibility") != visibility:
            setattr(member, f"{name}_visibility", visibility)
            changes.append(
                ConsentChange(
                    member_id=member.id, field=name, visibility=visibility, changed_at=now
                )
            )
    return changes


async def update_member_status(
    session: AsyncSession,
    *,
    principal: Principal,
    context: RequestContext,
    member_id: uuid.UUID,
    data: MemberAdminUpdate,
    if_match: str | None,
) -> MemberSelf:
    member = await repository.get_member(session, member_id)
    if member is None or member.erased_at is not None:
        raise NotFound("No such member.")
    roles = await auth_service.roles_of(session, member.id)
    check_if_match(if_match, etag_of(full_view(member, roles)))
    if member.status != data.status:
        previous = member.status
        member.status = data.status
        member.version += 1
        member.updated_at = datetime.now(UTC)
        audit.record(
            session,
            actor_id=principal.id,
            action="member.status_changed",
            target_type="member",
            target_id=member.id,
            context=context,
            details={"from": previous, "to": data.status},
        )
        emit(
            session,
            MEMBER_STATUS_CHANGED,
            MemberStatusData(
                id=member.id,
                version=member.version,
                status=data.status,
            ),
        )
    await session.flush()
    return full_view(member, roles)


async def set_roles(
    session: AsyncSession,
    *,
    principal: Principal,
    context: RequestContext,
    member_id: uuid.UUID,
    roles: list[Role],
) -> MemberSelf:
    member = await repository.get_member(session, member_id)
    if member is None or member.erased_at is not None:
        raise NotFound("No such member.")
    wanted = sorted(set(roles))
    current = await auth_service.roles_of(session, member.id)
    if member.id == principal.id and Role.admin not in wanted:
        raise SelfDemotion("You cannot take the admin role from yourself; ask another admin.")
    if wanted != current:
        await repository.replace_roles(session, member.id, wanted)
        if Role.member in wanted and member.member_since is None:
            member.member_since = date.today()
        member.version += 1
        member.updated_at = datetime.now(UTC)
        # New roles must not ride on tokens minted with the old ones.
        await auth_service.revoke_everything(session, member.id)
        audit.record(
            session,
            actor_id=principal.id,
            action="member.roles_changed",
            target_type="member",
            target_id=member.id,
            context=context,
            details={"from": current, "to": list(wanted)},
        )
        emit(
            session,
            MEMBER_ROLES_CHANGED,
            MemberRolesData(
                id=member.id,
                version=member.version,
                roles=[str(r) for r in wanted],
            ),
        )
    await session.flush()
    await session.refresh(member)
    return full_view(member, list(wanted))


async def export_me(session: AsyncSession, principal: Principal) -> MemberExport:
    member = await _require_self(session, principal)
    return MemberExport(
        profile=await read_self_view(session, member),
        consent_history=[
            ConsentChangeRead.model_validate(c)
            for c in await repository.consent_history(session, member.id)
        ],
        api_tokens=await auth_service.list_api_tokens(session, principal),
        sessions=[
            SessionRead.model_validate(t)
            for t in await repository.refresh_tokens_of(session, member.id)
        ],
        activity=[
            AuditEntryExport.model_validate(a)
            for a in await repository.activity_of(session, member.id)
        ],
        applications=[
            ApplicationExport.model_validate(a)
            for a in await repository.applications_of(session, member.id)
        ],
        cases=[
            CaseExport.model_validate(c, from_attributes=True)
            for c in await repository.cases_of(session, member.id)
        ],
        recommendations=[
            RecommendationExport.model_validate(r, from_attributes=True)
            for r in await repository.recommendations_of(session, member.id)
        ],
        survey_answers=[
            SurveyAnswerExport(
                survey_id=r.survey_id, answers=r.answers, submitted_on=r.submitted_on.isoformat()
            )
            for r in await repository.survey_answers_of(session, member.id)
        ],
    )


async def consent_history(session: AsyncSession, principal: Principal) -> list[ConsentChangeRead]:
    member = await _require_self(session, principal)
    return [
        ConsentChangeRead.model_validate(c)
        for c in await repository.consent_history(session, member.id)
    ]


async def erase_me(session: AsyncSession, *, principal: Principal, context: RequestContext) -> None:
    """Anonymise personal fields, drop roles and consents, revoke every credential. The row
    stays so references (registrations, reviews) keep their integrity."""
    member = await _require_self(session, principal)
    if principal.is_admin:
        raise Forbidden(
            "An admin account cannot erase itself; another admin must remove the admin role first."
        )
    now = datetime.now(UTC)
    placeholder = f"erased-{member.id.hex}@erased.invalid"
    member.email = member.email_normalized = placeholder
    member.password_hash = None
    member.full_name = "Erased member"
    for name in (
        "phone",
        "city",
        "function",
        "seniority",
        "industry",
        "bio",
        "company",
        "job_title",
    ):
        setattr(member, name, None)
    member.expertise_tags = []
    member.links = []
    for name in PRIVATE_FIELDS:
        setattr(member, f"{name}_visibility", Visibility.nobody)
    member.status = MemberStatus.left
    member.erased_at = now
    member.updated_at = now
    member.version += 1
    await repository.replace_roles(session, member.id, [])
    await repository.delete_consent_history(session, member.id)
    await repository.erase_applications(session, member.id)
    await repository.erase_cases(session, member.id)
    await repository.unlink_survey_answers(session, member.id)
    await auth_service.revoke_everything(session, member.id)
    await auth_service.revoke_api_tokens(session, member.id)
    audit.record(
        session,
        actor_id=member.id,
        action="member.erased",
        target_type="member",
        target_id=member.id,
        context=context,
    )
    emit(session, MEMBER_ERASED, MemberErasedData(id=member.id, version=member.version))
    await session.flush()


# -- invitations (the accounts area makes and sends them) ---------------------------------------


def _invitation_result(outcome: accounts.InvitationOutcome) -> InvitationResult:
    return InvitationResult(member_id=outcome.member_id, sent=outcome.sent, reason=outcome.reason)


async def invite_one(
    session: AsyncSession,
    settings: Settings,
    *,
    admin: Principal,
    context: RequestContext,
    member_id: uuid.UUID,
) -> InvitationResult:
    outcome = await accounts.invite_by_id(
        session, settings, admin=admin, context=context, member_id=member_id
    )
    return _invitation_result(outcome)


async def invite_many(
    session: AsyncSession,
    settings: Settings,
    *,
    admin: Principal,
    context: RequestContext,
    request: InvitationsRequest,
) -> InvitationsReport:
    if request.all_pending == (request.member_ids is not None):
        raise InvalidInput("Give either member_ids or all_pending: true (exactly one).")
    outcomes = await accounts.invite_many(
        session, settings, admin=admin, context=context, member_ids=request.member_ids
    )
    sent = sum(o.sent for o in outcomes)
    return InvitationsReport(
        sent=sent,
        skipped=len(outcomes) - sent,
        results=[_invitation_result(o) for o in outcomes],
    )


# -- which e-mails I receive -------------------------------------------------------------------

UNSUBSCRIBE = "unsubscribe"


def _preferences_view(row: NotificationPreference | None) -> NotificationPreferences:
    row = row or NotificationPreference(member_id=uuid.uuid4())
    return NotificationPreferences(**{k.value: getattr(row, k.value) for k in OPTIONAL_KINDS})


async def notification_preferences(
    session: AsyncSession, principal: Principal
) -> NotificationPreferences:
    member = await _require_self(session, principal)
    return _preferences_view(await repository.notification_preference(session, member.id))


async def _set_preferences(
    session: AsyncSession, member_id: uuid.UUID, changes: dict[str, bool]
) -> NotificationPreference:
    row = await repository.notification_preference(session, member_id, for_update=True)
    if row is None:
        row = NotificationPreference(member_id=member_id)
        session.add(row)
    for name, value in changes.items():
        setattr(row, name, value)
    row.updated_at = datetime.now(UTC)
    await session.flush()
    return row


async def update_notification_preferences(
    session: AsyncSession,
    *,
    principal: Principal,
    context: RequestContext,
    data: NotificationPreferencesUpdate,
) -> NotificationPreferences:
    member = await _require_self(session, principal)
    changes = {k: v for k, v in data.model_dump(exclude_unset=True).items() if v is not None}
    row = await _set_preferences(session, member.id, changes)
    audit.record(
        session,
        actor_id=member.id,
        action="member.notifications_changed",
        target_type="member",
        target_id=member.id,
        context=context,
        details=changes,
    )
    return _preferences_view(row)


def unsubscribe_token(settings: Settings, member_id: uuid.UUID, kind: NotificationKind) -> str:
    """The token of a one-click unsubscribe link: signed, so it needs no sign-in and cannot
    be made for someone else or another kind; using it again changes nothing."""
    return sign_value(settings.jwt_secret, UNSUBSCRIBE, f"{member_id}:{kind.value}")


async def unsubscribe(
    session: AsyncSession, settings: Settings, context: RequestContext, token: str
) -> UnsubscribeResult:
    value = unsign_value(settings.jwt_secret, UNSUBSCRIBE, token)
    member_id_text, _, kind_text = (value or "").partition(":")
    try:
        member_id = uuid.UUID(member_id_text)
        kind = NotificationKind(kind_text)
    except ValueError:
        raise InvalidLink("This unsubscribe link is not valid.") from None
    member = await repository.get_member(session, member_id) if kind in OPTIONAL_KINDS else None
    if member is None or member.erased_at is not None:
        raise InvalidLink("This unsubscribe link is not valid.")
    row = await _set_preferences(session, member.id, {kind.value: False})
    audit.record(
        session,
        actor_id=member.id,
        action="member.unsubscribed",
        target_type="member",
        target_id=member.id,
        context=context,
        details={"kind": kind.value},
    )
    return UnsubscribeResult(kind=kind.value, preferences=_preferences_view(row))


async def muting(
    session: AsyncSession, member_ids: Sequence[uuid.UUID], kind: NotificationKind
) -> set[uuid.UUID]:
    """Which of these members do not want e-mails of this kind (never the transactional)."""
    if kind not in OPTIONAL_KINDS:
        return set()
    return await repository.members_muting(session, member_ids, kind.value)
