"""Bulk import of applications from a form export: validated rows become accounts and
submitted applications; a report says what happened to each row."""

from collections import Counter
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from app.applications import csv_import, repository
from app.applications.schemas import ImportReport, ImportRowResult
from app.applications.service import announce_submitted, imported, touch
from app.auth import accounts
from app.auth import service as auth_service
from app.auth.principal import Principal
from app.core import audit
from app.core.config import Settings
from app.core.context import RequestContext
from app.core.errors import InvalidInput
from app.models.application import DECIDED_STATUSES, Application, ApplicationStatus
from app.models.member import Member, Role


class CsvRejected(InvalidInput):
    slug, title = "csv-unreadable", "CSV file unreadable"


@dataclass
class ImportResult:
    report: ImportReport
    submitted: list[Application]  # created now, to go to reviewers
    changed: list[Application]  # open applications whose content the file changed


def _same_content(application: Application, fields: dict[str, Any]) -> bool:
    return all(getattr(application, name) == value for name, value in fields.items())


async def import_rows(
    session: AsyncSession,
    *,
    principal: Principal,
    context: RequestContext,
    content: bytes,
    max_rows: int,
) -> ImportResult:
    """Create or update applications from a form export. Idempotent by e-mail: a row whose
    person already has an application with the same content changes nothing."""
    try:
        parsed = list(csv_import.parse(content, max_rows=max_rows))
    except csv_import.CsvUnreadable as error:
        raise CsvRejected(str(error)) from error
    seen: dict[str, int] = {}
    for item in parsed:
        if item.row is None:
            continue
        key = auth_service.normalize_email(str(item.row.email))
        if key in seen:
            item.errors.append(f"email: the same e-mail is on line {seen[key]}")
            item.row = None
        else:
            seen[key] = item.line
    members = {
        m.email_normalized: m for m in await repository.members_by_email(session, list(seen))
    }
    member_ids = [m.id for m in members.values()]
    roles = await repository.roles_of_members(session, member_ids)
    latest = await repository.latest_applications(session, member_ids)

    now = datetime.now(UTC)
    results: list[ImportRowResult] = []
    new_rows: list[Any] = []
    submitted: list[Application] = []
    changed: list[Application] = []
    for item in parsed:
        if item.row is None:
            results.append(
                ImportRowResult(
                    row=item.line,
                    status="error",
                    email=item.email,
                    application_id=None,
                    errors=item.errors,
                )
            )
            continue
        row = item.row
        email = auth_service.normalize_email(str(row.email))
        fields = row.application_fields()
        member = members.get(email)
        existing = latest.get(member.id) if member else None
        if member is not None and (
            member.erased_at is not None or "member" in roles.get(member.id, set())
        ):
            results.append(
                ImportRowResult(
                    row=item.line,
                    status="error",
                    email=email,
                    application_id=None,
                    errors=["email: this person is a member already (or erased their account)"],
                )
            )
            continue
        if existing is not None and _same_content(existing, fields):
            results.append(
                ImportRowResult(
                    row=item.line,
                    status="unchanged",
                    email=email,
                    application_id=existing.id,
                    errors=[],
                )
            )
            continue
        if existing is not None and existing.status in (
            ApplicationStatus.draft,
            ApplicationStatus.submitted,
            ApplicationStatus.in_review,
        ):
            consent = fields.pop("reviewers_may_see_company")
            for name, value in fields.items():
                setattr(existing, name, value)
            if consent != existing.reviewers_may_see_company:
                existing.reviewers_may_see_company = consent
                existing.company_consent_at = now
            touch(existing)
            changed.append(existing)
            results.append(
                ImportRowResult(
                    row=item.line,
                    status="updated",
                    email=email,
                    application_id=existing.id,
                    errors=[],
                )
            )
            continue
        if existing is not None and existing.status in DECIDED_STATUSES:
            results.append(
                ImportRowResult(
                    row=item.line,
                    status="error",
                    email=email,
                    application_id=existing.id,
                    errors=[f"application: already {existing.status}; not changed"],
                )
            )
            continue
        if member is None:
            # No password: approval sends the person an invitation to set one.
            member, role_rows = accounts.new_account(
                email=str(row.email),
                full_name=row.full_name,
                phone=row.phone,
                roles=[Role.applicant],
            )
            new_rows.append(member)
            new_rows.extend(role_rows)
            members[email] = member
        elif member.email_verified_at is None and member.password_hash is not None:
            await _release_unproven_claim(session, member, row.full_name, context, now)
        application = Application(
            member_id=member.id,
            status=ApplicationStatus.submitted,
            submitted_at=now,
            imported=True,
            company_consent_at=now if fields["reviewers_may_see_company"] else None,
            **fields,
        )
        new_rows.append(application)
        submitted.append(application)
        results.append(
            ImportRowResult(
                row=item.line,
                status="created",
                email=email,
                application_id=application.id,
                errors=[],
            )
        )
    # Members first: without relationships the unit of work does not order the inserts.
    await repository.add_all(session, [r for r in new_rows if isinstance(r, Member)])
    await repository.add_all(session, [r for r in new_rows if not isinstance(r, Member)])
    counts = Counter(r.status for r in results)
    report = ImportReport(
        created=counts["created"],
        updated=counts["updated"],
        unchanged=counts["unchanged"],
        errors=counts["error"],
        rows=results,
    )
    audit.record(
        session,
        actor_id=principal.id,
        action="application.imported",
        target_type="application",
        target_id=None,
        context=context,
        details={
            "created": report.created,
            "updated": report.updated,
            "unchanged": report.unchanged,
            "errors": report.errors,
        },
    )
    return ImportResult(report=report, submitted=submitted, changed=changed)


async def _release_unproven_claim(
    session: AsyncSession,
    member: Member,
    full_name: str,
    context: RequestContext,
    now: datetime,
) -> None:
    """The address is held by a sign-up that never proved it: the form's person takes the
    account over. Its password and every session and API token end, so whoever signed up
    with someone else's address never sees that person's application; the owner gets in
    through the invitation that approval sends (or a password reset), which proves the
    address."""
    member.password_hash = None
    member.full_name = full_name
    member.version += 1
    member.updated_at = now
    await auth_service.revoke_everything(session, member.id, api_tokens=True)
    audit.record(
        session,
        actor_id=None,
        action="account.unproven_claim_released",
        target_type="member",
        target_id=member.id,
        context=context,
    )


async def import_applications(
    session: AsyncSession,
    *,
    principal: Principal,
    context: RequestContext,
    settings: Settings,
    content: bytes,
) -> ImportReport:
    """Import a form export; the applications it submits get their reviewers at once, in one
    transaction with the rows."""
    result = await import_rows(
        session,
        principal=principal,
        context=context,
        content=content,
        max_rows=settings.application_import_max_rows,
    )
    if result.submitted:
        await imported.run(session, settings, result.submitted)
        for application in result.submitted:
            announce_submitted(session, application)
        await session.flush()
    return result.report
