"""Each Rasa replica of a cluster gets its share of the cores for its thread pools."""

from __future__ import annotations

import pytest

from bot.cluster import THREAD_POOLS, replica_threads


@pytest.fixture(autouse=True)
def no_operator_setting(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in THREAD_POOLS:
        monkeypatch.delenv(name, raising=False)


@pytest.mark.parametrize(("replicas", "cores", "threads"), [(1, 2, "2"), (2, 2, "1"), (3, 2, "1"), (2, 8, "4")])
def test_a_replica_gets_its_share_of_the_cores_and_at_least_one(replicas: int, cores: int, threads: str) -> None:
    assert replica_threads(replicas, cores) == {name: threads for name in THREAD_POOLS}


def test_the_operators_setting_wins(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TF_INTRA_OP_PARALLELISM_THREADS", "3")
    threads = replica_threads(2, 8)
    assert threads.pop("TF_INTRA_OP_PARALLELISM_THREADS") == "3"
    assert set(threads.values()) == {"4"}
