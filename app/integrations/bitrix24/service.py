"""Bitrix24 sync: members (and applicants) as CRM contacts, a full sync, reconciliation.

For the outbox worker
---------------------
    outcome = await sync_member(session, client, member_id)

* Call it for any event about a member (created, profile or consent changed, erased): it reads
  the member as it is now, so order and duplicates do not matter, and a second call with
  nothing changed makes no HTTP request at all (it returns "unchanged").
* ``Bitrix24RetryLater`` (from ``client``): the CRM is over its limits or down; retry the event
  ``exc.retry_after`` seconds later. Nothing is half-recorded: a link is written only after the
  CRM accepted, and a contact created without its link is found again by e-mail or our id.
* Any other ``Bitrix24Error`` is permanent (bad credentials, a value the CRM refuses): fail the
  delivery and show it to admins.
* It uses the caller's session and never commits.

Matching: a member without a link is looked up first by e-mail (crm.duplicate.findbycomm, the
lowest contact id wins) when their consent lets the e-mail go to the CRM, otherwise by our id
(ORIGINATOR_ID/ORIGIN_ID); only then is a contact created. See ``mapping`` for what is sent.

Adding leads and deals
----------------------
Links are generic (subject type, CRM entity, id, field hashes), ``_store_link`` and the link
queries take a ``Target``, and ``_run`` runs any commands as plain calls or batches.
Application -> lead and registration -> deal sync add a ``Target("application", "lead",
"crm.lead")`` with their own mapping functions and a ``sync_application`` beside
``sync_member``; the full sync and reconciliation gain one loop each.
"""

import logging
import uuid
from collections.abc import Awaitable, Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from app.applications import service as application_service
from app.core.pagination import Page, decode_time_cursor, encode_time_cursor
from app.integrations.bitrix24 import mapping, repository
from app.integrations.bitrix24.client import (
    BATCH_LIMIT,
    BatchResult,
    Bitrix24Client,
    Bitrix24Error,
    Bitrix24NotFound,
    Bitrix24RetryLater,
    retry_after,
)
from app.integrations.bitrix24.schemas import (
    REPORT_LIST_LIMIT,
    CrmFailure,
    FieldDifference,
    FullSyncReport,
    LinkBroken,
    MemberFailure,
    ReconcileReport,
)
from app.models.base import utcnow
from app.models.crm import CrmLink
from app.models.member import Member

logger = logging.getLogger("app.integrations.bitrix24")

FINDBYCOMM_LIMIT = 20  # values per crm.duplicate.findbycomm
CRM_PAGE = 50  # crm.*.list pages are fixed at 50
# Members per round: a round's link writes are flushed (and, in the worker, committed) at its
# end, so they hold SQLite's single write lock only for a moment.
MEMBER_CHUNK = 500

Checkpoint = Callable[[], Awaitable[None]]


@dataclass(frozen=True)
class Target:
    subject_type: str
    crm_entity: str
    prefix: str


CONTACT = Target("member", "contact", "crm.contact")
LEAD = Target("application", "lead", "crm.lead")
DEAL = Target("registration", "deal", "crm.deal")


class Outcome(StrEnum):
    created = "created"
    linked = "linked"
    updated = "updated"
    unchanged = "unchanged"
    deleted = "deleted"
    skipped = "skipped"


# -- request plumbing ----------------------------------------------------------------------------

Command = tuple[str, Mapping[str, Any]]


async def _run(client: Bitrix24Client, commands: Mapping[str, Command]) -> BatchResult:
    """One command as a plain call, several as batches of 50: the same answer shape either way,
    with failures per command in ``errors``. Retry-later propagates."""
    if len(commands) == 1:
        ((key, (method, params)),) = commands.items()
        out = BatchResult()
        try:
            out.results[key] = await client.call(method, params)
        except Bitrix24Error as error:
            out.errors[key] = error
        return out
    merged = BatchResult()
    items = list(commands.items())
    for start in range(0, len(items), BATCH_LIMIT):
        part = await client.batch(dict(items[start : start + BATCH_LIMIT]))
        merged.results.update(part.results)
        merged.errors.update(part.errors)
        merged.totals.update(part.totals)
        merged.nexts.update(part.nexts)
    return merged


