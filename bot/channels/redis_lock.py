"""Rasa's Redis lock store with atomic tickets, so that two replicas never work on one conversation at once.

Rasa 3.6's ``RedisLockStore`` keeps a conversation's ticket lock as one JSON value and changes it by reading it,
changing it in Python and writing it back. Two replicas issuing a ticket at the same moment both read "no lock",
both write a lock holding ticket 0, and both go ahead: each works on its own copy of the tracker and the tracker
store keeps only one of the two turns (``tests/cluster/test_replicas.py`` caught it). Here every
read-change-write of a lock (issuing a ticket, dropping expired ones, finishing a ticket, deleting the lock when
nobody waits) is one Redis transaction (``WATCH``/``MULTI``/``EXEC``, retried when another replica changed the
key in between), so the tickets of one conversation are issued and served strictly one after another.
"""

from __future__ import annotations

import json
from typing import Any, Callable, Optional, TypeVar

T = TypeVar("T")
_installed: list[bool] = []


def change_lock(store: Any, conversation_id: str, change: Callable[[Optional[Any]], tuple[Optional[Any], T]]) -> T:
    """Apply ``change`` (lock or None -> new lock or None, result) to a conversation's lock in one transaction."""
    import redis
    from rasa.core.lock import TicketLock

    key = store.key_prefix + conversation_id
    with store.red.pipeline() as pipe:
        while True:
            try:
                pipe.watch(key)
                stored = pipe.get(key)
                lock, result = change(TicketLock.from_dict(json.loads(stored)) if stored else None)
                pipe.multi()
                if lock is None:
                    pipe.delete(key)
                else:
                    pipe.set(key, lock.dumps())
                pipe.execute()
                return result
            except redis.WatchError:
                continue  # another replica changed this lock meanwhile: read it again


def issue_ticket(self: Any, conversation_id: str, lock_lifetime: float = 60) -> int:
    """A new ticket for the conversation's lock (the lock created if there is none)."""
    from rasa.core.lock_store import LockError

    def issue(lock: Optional[Any]) -> tuple[Any, int]:
        lock = lock or self.create_lock(conversation_id)
        return lock, lock.issue_ticket(lock_lifetime)

    try:
        return change_lock(self, conversation_id, issue)
    except Exception as error:
        raise LockError(f"Error while acquiring lock. Error:\n{error}") from error


def update_lock(self: Any, conversation_id: str) -> None:
    """Drop the expired tickets of the conversation's lock."""
    def update(lock: Optional[Any]) -> tuple[Optional[Any], None]:
        if lock is not None:
            lock.remove_expired_tickets()
        return lock, None

    change_lock(self, conversation_id, update)


def finish_serving(self: Any, conversation_id: str, ticket_number: int) -> None:
    """Remove a served ticket from the conversation's lock."""
    def finish(lock: Optional[Any]) -> tuple[Optional[Any], None]:
        if lock is not None:
            lock.remove_ticket_for(ticket_number)
        return lock, None

    change_lock(self, conversation_id, finish)


def cleanup(self: Any, conversation_id: str, ticket_number: int) -> None:
    """Remove a served ticket, and the lock itself when no other ticket waits."""
    def clean(lock: Optional[Any]) -> tuple[Optional[Any], None]:
        if lock is not None:
            lock.remove_ticket_for(ticket_number)
        return (lock if lock is not None and lock.is_someone_waiting() else None), None

    change_lock(self, conversation_id, clean)


def install() -> None:
    """Make ``RedisLockStore``'s lock changes atomic (idempotent)."""
    if _installed:
        return
    from rasa.core.lock_store import RedisLockStore

    RedisLockStore.issue_ticket = issue_ticket
    RedisLockStore.update_lock = update_lock
    RedisLockStore.finish_serving = finish_serving
    RedisLockStore.cleanup = cleanup
    _installed.append(True)
