"""Which roles may see which part of the web site, and where each role starts.

Each role has a home page (:func:`home_page`: where signing in leads when no page was
asked for) and :data:`AREAS` names which roles may see which part of the site
(:func:`may_see`; the pages' own checks use the same role lists,
:data:`hub.accounts.TEAM_ROLES`, :data:`hub.accounts.OPERATOR_ROLES` and
:data:`hub.accounts.ADMIN_ROLES`: the account pages under ``/beheer``).
"""

from __future__ import annotations

from hub.accounts import ADMIN_ROLES, OPERATOR_ROLES, TEAM_ROLES, User

__all__ = ["AREAS", "home_page", "may_see"]

#: the parts of the web site by path prefix, and the roles that may see each
AREAS: dict[str, tuple[str, ...]] = {
    "/inbox": TEAM_ROLES,
    "/api/alerts": TEAM_ROLES,
    "/operator": OPERATOR_ROLES,
    "/beheer": ADMIN_ROLES,
}


def home_page(user: User) -> str:
    """Where ``user`` starts: the inbox for a member (and an admin of a team), the
    operator dashboard for an operator (and an admin of no team)."""
    if user.role == "member" or (user.role == "admin" and user.teams):
        return "/inbox"
    return "/operator"


def may_see(user: User, target: str) -> bool:
    """Whether ``user``'s role may open ``target`` (a path on this site, with or without
    a query); a path outside every area of :data:`AREAS` is open to every role."""
    path = target.split("?", 1)[0].split("#", 1)[0]
    for prefix, roles in AREAS.items():
        if path == prefix or path.startswith(prefix + "/"):
            return user.role in roles
    return True
