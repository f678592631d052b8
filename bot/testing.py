"""A pytest plugin for conversation tests that run the real model, the real actions and a real graph.

Use the ``chat`` fixture in Python tests, or write YAML conversations in ``tests/conversations/*.yml``
(see docs/conversation-tests.md). The model is loaded once per process; the
action server and an Oxigraph server are started once on free ports; every conversation gets its own
sender id and the graph it names, loaded fresh.

Shoppers are verified as the chat channels verify them: ``metadata: {customer_id: C0001}`` means "signed in as
C0001", so each message goes with a shopper token the runtime signs for C0001 (as the store's web app would),
through the same ``bot.identity.Gate`` as the REST and socket.io channels, into a conversation id the gate
issued to that shopper. Without ``customer_id`` the shopper is a guest.
"""

from __future__ import annotations

import asyncio
import atexit
import re
import shutil
import tempfile
import textwrap
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterator, Optional, Union

import pytest
import yaml

from knowledge.settings import Settings

DEMO = "demo"


@dataclass
class Reply:
    """What the bot answered to one message: its messages and the slots afterwards."""

    messages: list[dict[str, Any]]
    slots: dict[str, Any] = field(default_factory=dict)

    @property
    def text(self) -> str:
        """Every text the bot wrote, one per line."""
        return "\n".join(m["text"] for m in self.messages if m.get("text"))

    @property
    def buttons(self) -> list[dict[str, str]]:
        """Every button offered: quick replies, then the buttons on product cards."""
        quick = [button for m in self.messages for button in m.get("buttons") or []]
        return quick + [button for card in self.cards for button in card.get("buttons") or []]

    @property
    def cards(self) -> list[dict[str, Any]]:
        """Every product card shown, single or in a carousel."""
        return cards_of(self.messages)

    def says(self, expected: str) -> bool:
        """Whether the text contains ``expected``, or matches it when written as ``/regex/``."""
        return text_matches(self.text, expected)

    def assert_says(self, expected: str) -> None:
        """Fail with the bot's actual text unless it says ``expected``."""
        assert self.says(expected), f"expected the bot to say {expected!r}, it said:\n{self.text}"

    def assert_button(self, title: str) -> None:
        """Fail unless a button with this title (or /regex/) was offered."""
        titles = [b.get("title", "") for b in self.buttons]
        assert any(text_matches(t, title) for t in titles), f"no button {title!r} among {titles}"

    def assert_card(self, title: str) -> dict[str, Any]:
        """Return the card with this title (or /regex/); fail if there is none."""
        for card in self.cards:
            if text_matches(card.get("title", ""), title):
                return card
        raise AssertionError(f"no card {title!r} among {[c.get('title') for c in self.cards]}")


