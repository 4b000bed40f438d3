"""Applications: drafting, submission, withdrawal, decisions (by the rule or an admin), the
decision rule itself and the funnel. Reviews build on this module, never the reverse."""

import statistics
import uuid
from collections import Counter
from collections.abc import Sequence
from datetime import UTC, date, datetime
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from app.applications import events, repository
from app.applications.decision import Rule
from app.applications.repository import ApplicationFilters
from app.applications.schemas import (
    ApplicationAdminRead,
    ApplicationCreate,
    ApplicationRead,
    ApplicationUpdate,
    CountByKey,
    DecisionCreate,
    DecisionRuleRead,
    DecisionRuleUpdate,
    FunnelStats,
    ReviewerOutstanding,
)
from app.auth import accounts
from app.auth import service as auth_service
from app.auth.principal import Principal
from app.core import audit
from app.core.config import Settings
from app.core.context import RequestContext
from app.core.errors import Conflict, IllegalTransition, InvalidInput, NotFound
from app.core.etag import check_if_match, etag_of
from app.core.followers import Followers
from app.core.outbox import emit
from app.core.pagination import Page, decode_time_cursor, encode_time_cursor
from app.members.events import MEMBER_ROLES_CHANGED, MemberRolesData
from app.models.application import (
    DECIDED_STATUSES,
    Application,
    ApplicationStatus,
    DecidedBy,
    Escalation,
)
from app.models.member import MemberStatus, Role, Visibility

# Fields an applicant must fill before the council can judge the application.
REQUIRED_ON_SUBMIT = ("function", "seniority", "industry", "experience_summary")


class OpenApplication(Conflict):
    slug, title = "open-application-exists", "An open application exists"


class AlreadyMember(Conflict):
    slug, title = "already-member", "Already a member"


class IncompleteApplication(Conflict):
    # The request is well formed; the stored draft lacks fields: a state conflict, so 409.
    slug, title = "incomplete-application", "Application incomplete"


class InvalidRule(InvalidInput):
    slug, title = "invalid-decision-rule", "Invalid decision rule"


# status -> the statuses it may move to. Anything else is a 409.
TRANSITIONS: dict[str, frozenset[str]] = {
    ApplicationStatus.draft: frozenset({ApplicationStatus.submitted, ApplicationStatus.withdrawn}),
    ApplicationStatus.submitted: frozenset(
        {ApplicationStatus.in_review, ApplicationStatus.withdrawn, *DECIDED_STATUSES}
    ),
    ApplicationStatus.in_review: frozenset({ApplicationStatus.withdrawn, *DECIDED_STATUSES}),
    # A waitlisted applicant is approved or turned down when a place frees up.
    ApplicationStatus.waitlisted: frozenset(
        {ApplicationStatus.approved, ApplicationStatus.rejected}
    ),
    ApplicationStatus.approved: frozenset(),
    ApplicationStatus.rejected: frozenset(),
    ApplicationStatus.withdrawn: frozenset(),
}


def check_transition(application: Application, target: str) -> None:
    if target not in TRANSITIONS[application.status]:
        raise IllegalTransition(
            f"An application in status '{application.status}' cannot become '{target}'."
        )


def touch(application: Application) -> None:
    application.version += 1
    application.updated_at = datetime.now(UTC)


# -- for the areas above, which check access their own way -------------------------------------


async def owner_of(session: AsyncSession, application_id: uuid.UUID) -> uuid.UUID | None:
    """The member an application belongs to."""
    return await repository.owner_of(session, application_id)


async def ids_of_member(session: AsyncSession, member_id: uuid.UUID) -> list[uuid.UUID]:
    return await repository.ids_of_member(session, member_id)


def owner_view(application: Application) -> ApplicationRead:
    return ApplicationRead.model_validate(application)


def admin_view(application: Application) -> ApplicationAdminRead:
    return ApplicationAdminRead.model_validate(application)


def view_for(principal: Principal, application: Application) -> ApplicationRead:
    return admin_view(application) if principal.is_admin else owner_view(application)


def _apply_fields(application: Application, data: ApplicationCreate | ApplicationUpdate) -> None:
    changes = data.model_dump(exclude_unset=True)
    consent = changes.pop("reviewers_may_see_company", None)
    for name, value in changes.items():
        setattr(application, name, value)
    if consent is not None and consent != application.reviewers_may_see_company:
        application.reviewers_may_see_company = consent
        application.company_consent_at = datetime.now(UTC)


