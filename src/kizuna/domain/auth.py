"""Who may do what: roles of the CS team and scopes of API keys."""

from __future__ import annotations

from enum import StrEnum

from kizuna.domain.enums import UserRole


class ApiKeyScope(StrEnum):
    READ = "read"  # GET the REST API
    WRITE = "write"  # also create, update and delete
    INGEST = "ingest"  # send product events (the tracking API) only


class Permission(StrEnum):
    READ = "read"
    WRITE = "write"  # change customer data, log activities
    MANAGE = "manage"  # import, job runs, scorecards; see the admin pages (read-only)
    ADMINISTER = "administer"  # change users, API keys (the admin role only)


ROLE_PERMISSIONS: dict[UserRole, frozenset[Permission]] = {
    UserRole.ADMIN: frozenset(Permission),
    UserRole.LEAD: frozenset({Permission.READ, Permission.WRITE, Permission.MANAGE}),
    UserRole.CSM: frozenset({Permission.READ, Permission.WRITE}),
    UserRole.VIEWER: frozenset({Permission.READ}),
}

SCOPE_PERMISSIONS: dict[ApiKeyScope, frozenset[Permission]] = {
    ApiKeyScope.READ: frozenset({Permission.READ}),
    ApiKeyScope.WRITE: frozenset({Permission.READ, Permission.WRITE}),
    ApiKeyScope.INGEST: frozenset(),
}


def role_allows(role: UserRole, permission: Permission) -> bool:
    return permission in ROLE_PERMISSIONS[role]