def _store_link(
    session: AsyncSession,
    target: Target,
    subject_id: uuid.UUID,
    crm_id: int,
    hashes: dict[str, str],
    link: CrmLink | None,
) -> CrmLink:
    if link is None:
        link = CrmLink(
            subject_type=target.subject_type,
            subject_id=subject_id,
            crm_entity=target.crm_entity,
            crm_id=crm_id,
            fields_hash="",
        )
        session.add(link)
    link.crm_id = crm_id
    link.field_hashes = hashes
    link.fields_hash = mapping.digest(hashes)
    link.synced_at = utcnow()
    return link


# -- members -> contacts ---------------------------------------------------------------------------


@dataclass
class _Pending:
    member: Member
    fields: dict[str, str]
    hashes: dict[str, str]
    link: CrmLink | None = None
    crm_id: int | None = None
    current: Mapping[str, Any] | None = None


MAX_REPORTED_FAILURES = 100


@dataclass
class _Batch:
    """The members of one round and what happened to them."""

    report: FullSyncReport = field(default_factory=FullSyncReport)
    outcomes: dict[uuid.UUID, Outcome] = field(default_factory=dict)
    failures: dict[uuid.UUID, Bitrix24Error] = field(default_factory=dict)
    # A command of a batch refused for a passing reason (a method's time budget spent): the
    # round keeps what succeeded, then the whole run is asked to come back later.
    deferred: list[Bitrix24Error] = field(default_factory=list)

    def fail(self, member_id: uuid.UUID, error: Bitrix24Error) -> None:
        if error.retryable:
            self.deferred.append(error)
            return
        self.failures[member_id] = error
        self.report.failed += 1
        # A sub-call refused without a code is counted under the portal's own words.
        kind = error.code or f"no code: {error.description or 'no description'}"[:120]
        self.report.error_codes[kind] = self.report.error_codes.get(kind, 0) + 1
        if len(self.report.failures) < MAX_REPORTED_FAILURES:
            self.report.failures.append(MemberFailure(member_id=member_id, error=error.summary))
        # Once per member and run, with the id only (never a name or an address).
        logger.warning("bitrix24 sync of member %s failed: %s", member_id, error.summary)

    def done(self, member_id: uuid.UUID, outcome: Outcome) -> None:
        self.outcomes[member_id] = outcome
        counter = {
            Outcome.created: "created",
            Outcome.linked: "linked",
            Outcome.updated: "updated",
            Outcome.unchanged: "unchanged",
            Outcome.deleted: "deleted",
        }.get(outcome)
        if counter:
            setattr(self.report, counter, getattr(self.report, counter) + 1)


async def sync_member(
    session: AsyncSession, client: Bitrix24Client, member_id: uuid.UUID
) -> Outcome:
    """Bring one member's contact in line with the member (see the module docstring)."""
    member = await repository.get_member(session, member_id)
    if member is None:
        return Outcome.skipped
    state = _Batch()
    await _sync_members(session, client, [member], state, ours=None)
    if member_id in state.failures:
        raise state.failures[member_id]
    return state.outcomes.get(member_id, Outcome.skipped)


