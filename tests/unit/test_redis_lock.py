"""Rasa's Redis lock store as the project patches it (bot/channels/redis_lock.py), on a private Redis server."""

from __future__ import annotations

import shutil
import tempfile
import threading
from pathlib import Path
from typing import Iterator

import pytest

from bot.channels import redis_lock
from bot.cluster_services import REDIS_SERVER, Redis
from bot.services import free_port


@pytest.fixture(scope="module")
def redis_server() -> Iterator[Redis]:
    """A private Redis (Debian's redis-server, installed by `make test`) on a free loopback port."""
    if not Path(REDIS_SERVER).exists():
        pytest.fail("no redis-server: `make cluster-packages` installs Debian's package")
    root = Path(tempfile.mkdtemp(prefix="shopbot-redis-"))
    server = Redis(root / "redis", free_port())
    service = server.service(root / "logs")
    service.start()
    try:
        service.wait_ready(30)
        yield server
    finally:
        service.stop()
        shutil.rmtree(root, ignore_errors=True)


def lock_store(server: Redis):  # noqa: ANN201 - rasa.core.lock_store.RedisLockStore
    from rasa.core.lock_store import RedisLockStore

    redis_lock.install()
    return RedisLockStore(host="127.0.0.1", port=server.port, password=server.password, db=1, key_prefix="test")


def test_tickets_issued_at_the_same_moment_by_many_stores_are_all_different(redis_server: Redis) -> None:
    stores = [lock_store(redis_server) for _ in range(16)]  # one per "replica": separate connections
    start, tickets = threading.Barrier(len(stores)), []

    def issue(store) -> None:
        start.wait()
        tickets.append(store.issue_ticket("conversation-1"))

    threads = [threading.Thread(target=issue, args=(store,)) for store in stores]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(tickets) == list(range(len(stores)))
    lock = stores[0].get_lock("conversation-1")
    assert [ticket.number for ticket in lock.tickets] == list(range(len(stores)))


def test_the_lock_is_served_in_ticket_order_and_deleted_when_nobody_waits(redis_server: Redis) -> None:
    store = lock_store(redis_server)
    first, second = store.issue_ticket("conversation-2"), store.issue_ticket("conversation-2")
    lock = store.get_lock("conversation-2")
    assert not lock.is_locked(first) and lock.is_locked(second)
    store.cleanup("conversation-2", first)
    lock = store.get_lock("conversation-2")
    assert lock is not None and not lock.is_locked(second)  # the second one waits: the lock stays
    store.cleanup("conversation-2", second)
    assert store.get_lock("conversation-2") is None
