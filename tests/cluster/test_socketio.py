"""socket.io across replicas: nginx keeps a browser on one replica, and a message published by another replica
(an agent's reply through the hand-over relay) reaches the shopper's socket through Redis."""

from __future__ import annotations

import asyncio

import aiohttp
import pytest
import requests
import socketio

from bot.cluster import Cluster
from tests.cluster.conftest import tracker_events

pytestmark = [pytest.mark.cluster, pytest.mark.slow]


def replica_of(cluster: Cluster, route: str) -> int:
    """The replica nginx sends socket.io requests carrying this route cookie to (the one that knows the session)."""
    cookies = {"shopbot_route": route}
    handshake = requests.get(f"{cluster.public_url}/socket.io/", params={"EIO": "4", "transport": "polling"},
                             cookies=cookies, timeout=30)
    assert handshake.status_code == 200, handshake.text
    sid = handshake.text[handshake.text.index("{"):].split('"sid":"', 1)[1].split('"', 1)[0]
    holders = [index for index in range(len(cluster.rasa_ports))  # socket.io CONNECT: 200 where the session lives
               if requests.post(f"{cluster.replica_url(index)}/socket.io/", data="40",
                                headers={"Content-Type": "text/plain;charset=UTF-8"},
                                params={"EIO": "4", "transport": "polling", "sid": sid}, timeout=30).status_code == 200]
    assert len(holders) == 1, f"session {sid} known to replicas {holders}"
    return holders[0]


def test_nginx_keeps_a_browser_on_one_replica_and_spreads_browsers_over_all(cluster: Cluster) -> None:
    first = requests.get(f"{cluster.public_url}/socket.io/", params={"EIO": "4", "transport": "polling"}, timeout=30)
    assert "shopbot_route=" in first.headers.get("Set-Cookie", ""), "nginx sets the route cookie on the first request"
    routes = [f"browser-{number}" for number in range(16)]
    placed = {route: replica_of(cluster, route) for route in routes}
    assert all(replica_of(cluster, route) == placed[route] for route in routes[:4]), "a browser changed replica"
    assert set(placed.values()) == {0, 1}, f"all browsers on one replica: {placed}"


async def _agent_reply_reaches_the_socket(cluster: Cluster, holder: int, relay_url: str) -> dict:
    received: asyncio.Queue = asyncio.Queue()
    client = socketio.AsyncClient()
    client.on("session_confirm", lambda data: received.put_nowait(("confirm", data)))
    client.on("bot_uttered", lambda data: received.put_nowait(("bot", data)))
    await client.connect(cluster.replica_url(holder), socketio_path="/socket.io",
                         transports=["polling"])  # Rasa's aiohttp is too old for the client's WebSocket
    try:
        await client.emit("session_request", {"session_id": None, "token": None})
        kind, conversation = await asyncio.wait_for(received.get(), 30)
        assert kind == "confirm"
        await client.emit("user_uttered", {"message": "hi", "session_id": conversation})
        kind, greeting = await asyncio.wait_for(received.get(), 60)
        assert kind == "bot" and greeting.get("text")
        while not received.empty():  # the rest of a multi-part answer
            received.get_nowait()
        headers = {"Authorization": f"Bearer {cluster.settings.secret('handoff-relay')}"}
        body = {"text": "Hello, Dana here from the shop.", "agent": {"username": "dana", "name": "Dana"}}
        async with aiohttp.ClientSession() as session:
            async with session.post(f"{relay_url}/internal/handoff/{conversation}/message", json=body,
                                    headers=headers) as reply:
                assert reply.status == 200, await reply.text()
        kind, message = await asyncio.wait_for(received.get(), 15)
        assert kind == "bot"
        return {"conversation": conversation, "message": message}
    finally:
        await client.eio.disconnect(abort=True)  # at once: a polite disconnect waits for the long-poll


@pytest.mark.parametrize("holder", [0, 1])
def test_a_message_published_by_one_replica_reaches_a_socket_held_by_the_other(cluster: Cluster, holder: int) -> None:
    other = cluster.replica_url(1 - holder)
    seen = asyncio.run(_agent_reply_reaches_the_socket(cluster, holder, other))
    assert seen["message"] == {"text": "Hello, Dana here from the shop.", "agent": {"name": "Dana"}}
    recorded = [event for event in tracker_events(cluster, seen["conversation"]) if event["event"] == "bot"]
    assert recorded[-1]["text"] == "Hello, Dana here from the shop."


def test_the_web_apps_relay_address_reaches_every_socket(cluster: Cluster) -> None:
    """RASA_INTERNAL_URL (nginx's internal port, round robin): a reply arrives whichever replica relays it."""
    for _ in range(3):
        seen = asyncio.run(_agent_reply_reaches_the_socket(cluster, 0, cluster.settings.rasa_internal_url))
        assert seen["message"]["text"] == "Hello, Dana here from the shop."
