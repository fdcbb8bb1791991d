"""The roles every new organisation starts with. Administrators copy and edit them in the UI."""

from django.utils.translation import gettext_noop

from kehu.core.permissions import Scope

ALL = ["view", "create", "edit", "delete", "export", "assign", "administer"]
WORK = ["view", "create", "edit", "delete"]
READ = ["view"]


def _grant(actions: list[str], scope: str) -> dict:
    return {"actions": list(actions), "scope": str(scope)}


# key -> (name (translated when shown), description, {module: grant})
DEFAULT_ROLES: dict[str, tuple[str, str, dict]] = {
    "administrator": (
        gettext_noop("Administrator"),
        gettext_noop("Everything, including users, roles, modules and the audit log."),
        {
            "platform": _grant(["view", "administer"], Scope.ORGANIZATION),
            "customers": _grant(ALL, Scope.ORGANIZATION),
            "sales": _grant(ALL, Scope.ORGANIZATION),
            "marketing": _grant(ALL, Scope.ORGANIZATION),
            "service": _grant(ALL, Scope.ORGANIZATION),
            "analytics": _grant(ALL, Scope.ORGANIZATION),
        },
    ),
    "sales_manager": (
        gettext_noop("Sales manager"),
        gettext_noop("Runs a sales team: sees and assigns the records of the team and its sub-teams."),
        {
            "platform": _grant(READ, Scope.ORGANIZATION),
            "customers": _grant([*WORK, "export", "assign"], Scope.TEAM_TREE),
            "sales": _grant([*WORK, "export", "assign"], Scope.TEAM_TREE),
            "analytics": _grant(["view", "export"], Scope.TEAM_TREE),
        },
    ),
    "sales_rep": (
        gettext_noop("Sales rep"),
        gettext_noop("Works their own customers, leads and opportunities."),
        {
            "platform": _grant(READ, Scope.ORGANIZATION),
            "customers": _grant(["view", "create", "edit"], Scope.OWN),
            "sales": _grant(["view", "create", "edit"], Scope.OWN),
        },
    ),
    "marketer": (
        gettext_noop("Marketer"),
        gettext_noop("Builds segments and campaigns; reads customers of the whole organisation."),
        {
            "platform": _grant(READ, Scope.ORGANIZATION),
            "customers": _grant(READ, Scope.ORGANIZATION),
            "marketing": _grant([*WORK, "export"], Scope.ORGANIZATION),
            "analytics": _grant(READ, Scope.ORGANIZATION),
        },
    ),
    "service_agent": (
        gettext_noop("Service agent"),
        gettext_noop("Answers their own tickets; reads customers of the whole organisation."),
        {
            "platform": _grant(READ, Scope.ORGANIZATION),
            "customers": _grant(READ, Scope.ORGANIZATION),
            "service": _grant(["view", "create", "edit"], Scope.OWN),
        },
    ),
    "service_manager": (
        gettext_noop("Service manager"),
        gettext_noop("Runs the service team: assigns and escalates the tickets of the team."),
        {
            "platform": _grant(READ, Scope.ORGANIZATION),
            "customers": _grant(READ, Scope.ORGANIZATION),
            "service": _grant([*WORK, "export", "assign", "administer"], Scope.TEAM_TREE),
            "analytics": _grant(READ, Scope.TEAM_TREE),
        },
    ),
    "analyst": (
        gettext_noop("Analyst"),
        gettext_noop("Reads and exports everything for reports; changes nothing."),
        {
            "platform": _grant(READ, Scope.ORGANIZATION),
            "customers": _grant(["view", "export"], Scope.ORGANIZATION),
            "sales": _grant(["view", "export"], Scope.ORGANIZATION),
            "marketing": _grant(["view", "export"], Scope.ORGANIZATION),
            "service": _grant(["view", "export"], Scope.ORGANIZATION),
            "analytics": _grant(ALL[:-1], Scope.ORGANIZATION),
        },
    ),
    "read_only": (
        gettext_noop("Read-only"),
        gettext_noop("Sees the organisation's records; changes nothing."),
        {
            "platform": _grant(READ, Scope.ORGANIZATION),
            "customers": _grant(READ, Scope.ORGANIZATION),
            "sales": _grant(READ, Scope.ORGANIZATION),
            "marketing": _grant(READ, Scope.ORGANIZATION),
            "service": _grant(READ, Scope.ORGANIZATION),
            "analytics": _grant(READ, Scope.ORGANIZATION),
        },
    ),
}