async def full_sync(
    session: AsyncSession,
    client: Bitrix24Client,
    *,
    chunk_size: int = MEMBER_CHUNK,
    checkpoint: Checkpoint | None = None,
) -> FullSyncReport:
    """Every member, in rounds of ``chunk_size``, with batched requests. ``checkpoint`` runs
    after each round (the worker commits there, keeping transactions short). Resumable: linked
    and unchanged members cost nothing, contacts created by an interrupted run are found by our
    id and linked instead of created twice."""
    state = _Batch()
    requests, retries = client.stats.requests, client.stats.retries
    try:
        # Listing our contacts finds those an interrupted run created but did not link; with
        # every member linked already there is nothing to find.
        ours = (
            await _our_contacts(client)
            if await repository.any_unlinked_member(
                session, CONTACT.subject_type, CONTACT.crm_entity
            )
            else {}
        )
        after: uuid.UUID | None = None
        while True:
            members = await repository.members_after(session, after, chunk_size)
            if not members:
                break
            after = members[-1].id
            state.report.members_seen += len(members)
            await _sync_members(session, client, members, state, ours=ours)
            if checkpoint is not None:
                await checkpoint()
    finally:
        state.report.requests = client.stats.requests - requests
        state.report.retries = client.stats.retries - retries
    return state.report


async def _our_contacts(client: Bitrix24Client) -> dict[uuid.UUID, Mapping[str, Any]]:
    """Every contact carrying our ORIGINATOR_ID, by our member id (the lowest CRM id wins)."""
    contacts = await _list_all(client, {"ORIGINATOR_ID": mapping.ORIGINATOR})
    out: dict[uuid.UUID, Mapping[str, Any]] = {}
    for contact in sorted(contacts, key=mapping.crm_id_of):
        origin = mapping.origin_of(contact)
        if origin is not None and origin not in out:
            out[origin] = contact
    return out


async def _list_all(client: Bitrix24Client, filters: Mapping[str, Any]) -> list[Mapping[str, Any]]:
    """crm.contact.list over every page: the first page tells the total, the rest are
    fetched 50 pages per batch request."""
    params = {"filter": dict(filters), "select": mapping.CONTACT_SELECT, "order": {"ID": "ASC"}}
    first = await client.call_raw(f"{CONTACT.prefix}.list", {**params, "start": 0})
    contacts = list(first.get("result") or [])
    total = int(first.get("total") or 0)
    commands = {
        f"p{start}": (f"{CONTACT.prefix}.list", {**params, "start": start})
        for start in range(CRM_PAGE, total, CRM_PAGE)
    }
    if commands:
        pages = await _run(client, commands)
        if pages.errors:
            raise next(iter(pages.errors.values()))
        for key in sorted(pages.results, key=lambda k: int(k[1:])):
            contacts.extend(pages.results[key] or [])
    return contacts


async def _sync_members(
    session: AsyncSession,
    client: Bitrix24Client,
    members: Sequence[Member],
    state: _Batch,
    *,
    ours: dict[uuid.UUID, Mapping[str, Any]] | None,
) -> None:
    """One round. ``ours`` is the full-sync's listing of our contacts; a single member is looked
    up by e-mail or by our id instead."""
    async with repository.subjects_locked(session, CONTACT.subject_type, [m.id for m in members]):
        links = await repository.links_for(
            session, CONTACT.subject_type, [m.id for m in members], CONTACT.crm_entity
        )
        deletes: list[tuple[Member, CrmLink]] = []
        updates: list[_Pending] = []
        unlinked: list[_Pending] = []
        for member in members:
            link = links.get(member.id)
            if member.erased_at is not None:
                if link is not None:
                    deletes.append((member, link))
                else:
                    state.report.skipped_erased += 1
                    state.outcomes[member.id] = Outcome.skipped
                continue
            fields = mapping.contact_fields(member)
            hashes = mapping.field_hashes(fields)
            if link is not None and link.fields_hash == mapping.digest(hashes):
                state.done(member.id, Outcome.unchanged)
                continue
            crm_id = link.crm_id if link else None
            pending = _Pending(member, fields, hashes, link=link, crm_id=crm_id)
            (updates if link is not None else unlinked).append(pending)

        await _delete_erased(session, client, deletes, state)
        creates, found = await _find_existing(client, unlinked, ours)
        # A contact deleted in the CRM is created again; its link row is reused for the new id.
        broken = await _fetch_current(client, updates, state)
        gone = await _update(session, client, updates + found, state)
        await _create(session, client, creates + broken + gone, state)
        # Every write of the round goes out here, after the CRM calls, and is visible to the next
        # holder of the subjects' lock.
        await session.flush()
        if state.deferred:
            error = state.deferred[0]
            raise Bitrix24RetryLater(retry_after(error, client.clock()), error)