async def create(
    session: AsyncSession,
    *,
    principal: Principal,
    context: RequestContext,
    data: ApplicationCreate,
) -> ApplicationRead:
    if principal.has_role(Role.member):
        raise AlreadyMember("You are a member already.")
    application = Application(member_id=principal.id)
    _apply_fields(application, data)
    try:
        await repository.add(session, application)
    except repository.OpenApplicationExists as error:
        raise OpenApplication("You have an open application; edit or withdraw it.") from error
    audit.record(
        session,
        actor_id=principal.id,
        action="application.created",
        target_type="application",
        target_id=application.id,
        context=context,
    )
    return owner_view(application)


async def find(
    session: AsyncSession, application_id: uuid.UUID, *, for_update: bool = False
) -> Application | None:
    """An application by id for the review process, which checks access itself; locked on
    request (see ``repository.get_for_update``)."""
    if for_update:
        return await repository.get_for_update(session, application_id)
    return await repository.get(session, application_id)


async def applicant_name(session: AsyncSession, application: Application) -> str | None:
    member = await repository.get_member(session, application.member_id)
    return member.full_name if member and member.full_name else None


async def load_visible(
    session: AsyncSession,
    principal: Principal,
    application_id: uuid.UUID,
    *,
    for_update: bool = False,
) -> Application:
    """The application if the caller owns it or is an admin; anyone else gets 404."""
    if for_update:
        application = await repository.get_for_update(session, application_id)
    else:
        application = await repository.get(session, application_id)
    if application is None or (application.member_id != principal.id and not principal.is_admin):
        raise NotFound("No such application.")
    return application


async def load_own(
    session: AsyncSession, principal: Principal, application_id: uuid.UUID
) -> Application:
    """The caller's own application, locked: only its applicant may change it."""
    application = await repository.get_for_update(session, application_id)
    if application is None or application.member_id != principal.id:
        raise NotFound("No such application.")
    return application


def _audit_private_read(
    session: AsyncSession,
    principal: Principal,
    context: RequestContext,
    applications: list[Application],
) -> None:
    """Company and title in others' applications are private: admins' reads are written
    down (ids only)."""
    if not principal.is_admin:
        return
    ids = [a.id for a in applications if a.member_id != principal.id and (a.company or a.job_title)]
    if ids:
        audit.record(
            session,
            actor_id=principal.id,
            action="application.private_fields_read",
            target_type="application",
            target_id=ids[0] if len(ids) == 1 else None,
            context=context,
            details={"application_ids": [str(i) for i in ids]},
        )


async def get(
    session: AsyncSession,
    *,
    principal: Principal,
    context: RequestContext,
    application_id: uuid.UUID,
) -> ApplicationRead:
    application = await load_visible(session, principal, application_id)
    _audit_private_read(session, principal, context, [application])
    return view_for(principal, application)


async def update(
    session: AsyncSession,
    *,
    principal: Principal,
    context: RequestContext,
    application_id: uuid.UUID,
    data: ApplicationUpdate,
    if_match: str | None,
) -> ApplicationRead:
    application = await load_own(session, principal, application_id)
    check_if_match(if_match, etag_of(owner_view(application)))
    if application.status != ApplicationStatus.draft:
        raise IllegalTransition("Only a draft can be edited.")
    _apply_fields(application, data)
    touch(application)
    await session.flush()
    return owner_view(application)


def mark_submitted(application: Application) -> None:
    """Draft -> submitted, once the content is complete. The caller assigns reviewers."""
    check_transition(application, ApplicationStatus.submitted)
    missing = [name for name in REQUIRED_ON_SUBMIT if getattr(application, name) in (None, "")]
    if missing:
        raise IncompleteApplication(f"Fill these fields before submitting: {', '.join(missing)}.")
    application.status = ApplicationStatus.submitted
    application.submitted_at = datetime.now(UTC)
    touch(application)


# What a submission means above this area (the council's reviewers are assigned), run in the
# same transaction: (session, settings, application) for one, and for an imported batch.
submitted: Followers[[AsyncSession, Settings, Application]] = Followers("application submitted")
imported: Followers[[AsyncSession, Settings, Sequence[Application]]] = Followers(
    "applications imported"
)


async def submit(
    session: AsyncSession,
    *,
    principal: Principal,
    context: RequestContext,
    settings: Settings,
    application_id: uuid.UUID,
) -> ApplicationRead:
    """Submit my draft: reviewers are assigned in the same transaction. With fewer eligible
    reviewers than needed it stays 'submitted' until an admin adds reviewers."""
    await accounts.require_verified(session, principal.id)
    application = await load_own(session, principal, application_id)
    mark_submitted(application)
    await submitted.run(session, settings, application)
    announce_submitted(session, application)
    audit.record(
        session,
        actor_id=principal.id,
        action="application.submitted",
        target_type="application",
        target_id=application.id,
        context=context,
    )
    await session.flush()
    return owner_view(application)


