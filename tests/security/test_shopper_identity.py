"""Another customer's orders, attacked through both chat channels: read, cancel and re-address.

The victim is C0001 (alex@example.com), who owns SB-100001 (processing) and SB-100002 (shipped). Each test
is an attack that used to work (the channels believed a ``customer_id`` in the metadata and any conversation
id the client chose) and must now fail: by forged metadata, a forged token, an expired token and a guessed
conversation id, over REST and over socket.io. After each, the victim's orders are as they were and nothing
of them was said to the attacker.
"""

from __future__ import annotations

import asyncio
from typing import Any, Callable, Optional

import pytest

from bot.stack import Stack
from knowledge.shopdb.engine import ShopDB
from tests.security.shoppers import (
    ATTACKER, ATTACKER_EMAIL, CLAIMS, FORGED, NEW_ADDRESS, PROCESSING, REJECTED, SHIPPED, TRACKING, VICTIM, RestShopper,
    SocketShopper, forged_tokens, guessed_ids, order_state, rasa_url, texts, token_for,
)

KEPT = "I haven't changed anything"  # bot/domain/service.yml: utter_order_kept

pytestmark = [pytest.mark.stack, pytest.mark.slow]


def attack_orders(say: Callable[[str], str]) -> str:
    """Read, cancel and re-address the victim's orders in one conversation; everything the bot said."""
    said = [say(f"where is my order {SHIPPED}")]
    if "e-mail" in said[-1]:
        said.append(say(ATTACKER_EMAIL))
    said.append(say(f"please cancel order {PROCESSING}"))
    if "e-mail" in said[-1]:
        said.append(say(ATTACKER_EMAIL))
    said.append(say("yes"))
    said.append(say(f"i need to change the delivery address for order {PROCESSING}"))
    if "e-mail" in said[-1]:
        said.append(say(ATTACKER_EMAIL))
    said.append(say(NEW_ADDRESS))
    return "\n".join(said)


def assert_nothing_leaked_or_changed(said: str, db: ShopDB, before: tuple[str, str]) -> None:
    assert f"Order {SHIPPED} is" not in said and TRACKING not in said, said
    assert "is cancelled" not in said and "will now be shipped to" not in said, said
    assert order_state(db, PROCESSING) == before


def test_the_victim_with_their_own_token_does_see_their_order(stack: Stack) -> None:
    """The control: the same question with C0001's real token is answered (so the refusals below mean something)."""
    victim = RestShopper(rasa_url(stack), token_for(stack, VICTIM))
    assert victim.start().json()["customer"] == VICTIM
    answer = victim.say(f"where is my order {SHIPPED}")
    assert f"Order {SHIPPED} is shipped" in answer and TRACKING in answer


# --- REST -----------------------------------------------------------------------------------------------

@pytest.mark.parametrize("as_customer", [None, ATTACKER], ids=["guest", "signed in as another customer"])
def test_rest_forged_metadata_opens_no_order(stack: Stack, db: ShopDB, as_customer: Optional[str]) -> None:
    before = order_state(db, PROCESSING)
    attacker = RestShopper(rasa_url(stack), token_for(stack, as_customer) if as_customer else None)
    assert attacker.start().status_code == 200
    said = attack_orders(lambda text: attacker.say(text, metadata=CLAIMS))
    assert "e-mail address on the order" in said or "couldn't find order" in said
    assert_nothing_leaked_or_changed(said, db, before)


@pytest.mark.parametrize("kind", FORGED)
def test_rest_forged_and_expired_tokens_are_refused(stack: Stack, db: ShopDB, kind: str) -> None:
    before = order_state(db, PROCESSING)
    token = forged_tokens(stack)[kind]
    attacker = RestShopper(rasa_url(stack), token)
    started = attacker.start()
    assert started.status_code == 401, started.text  # no conversation for a forged identity
    guest = RestShopper(rasa_url(stack))
    assert guest.start().status_code == 200
    for text in (f"where is my order {SHIPPED}", f"please cancel order {PROCESSING}", "yes", NEW_ADDRESS):
        in_header = RestShopper(guest.base, token, guest.sender).post(text, metadata=CLAIMS)
        in_body = _post_with_body_token(guest, text, token)
        for answer in (in_header, in_body):
            assert answer.status_code == 401, (kind, answer.status_code, answer.text)
            assert "token" in answer.json()["error"]
            assert TRACKING not in answer.text
    assert order_state(db, PROCESSING) == before


