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


# The levels open to each kind of reader, as plain strings: the rows hold strings, and a set
# lookup per field is what a directory page of 50 profiles can afford.
_PUBLIC = frozenset({Visibility.public.value})
_MEMBERS = _PUBLIC | {Visibility.members.value}
_EVERY_LEVEL = frozenset(level.value for level in Visibility)


def levels_open_to(viewer: Viewer | None, owner_id: uuid.UUID) -> frozenset[str]:
    """The visibility levels whose fields ``viewer`` sees on ``owner_id``'s profile."""
    if viewer is None:
        return _PUBLIC
    if viewer.id == owner_id or viewer.is_admin:
        return _EVERY_LEVEL
    levels = _MEMBERS if viewer.sees_members else _PUBLIC
    if owner_id in viewer.table_mates:
        levels = levels | {Visibility.table.value}
    return levels


def may_see(viewer: Viewer | None, owner_id: uuid.UUID, visibility: str) -> bool:
    """``visibility`` is a Visibility value or its plain string from the database."""
    return visibility in levels_open_to(viewer, owner_id)


def visible_private_fields(
    viewer: Viewer | None, owner_id: uuid.UUID, visibilities: Mapping[str, str]
) -> list[str]:
    """The private fields of one member that this viewer may see."""
    levels = levels_open_to(viewer, owner_id)
    return [name for name in PRIVATE_FIELDS if visibilities[name] in levels]


def may_filter_by(viewer: Viewer | None, field_name: str) -> bool:
    """Filtering or sorting by a private field would leak it through the result set, so only
    those who see it on every member (admins) may do it."""
    if field_name not in PRIVATE_FIELDS:
        return True
    return viewer is not None and viewer.is_admin