def start_review(application: Application) -> None:
    """Submitted -> in review: the council has its reviewers."""
    if application.status == ApplicationStatus.submitted:
        application.status = ApplicationStatus.in_review
        touch(application)


def announce_submitted(session: AsyncSession, application: Application) -> None:
    emit(
        session,
        events.SUBMITTED,
        events.ApplicationSubmitted(
            id=application.id,
            version=application.version,
            status=application.status,
            imported=application.imported,
        ),
    )


async def withdraw(
    session: AsyncSession,
    *,
    principal: Principal,
    context: RequestContext,
    application_id: uuid.UUID,
) -> ApplicationRead:
    application = await load_own(session, principal, application_id)
    check_transition(application, ApplicationStatus.withdrawn)
    application.status = ApplicationStatus.withdrawn
    application.withdrawn_at = datetime.now(UTC)
    application.escalation = None
    touch(application)
    emit(
        session,
        events.WITHDRAWN,
        events.ApplicationWithdrawn(id=application.id, version=application.version),
    )
    audit.record(
        session,
        actor_id=principal.id,
        action="application.withdrawn",
        target_type="application",
        target_id=application.id,
        context=context,
    )
    await session.flush()
    return owner_view(application)


async def settle(
    session: AsyncSession,
    settings: Settings,
    application: Application,
    *,
    status: ApplicationStatus,
    decided_by: DecidedBy,
    reason: str | None,
    actor_id: uuid.UUID | None,
    context: RequestContext | None,
) -> None:
    """Decide, in the caller's transaction: on approval the person becomes a member with a
    profile built from the application, private by default; the event and the audit entry
    are written with the change."""
    check_transition(application, status)
    now = datetime.now(UTC)
    application.status = status
    application.decided_by = decided_by
    application.decision_reason = reason
    application.decided_at = now
    application.escalation = None
    touch(application)
    if status == ApplicationStatus.approved:
        await _make_member(session, settings, application)
    emit(
        session,
        events.DECIDED,
        events.ApplicationDecided(
            id=application.id, version=application.version, status=status, decided_by=decided_by
        ),
    )
    details: dict[str, Any] = {"status": status, "decided_by": decided_by}
    if decided_by == DecidedBy.admin and reason:
        # An admin's own words about the decision, not the applicant's data: the audit log keeps
        # them as the record of why.
        details["reason"] = reason
    audit.record(
        session,
        actor_id=actor_id,
        action="application.decided",
        target_type="application",
        target_id=application.id,
        context=context,
        details=details,
    )
    await session.flush()


async def _make_member(session: AsyncSession, settings: Settings, application: Application) -> None:
    member = await repository.get_member(session, application.member_id)
    if member is None or member.erased_at is not None:
        raise IllegalTransition("The applicant's account no longer exists.")
    await repository.grant_member_role(session, member.id)
    for name in ("function", "seniority", "industry", "company", "job_title"):
        value = getattr(application, name)
        if value is not None:
            setattr(member, name, value)
    # The profile starts private: the member opens it up themselves.
    member.company_visibility = Visibility.nobody
    member.job_title_visibility = Visibility.nobody
    member.phone_visibility = Visibility.nobody
    member.email_visibility = Visibility.nobody
    member.status = MemberStatus.active
    member.member_since = member.member_since or date.today()
    member.version += 1
    member.updated_at = datetime.now(UTC)
    # A new role must not ride on tokens minted with the old ones.
    await auth_service.revoke_everything(session, member.id)
    emit(
        session,
        MEMBER_ROLES_CHANGED,
        MemberRolesData(
            id=member.id,
            version=member.version,
            roles=await auth_service.roles_of(session, member.id),
        ),
    )
    # Someone who never set a password (imported) is invited to, in the same transaction: the
    # invitation e-mail is their welcome.
    await accounts.invite(session, settings, member, actor_id=None, context=None)


def escalate(session: AsyncSession, application: Application, escalation: Escalation) -> None:
    if application.escalation == escalation:
        return
    application.escalation = escalation
    touch(application)
    emit(
        session,
        events.ESCALATED,
        events.ApplicationEscalated(
            id=application.id, version=application.version, escalation=escalation
        ),
    )


