"""The only code that knows Bitrix24 field names: a member as a CRM contact (pure, no I/O).

What leaves for the CRM, and why
--------------------------------
The CRM is a third-party cloud service used by the organising committee and its helpers, not
only by admins, so it gets what a fellow member may see and no more: the privacy module decides
with the viewer ``CRM_VIEWER`` (a signed-in member who is neither the owner, an admin nor a
table-mate). Hence a private field (company, job title, phone, e-mail) is sent only when its
owner opened it to ``members`` or ``public``; ``table`` and ``nobody`` never leave.

The e-mail is no exception even though it is the matching key: searching the CRM by e-mail
(crm.duplicate.findbycomm) discloses it as surely as storing it, so without consent we neither
send nor search by it and match by our own id (ORIGINATOR_ID/ORIGIN_ID) instead. A member who
withdraws consent later gets the value we sent removed from the CRM (``update_fields``).

The public name (full_name) and our id always go: they are what makes a contact a contact.
"""

import hashlib
import uuid
from collections.abc import Mapping
from typing import Any

from app.members.privacy import Viewer, visible_private_fields

ORIGINATOR = "digital-leaders"
CRM_VIEWER = Viewer(id=uuid.UUID(int=0), is_admin=False, sees_members=True)

# Our private field -> the contact field it becomes.
PRIVATE_TO_CRM = {
    "company": "COMPANY_TITLE",
    "job_title": "POST",
    "phone": "PHONE",
    "email": "EMAIL",
}
SCALAR_FIELDS = ("NAME", "LAST_NAME", "POST", "COMPANY_TITLE", "ORIGINATOR_ID", "ORIGIN_ID")
MULTI_FIELDS = ("EMAIL", "PHONE")
CONTACT_SELECT = ["ID", *SCALAR_FIELDS, *MULTI_FIELDS]


def normalize_email(value: str) -> str:
    return value.strip().lower()


def normalize_phone(value: str) -> str:
    """Digits with a leading + kept: "+7 (495) 123-45-67" and "+74951234567" are one number."""
    value = value.strip()
    digits = "".join(ch for ch in value if ch.isdigit())
    return ("+" if value.startswith("+") else "") + digits


def _normalize(name: str, value: str) -> str:
    if name == "EMAIL":
        return normalize_email(value)
    if name == "PHONE":
        return normalize_phone(value)
    return value.strip()


def split_name(full_name: str) -> tuple[str, str]:
    """ "Ivan Petrov" -> ("Ivan", "Petrov"); one word is a first name. Our name is one field,
    so a patronymic stays with the first name ("Ivan Sergeevich Petrov")."""
    words = full_name.split()
    if len(words) < 2:
        return (words[0] if words else "", "")
    return (" ".join(words[:-1]), words[-1])


def allowed_private_fields(member: Any) -> list[str]:
    visibilities = {name: getattr(member, f"{name}_visibility") for name in PRIVATE_TO_CRM}
    return visible_private_fields(CRM_VIEWER, member.id, visibilities)


def contact_fields(member: Any) -> dict[str, str]:
    """What the CRM may hold about ``member``, as canonical strings; an absent key means the
    CRM must not hold it (no consent, or no value)."""
    first, last = split_name(member.full_name or "")
    fields = {
        "NAME": first,
        "LAST_NAME": last,
        "ORIGINATOR_ID": ORIGINATOR,
        "ORIGIN_ID": str(member.id),
    }
    for name in allowed_private_fields(member):
        value = getattr(member, name)
        if value:
            crm_name = PRIVATE_TO_CRM[name]
            fields[crm_name] = _normalize(crm_name, str(value))
    return {key: value for key, value in fields.items() if value}


def field_hashes(fields: Mapping[str, str]) -> dict[str, str]:
    """Per-field fingerprints, stored instead of the values (no second copy of private data)."""
    return {name: _hash(name, value) for name, value in fields.items()}


def digest(hashes: Mapping[str, str]) -> str:
    return hashlib.sha256(
        "\n".join(f"{k}={hashes[k]}" for k in sorted(hashes)).encode()
    ).hexdigest()


def _hash(name: str, value: str) -> str:
    return hashlib.sha256(f"{name}\x1f{_normalize(name, value)}".encode()).hexdigest()[:32]


