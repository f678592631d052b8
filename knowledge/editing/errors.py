"""What can go wrong when staff edit the knowledge graph; every error keeps the rejected change."""

from __future__ import annotations

from typing import TYPE_CHECKING, Mapping, Optional

if TYPE_CHECKING:  # pragma: no cover
    from knowledge.editing.changes import Change, Triple


class EditError(Exception):
    """Base class of the editing errors; ``change`` is the change that was not written (if any)."""

    def __init__(self, message: str, change: "Optional[Change]" = None) -> None:
        super().__init__(message)
        self.message = message
        self.change = change

    def __str__(self) -> str:
        return self.message


class EmptyChange(EditError):
    """The change adds and removes nothing, or every triple of it is already the case (a no-op).

    ``skipped_added`` holds triples that were already in the graph, ``skipped_removed`` triples that were not.
    """

    def __init__(
        self,
        message: str,
        change: "Optional[Change]" = None,
        skipped_added: "tuple[Triple, ...]" = (),
        skipped_removed: "tuple[Triple, ...]" = (),
    ) -> None:
        super().__init__(message, change)
        self.skipped_added = skipped_added
        self.skipped_removed = skipped_removed


class ValidationFailed(EditError):
    """The graph after the change would break the SHACL shapes; ``problems`` says where and why."""

    def __init__(self, problems: tuple[str, ...], change: "Optional[Change]" = None) -> None:
        lines = "\n".join(f"  - {problem}" for problem in problems)
        count = len(problems)
        super().__init__(f"the change was not written: {count} problem{'s' if count != 1 else ''}\n{lines}", change)
        self.problems = problems


class EditConflict(EditError):
    """Someone changed the graph since the editor read it; nothing was written.

    ``expected`` and ``current`` map document keys (such as ``"prod:P0001"``) to versions; ``details`` lists
    what differs. ``change`` is the rejected change, so the caller can show it again or re-apply it.
    """

    def __init__(
        self,
        message: str,
        change: "Optional[Change]" = None,
        expected: Optional[Mapping[str, str]] = None,
        current: Optional[Mapping[str, str]] = None,
        details: tuple[str, ...] = (),
    ) -> None:
        super().__init__(message, change)
        self.expected = dict(expected or {})
        self.current = dict(current or {})
        self.details = details


class PermissionDenied(EditError):
    """The user is not an active staff account allowed to do this."""


class ChangeNotFound(EditError, LookupError):
    """No change with this id in the audit log."""