async def _delete_erased(
    session: AsyncSession,
    client: Bitrix24Client,
    deletes: list[tuple[Member, CrmLink]],
    state: _Batch,
) -> None:
    """An erased member's contact leaves the CRM too (already gone counts as done)."""
    if not deletes:
        return
    commands = {
        f"d{i}": (f"{CONTACT.prefix}.delete", {"id": link.crm_id})
        for i, (_, link) in enumerate(deletes)
    }
    result = await _run(client, commands)
    for i, (member, link) in enumerate(deletes):
        error = result.errors.get(f"d{i}")
        if error is not None and not isinstance(error, Bitrix24NotFound):
            state.fail(member.id, error)
            continue
        await repository.delete_link(session, link)
        state.done(member.id, Outcome.deleted)


async def _find_existing(
    client: Bitrix24Client,
    unlinked: list[_Pending],
    ours: dict[uuid.UUID, Mapping[str, Any]] | None,
) -> tuple[list[_Pending], list[_Pending]]:
    """Split unlinked members into (to create, found in the CRM with their current contact)."""
    found: list[_Pending] = []
    by_email: list[_Pending] = []
    by_origin: list[_Pending] = []
    rest: list[_Pending] = []
    for pending in unlinked:
        contact = ours.get(pending.member.id) if ours is not None else None
        if contact is not None:
            pending.crm_id, pending.current = mapping.crm_id_of(contact), contact
            found.append(pending)
        elif "EMAIL" in pending.fields and pending.member.email_verified_at is not None:
            # Only an address its owner proved is matched to a contact the CRM already has:
            # someone who merely signed up with it is treated as unmatched.
            by_email.append(pending)
        elif ours is None:
            by_origin.append(pending)
        else:
            rest.append(pending)

    if by_origin:  # single-member path: the full sync knows all of ours already
        commands = {
            f"o{i}": (
                f"{CONTACT.prefix}.list",
                {
                    "filter": {"ORIGINATOR_ID": mapping.ORIGINATOR, "ORIGIN_ID": str(p.member.id)},
                    "select": mapping.CONTACT_SELECT,
                    "order": {"ID": "ASC"},
                },
            )
            for i, p in enumerate(by_origin)
        }
        result = await _run(client, commands)
        _raise_first(result)
        for i, pending in enumerate(by_origin):
            contacts = result.results.get(f"o{i}") or []
            if contacts:
                pending.crm_id, pending.current = mapping.crm_id_of(contacts[0]), contacts[0]
                found.append(pending)
            else:
                rest.append(pending)

    if by_email:
        emails = sorted({p.fields["EMAIL"] for p in by_email})
        groups = [emails[i : i + FINDBYCOMM_LIMIT] for i in range(0, len(emails), FINDBYCOMM_LIMIT)]
        commands = {
            f"f{i}": (
                "crm.duplicate.findbycomm",
                {"entity_type": "CONTACT", "type": "EMAIL", "values": group},
            )
            for i, group in enumerate(groups)
        }
        result = await _run(client, commands)
        _raise_first(result)
        ids: set[int] = set()
        for value in result.results.values():
            # {"CONTACT": [ids]} when found; [] (an empty PHP array) when nothing is.
            if isinstance(value, Mapping):
                ids.update(int(i) for i in value.get("CONTACT") or [])
        # One findbycomm answers for up to 20 e-mails at once: read the contacts to tell
        # which e-mail belongs to which (the lowest id wins, as Bitrix24's own merge does).
        contacts = await _get_contacts(client, sorted(ids))
        owner: dict[str, Mapping[str, Any]] = {}
        for crm_id in sorted(contacts):
            for email in mapping.email_of(contacts[crm_id]):
                owner.setdefault(email, contacts[crm_id])
        for pending in by_email:
            contact = owner.get(pending.fields["EMAIL"])
            if contact is None:
                rest.append(pending)
            else:
                pending.crm_id, pending.current = mapping.crm_id_of(contact), contact
                found.append(pending)
    return rest, found