def add_params(fields: Mapping[str, str]) -> dict[str, Any]:
    """crm.contact.add parameters."""
    return {"fields": _wire(fields), "params": {"REGISTER_SONET_EVENT": "N"}}


def _wire(fields: Mapping[str, str]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for name, value in fields.items():
        out[name] = [{"VALUE": value, "VALUE_TYPE": "WORK"}] if name in MULTI_FIELDS else value
    return out


def needs_current(hashes: Mapping[str, str], previous: Mapping[str, str]) -> bool:
    """Changing or removing a phone or e-mail addresses the CRM's entry by its ID, which only
    the current contact tells."""
    return any(hashes.get(name) != previous.get(name) for name in MULTI_FIELDS)


def update_fields(
    desired: Mapping[str, str],
    previous: Mapping[str, str],
    current: Mapping[str, Any] | None,
) -> dict[str, Any]:
    """The FIELDS of crm.contact.update: what changed on our side since we last sent it
    (``previous`` hashes), or, for a field never sent, what the CRM (``current``, when known)
    lacks. A field we sent earlier and may no longer send (consent withdrawn, value cleared)
    is emptied. Edits made in the CRM to values we have not changed are left alone (the
    reconciliation report shows them)."""
    out: dict[str, Any] = {}
    for name in SCALAR_FIELDS:
        value = desired.get(name)
        if value is not None:
            if previous.get(name) == _hash(name, value):
                continue
            if current is not None and str(current.get(name) or "").strip() == value:
                continue
            out[name] = value
        elif name in previous and (current is None or current.get(name)):
            out[name] = ""
    for name in MULTI_FIELDS:
        entries = _entries(current, name)
        ours = _our_entry(entries, name, previous)
        value = desired.get(name)
        if value is not None:
            if previous.get(name) == _hash(name, value):
                continue
            if any(_normalize(name, str(e.get("VALUE") or "")) == value for e in entries):
                continue
            item: dict[str, Any] = {"VALUE": value, "VALUE_TYPE": "WORK"}
            if ours is not None:
                item = {"ID": ours["ID"], **item}
            out[name] = [item]
        elif ours is not None:
            out[name] = [{"ID": ours["ID"], "VALUE": ""}]
    return out


def _our_entry(
    entries: list[Mapping[str, Any]], name: str, previous: Mapping[str, str]
) -> Mapping[str, Any] | None:
    """The phone or e-mail entry holding the value we last sent (found by its hash)."""
    return next(
        (e for e in entries if previous.get(name) == _hash(name, str(e.get("VALUE") or ""))), None
    )


def differing_fields(
    desired: Mapping[str, str], previous: Mapping[str, str], current: Mapping[str, Any]
) -> list[str]:
    """Contact fields where the CRM disagrees with us (names only: the report holds no
    values). A field we sent but may no longer send and that the CRM still holds counts."""
    out = []
    for name in SCALAR_FIELDS:
        value = desired.get(name)
        held = str(current.get(name) or "").strip()
        if (value is not None and held != value) or (value is None and name in previous and held):
            out.append(name)
    for name in MULTI_FIELDS:
        entries = _entries(current, name)
        value = desired.get(name)
        if value is not None:
            if not any(_normalize(name, str(e.get("VALUE") or "")) == value for e in entries):
                out.append(name)
        elif _our_entry(entries, name, previous) is not None:
            out.append(name)
    return sorted(out)


def update_params(crm_id: int, fields: Mapping[str, Any]) -> dict[str, Any]:
    return {"id": crm_id, "fields": dict(fields), "params": {"REGISTER_SONET_EVENT": "N"}}


def _entries(contact: Mapping[str, Any] | None, name: str) -> list[Mapping[str, Any]]:
    value = (contact or {}).get(name) or []
    return [e for e in value if isinstance(e, Mapping)]


def email_of(contact: Mapping[str, Any]) -> list[str]:
    return [normalize_email(str(e.get("VALUE") or "")) for e in _entries(contact, "EMAIL")]


def origin_of(contact: Mapping[str, Any]) -> uuid.UUID | None:
    """Our id on a contact we created (or linked), if it is ours."""
    if contact.get("ORIGINATOR_ID") != ORIGINATOR:
        return None
    try:
        return uuid.UUID(str(contact.get("ORIGIN_ID")))
    except ValueError:
        return None


def crm_id_of(contact: Mapping[str, Any]) -> int:
    return int(contact["ID"])


# -- applications -> leads ----------------------------------------------------------------------

LEAD_FIELDS = (
    "TITLE",
    "STATUS_ID",
    "SOURCE_DESCRIPTION",
    "UTM_SOURCE",
    "UTM_MEDIUM",
    "UTM_CAMPAIGN",
    "CONTACT_ID",
    "COMPANY_TITLE",
    "POST",
    "ORIGINATOR_ID",
    "ORIGIN_ID",
)


def lead_fields(
    application: Any, member: Any, contact_id: int | None, statuses: Mapping[str, str]
) -> dict[str, str]:
    """What the CRM may hold about an application, as a lead. The person is the linked
    contact; company and title follow the member's consent exactly as on the contact, and
    the free-text answers (experience, wants, gives) never leave."""
    summary = ", ".join(str(v) for v in (application.function, application.industry) if v)
    fields = {
        "TITLE": f"Digital Leaders application{': ' + summary if summary else ''}",
        "STATUS_ID": statuses.get(application.status, ""),
        "SOURCE_DESCRIPTION": application.source or "",
        "UTM_SOURCE": application.utm_source or "",
        "UTM_MEDIUM": application.utm_medium or "",
        "UTM_CAMPAIGN": application.utm_campaign or "",
        "CONTACT_ID": str(contact_id) if contact_id else "",
        "ORIGINATOR_ID": ORIGINATOR,
        "ORIGIN_ID": str(application.id),
    }
    allowed = allowed_private_fields(member)
    if "company" in allowed and application.company:
        fields["COMPANY_TITLE"] = application.company.strip()
    if "job_title" in allowed and application.job_title:
        fields["POST"] = application.job_title.strip()
    return {key: value for key, value in fields.items() if value}


def lead_params(fields: Mapping[str, str], crm_id: int | None = None) -> dict[str, Any]:
    """crm.lead.add (or, with ``crm_id``, crm.lead.update) parameters. An update sends every
    field of ours, emptied where we may no longer send it: the lead is our own record."""
    wire: dict[str, Any] = {name: fields.get(name, "") for name in LEAD_FIELDS}
    if crm_id is None:
        wire = {name: value for name, value in wire.items() if value}
        return {"fields": wire, "params": {"REGISTER_SONET_EVENT": "N"}}
    return {"id": crm_id, "fields": wire, "params": {"REGISTER_SONET_EVENT": "N"}}


# -- registrations -> deals ---------------------------------------------------------------------

DEAL_FIELDS = (
    "TITLE",
    "STAGE_ID",
    "SOURCE_DESCRIPTION",
    "UTM_SOURCE",
    "UTM_MEDIUM",
    "UTM_CAMPAIGN",
    "CONTACT_ID",
    "ORIGINATOR_ID",
    "ORIGIN_ID",
)


def deal_fields(
    registration: Any, event_title: str, contact_id: int | None, stages: Mapping[str, str]
) -> dict[str, str]:
    """A registration as a deal: the event, the stage mapped from its status, where the
    person came from; the person is the linked contact."""
    fields = {
        "TITLE": event_title,
        "STAGE_ID": stages.get(registration.status, ""),
        "SOURCE_DESCRIPTION": registration.source or "",
        "UTM_SOURCE": registration.utm_source or "",
        "UTM_MEDIUM": registration.utm_medium or "",
        "UTM_CAMPAIGN": registration.utm_campaign or "",
        "CONTACT_ID": str(contact_id) if contact_id else "",
        "ORIGINATOR_ID": ORIGINATOR,
        "ORIGIN_ID": str(registration.id),
    }
    return {key: value for key, value in fields.items() if value}


def deal_params(fields: Mapping[str, str], crm_id: int | None = None) -> dict[str, Any]:
    """crm.deal.add (or, with ``crm_id``, crm.deal.update) parameters; our own record, so an
    update sends every field."""
    wire: dict[str, Any] = {name: fields.get(name, "") for name in DEAL_FIELDS}
    if crm_id is None:
        wire = {name: value for name, value in wire.items() if value}
        return {"fields": wire, "params": {"REGISTER_SONET_EVENT": "N"}}
    return {"id": crm_id, "fields": wire, "params": {"REGISTER_SONET_EVENT": "N"}}
