"""Collaboration permissions: ``<content-type>:<action>:<scope>`` strings from a client JWT.

When a token carries ``collaboration_permissions`` and a ``user_id``, everything is denied
unless granted, and grants add up, per content type: ``annotations``, ``comments`` (whose
``reply`` is judged on the thread's root annotation) and ``form-fields``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

CONTENT_TYPES = {
    "annotations": {"view", "edit", "delete", "set-group"},
    "comments": {"view", "edit", "delete", "set-group", "reply"},
    "form-fields": {"view", "edit", "delete", "set-group", "fill"},
}


class PermissionSyntaxError(ValueError):
    """Raised for a permission string that does not follow the grammar."""


@dataclass(frozen=True)
class Grant:
    content_type: str
    action: str
    scope: str  # "all", "self", "createdBy" or "group"
    value: str | None = None

    def covers(self, record: dict[str, Any], user_id: str) -> bool:
        """Whether this grant's scope includes the record."""
        if self.scope == "all":
            return True
        if self.scope == "self":
            return record.get("createdBy") == user_id
        if self.scope == "createdBy":
            return record.get("createdBy") == self.value
        return record.get("group") == self.value


def parse_grant(text: Any) -> Grant:
    if not isinstance(text, str):
        raise PermissionSyntaxError(f"a permission must be a string, not {text!r}")
    parts = text.split(":", 2)
    if len(parts) != 3:
        raise PermissionSyntaxError(f"{text!r} is not <content-type>:<action>:<scope>")
    content_type, action, scope = parts
    if content_type not in CONTENT_TYPES:
        raise PermissionSyntaxError(f"{text!r}: unknown content type {content_type!r}")
    if action not in CONTENT_TYPES[content_type]:
        raise PermissionSyntaxError(f"{text!r}: {content_type} have no action {action!r}")
    if scope in ("all", "self"):
        return Grant(content_type, action, scope)
    kind, _, value = scope.partition("=")
    if kind in ("createdBy", "group") and value:
        return Grant(content_type, action, kind, value)
    raise PermissionSyntaxError(f"{text!r}: the scope must be all, self, createdBy=<user> or "
                                "group=<name>")


@dataclass(frozen=True)
class Collaboration:
    """The grants of one user; ``can`` answers for one record."""

    user_id: str
    grants: tuple[Grant, ...]

    @classmethod
    def parse(cls, strings: Any, user_id: str) -> Collaboration:
        if not isinstance(strings, list):
            raise PermissionSyntaxError("'collaboration_permissions' must be a list of strings")
        return cls(user_id, tuple(parse_grant(s) for s in strings))

    def can(self, action: str, record: dict[str, Any], content_type: str = "annotations"
            ) -> bool:
        return any(g.content_type == content_type and g.action == action
                   and g.covers(record, self.user_id) for g in self.grants)

    def can_set_group(self, record: dict[str, Any], target: str | None,
                      content_type: str = "annotations") -> bool:
        """Moving ``record`` into group ``target``: a ``group=`` scope names the target group;
        the other scopes are about the record, as for every action."""
        for grant in self.grants:
            if grant.content_type != content_type or grant.action != "set-group":
                continue
            if grant.scope == "group":
                if grant.value == target:
                    return True
            elif grant.covers(record, self.user_id):
                return True
        return False