async def _get_contacts(client: Bitrix24Client, ids: Iterable[int]) -> dict[int, Mapping[str, Any]]:
    """Contacts by id; the ones that no longer exist are simply absent."""
    ids = list(ids)
    if not ids:
        return {}
    result = await _run(
        client, {f"g{crm_id}": (f"{CONTACT.prefix}.get", {"id": crm_id}) for crm_id in ids}
    )
    for error in result.errors.values():
        if not isinstance(error, Bitrix24NotFound):
            raise error
    return {
        int(key[1:]): value for key, value in result.results.items() if isinstance(value, Mapping)
    }


async def _fetch_current(
    client: Bitrix24Client, updates: list[_Pending], state: _Batch
) -> list[_Pending]:
    """Read the contacts whose phone or e-mail changes (the entry's id is needed); return the
    updates whose contact was deleted in the CRM (their link is broken)."""
    needing = [
        p
        for p in updates
        if p.link is not None and mapping.needs_current(p.hashes, p.link.field_hashes)
    ]
    contacts = await _get_contacts(client, [p.crm_id for p in needing if p.crm_id is not None])
    broken = []
    for pending in needing:
        pending.current = contacts.get(pending.crm_id or 0)
        if pending.current is None:
            broken.append(pending)
    gone = {id(p) for p in broken}
    updates[:] = [p for p in updates if id(p) not in gone]
    return broken


async def _update(
    session: AsyncSession, client: Bitrix24Client, pendings: list[_Pending], state: _Batch
) -> list[_Pending]:
    """Send only the changed fields; return the members whose contact turned out deleted."""
    commands: dict[str, Command] = {}
    for i, pending in enumerate(pendings):
        previous = pending.link.field_hashes if pending.link is not None else {}
        changed = mapping.update_fields(pending.fields, previous, pending.current)
        if changed:
            commands[f"u{i}"] = (
                f"{CONTACT.prefix}.update",
                mapping.update_params(pending.crm_id or 0, changed),
            )
    result = await _run(client, commands) if commands else BatchResult()
    gone: list[_Pending] = []
    for i, pending in enumerate(pendings):
        error = result.errors.get(f"u{i}")
        if isinstance(error, Bitrix24NotFound):
            gone.append(pending)
            continue
        if error is not None:
            state.fail(pending.member.id, error)
            continue
        linked_now = pending.link is None
        _store_link(
            session, CONTACT, pending.member.id, pending.crm_id or 0, pending.hashes, pending.link
        )
        state.done(pending.member.id, Outcome.linked if linked_now else Outcome.updated)
    return gone


async def _create(
    session: AsyncSession, client: Bitrix24Client, pendings: list[_Pending], state: _Batch
) -> None:
    """Create contacts; a pending whose link is broken (contact deleted in the CRM) is
    created afresh with only what it may hold, its link pointed at the new contact."""
    if not pendings:
        return
    for start in range(0, len(pendings), BATCH_LIMIT):
        part = pendings[start : start + BATCH_LIMIT]
        result = await _run(
            client,
            {
                f"a{i}": (f"{CONTACT.prefix}.add", mapping.add_params(p.fields))
                for i, p in enumerate(part)
            },
        )
        for i, pending in enumerate(part):
            error = result.errors.get(f"a{i}")
            if error is not None:
                state.fail(pending.member.id, error)
                continue
            _store_link(
                session,
                CONTACT,
                pending.member.id,
                int(result.results[f"a{i}"]),
                pending.hashes,
                pending.link,
            )
            state.done(pending.member.id, Outcome.created)