def _post_with_body_token(shopper: RestShopper, text: str, token: str) -> Any:
    import requests

    body = {"sender": shopper.sender, "message": text, "token": token, "metadata": CLAIMS}
    return requests.post(f"{shopper.base}/webhooks/rest/webhook", json=body, timeout=60)


def test_rest_guessed_or_stolen_conversation_id_opens_nothing(stack: Stack, db: ShopDB) -> None:
    before = order_state(db, PROCESSING)
    victim = RestShopper(rasa_url(stack), token_for(stack, VICTIM))
    victim.start()
    assert "Do you really want to cancel it?" in victim.say(f"please cancel order {PROCESSING}")
    mover = RestShopper(rasa_url(stack), token_for(stack, VICTIM))
    mover.start()
    assert "What's the new shipping address?" in mover.say(f"i need to change the delivery address for order {PROCESSING}")

    guest, other = RestShopper(rasa_url(stack)), RestShopper(rasa_url(stack), token_for(stack, ATTACKER))
    guest.start(), other.start()
    targets = [victim.sender, mover.sender] + guessed_ids([victim.sender, mover.sender])
    for attacker in (guest, other):
        for sender in targets:
            for text in ("yes", NEW_ADDRESS, f"where is my order {SHIPPED}"):
                answer = attacker.post(text, metadata=CLAIMS, sender=sender)
                assert answer.status_code == 403, (sender, answer.status_code, answer.text)
                assert TRACKING not in answer.text
    assert order_state(db, PROCESSING) == before
    assert KEPT in victim.say("no")  # the victim's conversation is still theirs, exactly where it was
    assert order_state(db, PROCESSING) == before


# --- socket.io ------------------------------------------------------------------------------------------

def run(coroutine: Any) -> Any:
    return asyncio.run(coroutine)


@pytest.mark.parametrize("as_customer", [None, ATTACKER], ids=["guest", "signed in as another customer"])
def test_socketio_forged_metadata_opens_no_order(stack: Stack, db: ShopDB, as_customer: Optional[str]) -> None:
    before = order_state(db, PROCESSING)

    async def attack() -> str:
        attacker = SocketShopper(rasa_url(stack), token_for(stack, as_customer) if as_customer else None)
        await attacker.connect()
        try:
            name, _ = await attacker.request_session()
            assert name == "session_confirm"
            said = []
            for text in (f"where is my order {SHIPPED}", ATTACKER_EMAIL, f"please cancel order {PROCESSING}",
                         ATTACKER_EMAIL, "yes", f"i need to change the delivery address for order {PROCESSING}",
                         ATTACKER_EMAIL, NEW_ADDRESS):
                events = await attacker.say(text, metadata=CLAIMS)
                assert all(name != REJECTED for name, _ in events), events
                said.append(texts(events))
            return "\n".join(said)
        finally:
            await attacker.close()

    said = run(attack())
    assert "e-mail address on the order" in said or f"couldn't find order {SHIPPED}" in said
    assert_nothing_leaked_or_changed(said, db, before)


