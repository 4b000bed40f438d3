"""The one place that decides who sees a member's private fields (pure: no I/O).

Every read path (single reads, lists, search, exports, and later webhooks and CRM sync) asks
``visible_private_fields``; filters and sorts ask ``may_filter_by``.
"""

import uuid
from collections.abc import Mapping
from dataclasses import dataclass, field

from app.models.member import PRIVATE_FIELDS, Visibility


@dataclass(frozen=True, slots=True)
class Viewer:
    """Who is looking. ``None`` stands for the anonymous public."""

    id: uuid.UUID
    is_admin: bool
    sees_members: bool
    # People the viewer sat with at an event; consent "table" opens a field to them.
    table_mates: frozenset[uuid.UUID] = field(default_factory=frozenset)


def may_see(viewer: Viewer | None, owner_id: uuid.UUID, visibility: str) -> bool:
    """``visibility`` is a Visibility value; plain strings from the database compare equal,
    which spares building an enum per field per row on list pages."""
    if visibility == Visibility.public:
        return True
    if viewer is None:
        return False
    if viewer.id == owner_id or viewer.is_admin:
        return True
    if visibility == Visibility.members:
        return viewer.sees_members
    if visibility == Visibility.table:
        return owner_id in viewer.table_mates
    return False


def visible_private_fields(
    viewer: Viewer | None, owner_id: uuid.UUID, visibilities: Mapping[str, str]
) -> list[str]:
    """The private fields of one member that this viewer may see."""
    return [name for name in PRIVATE_FIELDS if may_see(viewer, owner_id, visibilities[name])]


def may_filter_by(viewer: Viewer | None, field_name: str) -> bool:
    """Filtering or sorting by a private field would leak it through the result set, so only
    those who see it on every member (admins) may do it."""
    if field_name not in PRIVATE_FIELDS:
        return True
    return viewer is not None and viewer.is_admin