def _raise_first(result: BatchResult) -> None:
    if result.errors:
        raise next(iter(result.errors.values()))


# -- applications -> leads ---------------------------------------------------------------------

# -- records we own: applications -> leads, registrations -> deals ------------------------------

ParamsOf = Callable[[Mapping[str, str], int | None], dict[str, Any]]


async def _sync_owned(
    session: AsyncSession,
    client: Bitrix24Client,
    target: Target,
    subject_id: uuid.UUID,
    fields: dict[str, str] | None,
    params_of: ParamsOf,
) -> Outcome:
    """A CRM record that is ours alone (a lead, a deal): created once, updated when what we
    may send changed, created again if someone deleted it, deleted when ``fields`` is None
    (the person erased their data)."""
    async with repository.subjects_locked(session, target.subject_type, [subject_id]):
        link = await repository.get_link(
            session, target.subject_type, subject_id, target.crm_entity
        )
        if fields is None:
            if link is None:
                return Outcome.skipped
            try:
                await client.call(f"{target.prefix}.delete", {"id": link.crm_id})
            except Bitrix24NotFound:
                pass
            await repository.delete_link(session, link)
            await session.flush()
            return Outcome.deleted
        hashes = mapping.field_hashes(fields)
        if link is not None and link.fields_hash == mapping.digest(hashes):
            return Outcome.unchanged
        outcome = Outcome.created
        crm_id: int | None = None
        if link is not None:
            try:
                await client.call(f"{target.prefix}.update", params_of(fields, link.crm_id))
                crm_id, outcome = link.crm_id, Outcome.updated
            except Bitrix24NotFound:
                crm_id = None  # deleted in the CRM: created again below, the link reused
        if crm_id is None:
            crm_id = int(await client.call(f"{target.prefix}.add", params_of(fields, None)))
        _store_link(session, target, subject_id, crm_id, hashes, link)
        await session.flush()
        return outcome


async def _contact_id(
    session: AsyncSession, client: Bitrix24Client, member_id: uuid.UUID
) -> int | None:
    """The person's contact, brought up to date first: the record points at it."""
    await sync_member(session, client, member_id)
    contact = await repository.get_link(
        session, CONTACT.subject_type, member_id, CONTACT.crm_entity
    )
    return contact.crm_id if contact else None


async def sync_application(
    session: AsyncSession,
    client: Bitrix24Client,
    application_id: uuid.UUID,
    statuses: Mapping[str, str],
) -> Outcome:
    """An application's lead follows its status. A draft has no lead; an erased applicant's
    lead is deleted with their contact."""
    application = await application_service.find(session, application_id)
    if application is None or application.status == "draft":
        return Outcome.skipped
    member = await repository.get_member(session, application.member_id)
    if member is None:
        return Outcome.skipped
    contact_id = await _contact_id(session, client, member.id)
    fields = (
        None
        if member.erased_at is not None
        else mapping.lead_fields(application, member, contact_id, statuses)
    )
    return await _sync_owned(session, client, LEAD, application.id, fields, mapping.lead_params)


async def sync_registration(
    session: AsyncSession,
    client: Bitrix24Client,
    registration_id: uuid.UUID,
    stages: Mapping[str, str],
) -> Outcome:
    """A member's registration is a deal whose stage follows the registration's status.
    Timepad guests (no member, no consent to hold their data) stay out of the CRM."""
    found = await repository.registration_with_event(session, registration_id)
    if found is None or found[0].member_id is None:
        return Outcome.skipped
    registration, title = found
    assert registration.member_id is not None
    member = await repository.get_member(session, registration.member_id)
    if member is None:
        return Outcome.skipped
    contact_id = await _contact_id(session, client, member.id)
    fields = (
        None
        if member.erased_at is not None
        else mapping.deal_fields(registration, title, contact_id, stages)
    )
    return await _sync_owned(session, client, DEAL, registration.id, fields, mapping.deal_params)