def cards_of(messages: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The product cards in a reply's messages (a single card or a carousel), in order."""
    cards: list[dict[str, Any]] = []
    for message in messages:
        custom = message.get("custom") or {}
        if custom.get("type") == "product_card":
            cards.append(custom["card"])
        elif custom.get("type") == "carousel":
            cards.extend(custom["cards"])
    return cards


def text_matches(actual: str, expected: str) -> bool:
    """Substring match, or a regular-expression search when ``expected`` is written ``/like this/``."""
    if len(expected) >= 2 and expected.startswith("/") and expected.endswith("/"):
        return re.search(expected[1:-1], actual, re.S) is not None
    return expected in actual


class Runtime:
    """The trained model loaded in this process, plus a real action server and Oxigraph server."""

    def __init__(self) -> None:
        from bot.stack import Stack
        from bot.services import free_port

        self._root = Path(tempfile.mkdtemp(prefix="shopbot-chat-"))
        self._database_file = self._root / "shop.db"
        self._template_file = self._root / "shop-template.db"
        self.settings = Settings(
            var_dir=self._root, oxigraph_port=free_port(), action_port=free_port(), catalog_cache_seconds=0.5,
            sparql_timeout=30,  # loading a graph per conversation must not fail on a busy machine
            database_url=f"sqlite:///{self._database_file}",
        )
        self._stack = Stack(self.settings)
        self._loaded: Optional[tuple[str, int]] = None  # (path, mtime) of the file the graph holds
        self._loop = asyncio.new_event_loop()
        self.agent = None
        self.gate = None

    def start(self) -> None:
        """Start the graph and the action server, then load the model in process."""
        from rasa.core.agent import Agent
        from rasa.utils.endpoints import EndpointConfig

        from bot.identity import Gate
        from bot.training import train
        from knowledge.shop import Shop, set_default_shop

        self._stack.start(with_actions=True, with_rasa=False, with_web=False)
        shutil.copyfile(self._database_file, self._template_file)
        self._loaded = (str(self.settings.catalog_file), self.settings.catalog_file.stat().st_mtime_ns)
        set_default_shop(Shop.from_settings(self.settings))  # the in-process NLU matcher reads this graph
        model, _ = train()
        self.gate = Gate.from_settings(self.settings)
        action_endpoint = EndpointConfig(url=self.settings.action_endpoint_url,
                                         headers={"Authorization": f"Bearer {self.settings.secret('action-server')}"})
        self.agent = Agent.load(model, action_endpoint=action_endpoint)

    def stop(self) -> None:
        """Stop the servers this runtime started."""
        self._stack.stop()
        self._loop.close()

    def fresh_database(self) -> None:
        """Put the demo shop database back as it was generated (conversations may cancel orders)."""
        shutil.copyfile(self._template_file, self._database_file)

    def use_graph(self, graph: Union[str, Path], force: bool = False) -> None:
        """Make the graph hold the demo store, or the given Turtle file, and nothing else.

        Conversations only read the graph, so it is loaded again only when another file is asked for (or
        ``force``, for a test that changed it): reloading the same triples before every conversation made the
        store slower and slower.
        """
        from knowledge.loading import load_graph, read_turtle
        from knowledge.shop import Shop, default_shop

        path = self.settings.catalog_file if str(graph) == DEMO else Path(graph)
        key = (str(path), path.stat().st_mtime_ns)
        if key == self._loaded and not force:
            return
        load_graph(Shop.from_settings(self.settings).kg, read_turtle(path))
        default_shop().refresh()
        self._loaded = key

    def shopper(self, metadata: Optional[dict[str, Any]]) -> tuple[Optional[str], dict[str, Any]]:
        """The shopper token for the metadata's ``customer_id`` (None: a guest), and the rest of the metadata."""
        from bot.identity import issue_shopper_token

        rest = dict(metadata or {})
        customer = rest.pop("customer_id", None)
        return (issue_shopper_token(str(customer), self.settings) if customer else None), rest

    def new_sender(self, token: Optional[str] = None) -> str:
        """A new conversation id, issued to the shopper of ``token`` (a guest without one)."""
        return self.gate.new_conversation(self.gate.customer(token))

    def say(self, sender: str, text: str, metadata: Optional[dict[str, Any]] = None, token: Optional[str] = None) -> Reply:
        """Send one message as this sender (checked by the channels' gate); return the bot's reply and the slots."""
        from rasa.core.channels.channel import CollectingOutputChannel, UserMessage

        admitted = self.gate.admit(sender, token, metadata)

        async def exchange() -> Reply:
            channel = CollectingOutputChannel()
            await self.agent.handle_message(UserMessage(text, channel, sender, metadata=admitted, input_channel="rest"))
            tracker = await self.agent.processor.get_tracker(sender)
            return Reply(list(channel.messages), dict(tracker.current_slot_values()))

        return self._loop.run_until_complete(exchange())


_runtime: Optional[Runtime] = None


def runtime() -> Runtime:
    """The process-wide runtime, started on first use and stopped when the process exits."""
    global _runtime
    if _runtime is None:
        _runtime = Runtime()
        atexit.register(_runtime.stop)
        _runtime.start()
    return _runtime


class Chat:
    """One conversation with the assistant."""

    def __init__(self, runtime_: Runtime, graph: Union[str, Path] = DEMO, metadata: Optional[dict] = None) -> None:
        self._runtime = runtime_
        self.sender: Optional[str] = None  # issued with the first message, to the shopper who sends it
        self.metadata = metadata
        self.transcript: list[tuple[str, str]] = []
        runtime_.use_graph(graph)
        runtime_.fresh_database()

    def say(self, text: str, metadata: Optional[dict[str, Any]] = None) -> Reply:
        """Send a message (``metadata={"customer_id": ...}``: signed in as that customer); return the answer."""
        token, rest = self._runtime.shopper(metadata if metadata is not None else self.metadata)
        if self.sender is None:
            self.sender = self._runtime.new_sender(token)
        reply = self._runtime.say(self.sender, text, rest, token)
        self.transcript.append(("user", text))
        self.transcript.append(("bot", reply.text or _describe(reply)))
        return reply


def _describe(reply: Reply) -> str:
    parts = [f"[card {c.get('title')}]" for c in reply.cards] + [f"[button {b.get('title')}]" for b in reply.buttons]
    return " ".join(parts) or "(nothing)"


@pytest.fixture
def chat() -> Chat:
    """A fresh conversation with the real model, actions and demo graph."""
    return Chat(runtime())


# --- YAML conversations ---------------------------------------------------------------------------

def pytest_collect_file(parent: pytest.Collector, file_path: Path) -> Optional[pytest.Collector]:
    """Collect ``tests/conversations/*.yml`` (any ``conversations`` folder) as conversation tests."""
    if file_path.suffix in {".yml", ".yaml"} and file_path.parent.name == "conversations":
        return ConversationFile.from_parent(parent, path=file_path)
    return None


class ConversationLoader(yaml.SafeLoader):
    """YAML as in version 1.2: only ``true``/``false`` are booleans, so ``user: no`` is the text "no"."""


ConversationLoader.yaml_implicit_resolvers = {
    first: [(tag, regexp) for tag, regexp in resolvers if tag != "tag:yaml.org,2002:bool"]
    for first, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()
}
ConversationLoader.add_implicit_resolver(
    "tag:yaml.org,2002:bool", re.compile(r"^(?:true|True|TRUE|false|False|FALSE)$"), list("tTfF")
)


class ConversationFile(pytest.File):
    """A YAML file holding a list of conversations."""

    def collect(self) -> Iterator["ConversationItem"]:
        documents = yaml.load(self.path.read_text(encoding="utf-8"), Loader=ConversationLoader) or []
        if not isinstance(documents, list):
            raise ConversationFormatError(f"{self.path}: expected a list of conversations")
        for index, spec in enumerate(documents):
            if not isinstance(spec, dict) or "conversation" not in spec or "steps" not in spec:
                raise ConversationFormatError(f"{self.path}: entry {index + 1} needs 'conversation' and 'steps'")
            yield ConversationItem.from_parent(self, name=str(spec["conversation"]), spec=spec)


class ConversationFormatError(Exception):
    """A conversation file that does not follow the documented format."""


class ConversationMismatch(AssertionError):
    """The bot said something other than what a conversation expects."""

    def __init__(self, transcript: list[tuple[str, str, str]], step: int) -> None:
        super().__init__(f"step {step}")
        self.transcript = transcript
        self.step = step


STEP_KEYS = {"user", "bot", "buttons", "cards", "cards_exactly", "no_cards", "slots", "metadata"}
#: ``{price of P0001}``: a fact of a product, read from the conversation's graph when the conversation runs.
PLACEHOLDER = re.compile(r"\{(price|name|stock|brand|category) of ([A-Za-z0-9_-]+)\}")
_PATHS = {"name": "schema:name", "price": "schema:offers/schema:price", "stock": "shop:stockLevel",
          "brand": "schema:brand/schema:name", "category": "schema:category/schema:name"}
_graphs: dict[tuple[str, int], Any] = {}


def graph_fact(graph_file: Path, fact: str, product_id: str) -> str:
    """A product's fact as a conversation expects it written: a price as $1,234.50, a stock as 42, else the text."""
    from rdflib import Literal

    from knowledge.loading import read_turtle

    key = (str(graph_file), graph_file.stat().st_mtime_ns)
    if key not in _graphs:
        _graphs[key] = read_turtle(graph_file)
    rows = list(_graphs[key].query(
        "PREFIX schema: <https://schema.org/> PREFIX shop: <https://shop.example/ns#> "
        f"SELECT ?value WHERE {{ ?p schema:productID ?id ; {_PATHS[fact]} ?value }}",
        initBindings={"id": Literal(product_id)}))
    if len(rows) != 1:
        raise ConversationFormatError(f"{{{fact} of {product_id}}}: {len(rows)} values in {graph_file.name}")
    value = rows[0][0].toPython()
    return f"${value:,.2f}" if fact == "price" else str(value)


def expand(value: Any, graph_file: Path) -> Any:
    """``value`` with every ``{fact of ID}`` replaced by the graph's value (escaped inside a /regex/)."""
    if isinstance(value, list):
        return [expand(item, graph_file) for item in value]
    if isinstance(value, dict):
        return {key: expand(item, graph_file) for key, item in value.items()}
    if not isinstance(value, str):
        return value
    in_regex = len(value) >= 2 and value.startswith("/") and value.endswith("/")

    def fact(match: re.Match) -> str:
        text = graph_fact(graph_file, match.group(1), match.group(2))
        return re.escape(text) if in_regex else text

    return PLACEHOLDER.sub(fact, value)


class ConversationItem(pytest.Item):
    """One conversation: user lines sent in order, each followed by expectations on the bot's reply."""

    def __init__(self, *, spec: dict[str, Any], **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.spec = spec

    def runtest(self) -> None:
        graph = self.spec.get("graph", DEMO)
        if graph != DEMO:
            graph = (self.path.parent / graph).resolve()
        chat = Chat(runtime(), graph=graph, metadata=self.spec.get("metadata"))
        graph_file = runtime().settings.catalog_file if graph == DEMO else Path(graph)
        shown: list[tuple[str, str, str]] = []  # (who, actual, expected)
        reply: Optional[Reply] = None
        for number, step in enumerate(self.spec["steps"], 1):
            unknown = set(step) - STEP_KEYS
            if unknown:
                raise ConversationFormatError(f"step {number}: unknown keys {sorted(unknown)}")
            step = {key: (item if key in ("metadata", "slots") else expand(item, graph_file))
                    for key, item in step.items()}
            if "user" in step:
                reply = chat.say(str(step["user"]), step.get("metadata"))
                shown.append(("user", str(step["user"]), ""))
                continue
            if reply is None:
                raise ConversationFormatError(f"step {number}: an expectation before any user line")
            failure = _check(reply, step)
            shown.append(("bot", reply.text or _describe(reply), failure or _expected(step)))
            if failure:
                raise ConversationMismatch(shown, number)

    def repr_failure(self, excinfo: pytest.ExceptionInfo[BaseException], style=None) -> str:  # noqa: ANN001 - pytest's own signature (style is a str or None)
        if isinstance(excinfo.value, ConversationMismatch):
            return format_transcript(self.name, excinfo.value.transcript, excinfo.value.step)
        if isinstance(excinfo.value, ConversationFormatError):
            return f"{self.path}: {excinfo.value}"
        return super().repr_failure(excinfo)

    def reportinfo(self) -> tuple[Path, int, str]:
        return self.path, 0, f"conversation: {self.name}"


def _expected(step: dict[str, Any]) -> str:
    keys = ("bot", "buttons", "cards", "cards_exactly", "no_cards", "slots")
    return "; ".join(f"{key}: {step[key]}" for key in keys if key in step)


def _check(reply: Reply, step: dict[str, Any]) -> Optional[str]:
    """What the reply lacks of the step's expectations, or None when it meets them all."""
    if "bot" in step and not reply.says(str(step["bot"])):
        return f"expected bot: {step['bot']}"
    for title in step.get("buttons", []):
        if not any(text_matches(b.get("title", ""), str(title)) for b in reply.buttons):
            return f"expected button: {title} (offered: {[b.get('title') for b in reply.buttons]})"
    shown = [c.get("title", "") for c in reply.cards]
    for title in step.get("cards", []):
        if not any(text_matches(t, str(title)) for t in shown):
            return f"expected card: {title} (shown: {shown})"
    if "cards_exactly" in step:  # these cards in this order, and no other
        expected = [str(title) for title in step["cards_exactly"] or []]
        if len(shown) != len(expected) or not all(text_matches(t, e) for t, e in zip(shown, expected)):
            return f"expected exactly the cards {expected} (shown: {shown})"
    no_cards = step.get("no_cards")
    if no_cards is True and shown:
        return f"expected no card (shown: {shown})"
    for title in no_cards if isinstance(no_cards, list) else []:
        if any(text_matches(t, str(title)) for t in shown):
            return f"expected no card {title} (shown: {shown})"
    for name, value in (step.get("slots") or {}).items():
        if reply.slots.get(name) != value:
            return f"expected slot {name} = {value!r} (is {reply.slots.get(name)!r})"
    return None


def format_transcript(name: str, transcript: list[tuple[str, str, str]], failed_step: int) -> str:
    """The whole conversation, with the actual and the expected line side by side."""
    lines = [f"conversation {name!r} failed at step {failed_step}:", ""]
    width = 60
    lines.append(f"     {'actual':<{width}} | expected")
    lines.append(f"     {'-' * width}-+-{'-' * 30}")
    for index, (who, actual, expected) in enumerate(transcript):
        failed = index == len(transcript) - 1
        marker = ">>" if failed else "  "
        text_lines = [piece for line in actual.splitlines() for piece in textwrap.wrap(line, width - 6)] or [""]
        for n, text in enumerate(text_lines):
            label = f"{who}:" if n == 0 else ""
            right = expected if n == 0 else ""
            lines.append(f"{marker if n == 0 else '  '} {label:<5} {text:<{width - 6}} | {right}")
    return "\n".join(lines)