@pytest.mark.parametrize("kind", FORGED)
def test_socketio_forged_and_expired_tokens_are_refused(stack: Stack, db: ShopDB, kind: str) -> None:
    before = order_state(db, PROCESSING)
    token = forged_tokens(stack)[kind]

    async def attack() -> None:
        attacker = SocketShopper(rasa_url(stack), token)
        await attacker.connect()
        try:
            name, data = await attacker.request_session()
            assert name == REJECTED and data["reason"] == "token", (name, data)
            name, _ = await attacker.request_session(token=None)  # a guest session ...
            assert name == "session_confirm"
            for text in (f"where is my order {SHIPPED}", f"please cancel order {PROCESSING}", "yes", NEW_ADDRESS):
                events = await attacker.say(text, metadata=CLAIMS, quiet=0.3)  # ... used with the forged token
                assert [name for name, _ in events] == [REJECTED], events
                assert events[0][1]["reason"] == "token"
        finally:
            await attacker.close()

    run(attack())
    assert order_state(db, PROCESSING) == before


def test_socketio_guessed_or_stolen_session_id_opens_nothing(stack: Stack, db: ShopDB) -> None:
    before = order_state(db, PROCESSING)

    async def attack() -> None:
        victim = SocketShopper(rasa_url(stack), token_for(stack, VICTIM))
        await victim.connect()
        attackers = [SocketShopper(rasa_url(stack)), SocketShopper(rasa_url(stack), token_for(stack, ATTACKER))]
        try:
            await victim.request_session()
            assert "Do you really want to cancel it?" in texts(await victim.say(f"please cancel order {PROCESSING}"))
            for attacker in attackers:
                await attacker.connect()
                for guess in [victim.session_id] + guessed_ids([victim.session_id]):
                    name, issued = await attacker.request_session(session_id=guess)
                    assert name == "session_confirm" and issued != victim.session_id  # a new one, never the victim's
                    events = await attacker.say("yes", metadata=CLAIMS, session_id=victim.session_id, quiet=0.3)
                    assert [n for n, _ in events] == [REJECTED] and events[0][1]["reason"] == "conversation"
            assert order_state(db, PROCESSING) == before
            # the victim goes on; none of the attackers hears the answer
            assert KEPT in texts(await victim.say("no"))
            for attacker in attackers:
                assert attacker.events.empty(), attacker.events
        finally:
            for shopper in (victim, *attackers):
                if shopper.client.connected:
                    await shopper.close()

    run(attack())
    assert order_state(db, PROCESSING) == before


# --- the store's side: who may get a shopper token -------------------------------------------------------

def test_the_store_signs_in_only_from_its_own_pages_and_hands_out_tokens_for_its_cookie(stack: Stack) -> None:
    import requests

    from bot.identity import verify_shopper_token

    web = f"http://127.0.0.1:{stack.settings.web_port}"
    refused = [
        requests.post(f"{web}/account/signin", data={"customer": VICTIM}, timeout=30),  # a cross-site form
        requests.post(f"{web}/account/signin", json={"customer": VICTIM}, headers={"Origin": "https://evil.example"},
                      timeout=30),
        requests.post(f"{web}/account/signin", json={"customer": "C0999"}, timeout=30),  # not a demo customer
        requests.post(f"{web}/account/signin", json={"customer": ["C0001"]}, timeout=30),
    ]
    assert [r.status_code for r in refused] == [403, 403, 400, 400]
    assert all("Set-Cookie" not in r.headers for r in refused)
    assert requests.get(f"{web}/chat/token", timeout=30).json()["token"] is None  # no cookie: a guest
    forged = requests.get(f"{web}/chat/token", cookies={"shopbot_shopper": forged_tokens(stack)["guessed secret"]},
                          timeout=30)
    assert forged.json()["token"] is None
    browser = requests.Session()
    assert browser.post(f"{web}/account/signin", json={"customer": VICTIM}, timeout=30).status_code == 200
    given = browser.get(f"{web}/chat/token", timeout=30)
    assert given.headers["Cache-Control"] == "no-store"
    token = given.json()["token"]
    assert verify_shopper_token(token, stack.settings.secret("shopper-token")) == VICTIM
    cookie = browser.cookies.get("shopbot_shopper")
    assert RestShopper(rasa_url(stack), cookie).start().status_code == 401  # the store's cookie is no chat token
    shopper = RestShopper(rasa_url(stack), token)
    assert shopper.start().json()["customer"] == VICTIM