async def erase_records_of(
    session: AsyncSession,
    client: Bitrix24Client,
    member_id: uuid.UUID,
    statuses: Mapping[str, str],
    stages: Mapping[str, str],
) -> None:
    """After an erasure, the person's leads and deals leave the CRM with their contact."""
    for application_id in await application_service.ids_of_member(session, member_id):
        await sync_application(session, client, application_id, statuses)
    for registration_id in await repository.registration_ids_of(session, member_id):
        await sync_registration(session, client, registration_id, stages)


# -- reconciliation ----------------------------------------------------------------------------


async def reconcile(session: AsyncSession, client: Bitrix24Client) -> ReconcileReport:
    """What differs between our members and the CRM's contacts. Reads only."""
    report = ReconcileReport()
    requests = client.stats.requests
    listed = await _list_all(client, {"ORIGINATOR_ID": mapping.ORIGINATOR})
    by_id: dict[int, Mapping[str, Any]] = {mapping.crm_id_of(c): c for c in listed}
    report.contacts_in_crm = len(by_id)
    linked_ids: set[int] = set()
    pairs: list[tuple[Member, CrmLink | None]] = []
    after: uuid.UUID | None = None
    while True:
        members = await repository.members_after(session, after, MEMBER_CHUNK)
        if not members:
            break
        after = members[-1].id
        links = await repository.links_for(
            session, CONTACT.subject_type, [m.id for m in members], CONTACT.crm_entity
        )
        pairs += [(m, links.get(m.id)) for m in members]
    # A linked contact whose ORIGINATOR_ID someone changed is not in the listing: read it.
    unlisted = [link.crm_id for _, link in pairs if link is not None and link.crm_id not in by_id]
    by_id.update(await _get_contacts(client, unlisted))

    for member, link in pairs:
        if member.erased_at is not None:
            if link is not None:
                linked_ids.add(link.crm_id)
                _append(report.erased_still_linked, member.id)
            continue
        report.members += 1
        if link is None:
            report.missing_in_crm_count += 1
            _append(report.missing_in_crm, member.id)
            continue
        linked_ids.add(link.crm_id)
        contact = by_id.get(link.crm_id)
        if contact is None:
            report.link_broken_count += 1
            _append(report.link_broken, LinkBroken(member_id=member.id, crm_id=link.crm_id))
            continue
        differing = mapping.differing_fields(
            mapping.contact_fields(member), link.field_hashes, contact
        )
        if differing:
            report.field_differences_count += 1
            _append(
                report.field_differences,
                FieldDifference(member_id=member.id, crm_id=link.crm_id, fields=differing),
            )
        else:
            report.in_sync += 1
    for crm_id in sorted(set(mapping.crm_id_of(c) for c in listed) - linked_ids):
        report.missing_here_count += 1
        _append(report.missing_here, crm_id)
    report.requests = client.stats.requests - requests
    return report


def _append(items: list[Any], item: Any) -> None:
    if len(items) < REPORT_LIST_LIMIT:
        items.append(item)


async def live_failures(
    session: AsyncSession, *, cursor: str | None, limit: int
) -> Page[CrmFailure]:
    """The live sync's refused changes, newest first, for admins."""
    sort = "-created_at"
    rows = await repository.failed_deliveries(
        session, after=decode_time_cursor(cursor, sort), limit=limit
    )
    page = rows[:limit]
    next_cursor = (
        encode_time_cursor(sort, page[-1][0].created_at, page[-1][0].id)
        if len(rows) > limit
        else None
    )
    return Page[CrmFailure](
        items=[
            CrmFailure(
                delivery_id=delivery.id,
                event_type=event.type,
                subject_type=event.subject_type,
                subject_id=event.subject_id,
                attempts=delivery.attempts,
                error=delivery.last_error,
                last_attempt_at=delivery.last_attempt_at,
            )
            for delivery, event in page
        ],
        next_cursor=next_cursor,
    )