async def decide_by_admin(
    session: AsyncSession,
    settings: Settings,
    *,
    principal: Principal,
    context: RequestContext,
    application_id: uuid.UUID,
    data: DecisionCreate,
) -> ApplicationAdminRead:
    application = await repository.get_for_update(session, application_id)
    if application is None:
        raise NotFound("No such application.")
    await settle(
        session,
        settings,
        application,
        status=ApplicationStatus(data.status),
        decided_by=DecidedBy.admin,
        reason=data.reason,
        actor_id=principal.id,
        context=context,
    )
    return admin_view(application)


async def list_applications(
    session: AsyncSession,
    *,
    principal: Principal,
    context: RequestContext,
    filters: ApplicationFilters,
    descending: bool,
    cursor: str | None,
    limit: int,
) -> Page[ApplicationRead] | Page[ApplicationAdminRead]:
    if not principal.is_admin:
        # Everyone but admins lists their own applications only, whatever they ask for.
        filters = ApplicationFilters(member_id=principal.id, status=filters.status)
    sort = "-created_at" if descending else "created_at"
    after = decode_time_cursor(cursor, sort)
    rows = await repository.list_applications(
        session, filters=filters, descending=descending, after=after, limit=limit
    )
    page, more = rows[:limit], len(rows) > limit
    next_cursor = None
    if more:
        last = page[-1]
        next_cursor = encode_time_cursor(sort, last.created_at, last.id)
    if principal.is_admin:
        _audit_private_read(session, principal, context, list(page))
        return Page[ApplicationAdminRead](
            items=[admin_view(a) for a in page], next_cursor=next_cursor
        )
    return Page[ApplicationRead](items=[owner_view(a) for a in page], next_cursor=next_cursor)


# --- the decision rule ------------------------------------------------------------------


async def current_rule(session: AsyncSession) -> Rule:
    row = await repository.get_rule(session)
    return Rule(
        quorum=row.quorum,
        approve_at=row.approve_at,
        reject_below=row.reject_below,
        disagreement_limit=row.disagreement_limit,
    )


async def get_rule(session: AsyncSession) -> DecisionRuleRead:
    return DecisionRuleRead.model_validate(await repository.get_rule(session))


async def update_rule(
    session: AsyncSession,
    *,
    principal: Principal,
    context: RequestContext,
    data: DecisionRuleUpdate,
    reviewers_per_application: int,
) -> DecisionRuleRead:
    if data.reject_below > data.approve_at:
        raise InvalidRule("reject_below must not exceed approve_at.")
    if data.quorum > reviewers_per_application:
        # No application could ever collect that many reviews: nothing would be decided. The
        # bound is the server's configuration, not the request's own shape: a conflict.
        raise Conflict(
            f"quorum cannot exceed the {reviewers_per_application} reviewers "
            "assigned to each application."
        )
    row = await repository.get_rule(session, for_update=True)
    before = {
        "quorum": row.quorum,
        "approve_at": row.approve_at,
        "reject_below": row.reject_below,
        "disagreement_limit": row.disagreement_limit,
    }
    after = data.model_dump()
    if before != after:
        for name, value in after.items():
            setattr(row, name, value)
        row.version += 1
        row.updated_at = datetime.now(UTC)
        audit.record(
            session,
            actor_id=principal.id,
            action="decision_rule.updated",
            target_type="decision_rule",
            target_id=None,
            context=context,
            details={"from": before, "to": after},
        )
        await session.flush()
    return DecisionRuleRead.model_validate(row)


# --- the funnel -------------------------------------------------------------------------


def _counts(values: list[str | None]) -> list[CountByKey]:
    counter = Counter(values)
    return [
        CountByKey(key=key, count=count)
        for key, count in sorted(counter.items(), key=lambda kv: (-kv[1], kv[0] or ""))
    ]


async def funnel(session: AsyncSession) -> FunnelStats:
    rows = await repository.funnel_rows(session)
    by_status = dict.fromkeys((s.value for s in ApplicationStatus), 0)
    for row in rows:
        by_status[row.status] = by_status.get(row.status, 0) + 1
    decided = sum(by_status[s] for s in DECIDED_STATUSES)
    hours = [
        (row.decided_at - row.submitted_at).total_seconds() / 3600
        for row in rows
        if row.decided_at is not None and row.submitted_at is not None
    ]
    outstanding = await repository.outstanding_per_reviewer(session)
    return FunnelStats(
        total=len(rows),
        by_status=by_status,
        by_source=_counts([row.source for row in rows]),
        by_utm_campaign=_counts([row.utm_campaign for row in rows]),
        approval_rate=by_status[ApplicationStatus.approved] / decided if decided else None,
        median_hours_to_decision=statistics.median(hours) if hours else None,
        reviews_outstanding=[
            ReviewerOutstanding(reviewer_id=r, outstanding=n) for r, n in outstanding
        ],
    )
