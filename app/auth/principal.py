"""Who is calling: the authenticated person, their roles and what their credential allows."""

import uuid
from dataclasses import dataclass
from enum import StrEnum

from app.models.member import Role


class Scope(StrEnum):
    read = "read"
    write = "write"
    admin = "admin"


class Credential(StrEnum):
    access_token = "access_token"
    api_token = "api_token"


@dataclass(frozen=True, slots=True)
class Principal:
    id: uuid.UUID
    roles: frozenset[str]
    scopes: frozenset[str]
    credential: Credential

    def has_role(self, *roles: Role) -> bool:
        return any(role in self.roles for role in roles)

    @property
    def is_admin(self) -> bool:
        return Role.admin in self.roles and Scope.admin in self.scopes

    @property
    def sees_members(self) -> bool:
        """Members, and the staff roles that work with them, see the member directory."""
        return self.is_admin or self.has_role(Role.member, Role.reviewer, Role.facilitator)
