"""Conversation and story tests must test understanding, not memory: none of their user lines is a training example.

A line counts as seen when, lower-cased, with entity annotations taken out, whitespace collapsed and
punctuation trimmed from both ends, it equals an example of ``data/nlu``. Payloads (``/intent{...}``) are
not phrasings and are left out.
"""

from __future__ import annotations

import re
import string
from pathlib import Path
from typing import Iterator

import yaml

from bot.testing import ConversationLoader, expand

ROOT = Path(__file__).resolve().parents[2]
NLU = ROOT / "data" / "nlu"
CATALOG = ROOT / "data" / "store" / "catalog.ttl"
ANNOTATION = re.compile(r"\[([^\]]*)\](?:\([^)]*\)|\{[^}]*\})")


def normalise(text: str) -> str:
    """Lower case, entity annotations replaced by their text, single spaces, no punctuation at either end."""
    text = ANNOTATION.sub(r"\1", text).lower()
    return " ".join(text.split()).strip(string.punctuation + string.whitespace + "¿¡…")


def training_examples() -> set[str]:
    """Every example of data/nlu, normalised."""
    examples = set()
    for path in sorted(NLU.glob("*.yml")):
        for block in (yaml.safe_load(path.read_text(encoding="utf-8")) or {}).get("nlu", []):
            for line in str(block.get("examples", "")).splitlines():
                if line.strip().startswith("- "):
                    examples.add(normalise(line.strip()[2:]))
    return examples


def conversation_lines() -> Iterator[tuple[str, str]]:
    """(where, text) of every user line of tests/conversations/*.yml, placeholders filled from the demo graph."""
    for path in sorted((ROOT / "tests" / "conversations").glob("*.yml")):
        for spec in yaml.load(path.read_text(encoding="utf-8"), Loader=ConversationLoader) or []:
            for step in spec.get("steps", []):
                if "user" in step and not str(step["user"]).startswith("/"):
                    yield f"{path.name}: {spec['conversation']}", expand(str(step["user"]), CATALOG)


def story_lines() -> Iterator[tuple[str, str]]:
    """(where, text) of every user line of tests/stories/*.yml."""
    for path in sorted((ROOT / "tests" / "stories").glob("*.yml")):
        for story in (yaml.safe_load(path.read_text(encoding="utf-8")) or {}).get("stories", []):
            for step in story.get("steps", []):
                if "user" in step and not str(step["user"]).strip().startswith("/"):
                    yield f"{path.name}: {story['story']}", str(step["user"]).strip()


def test_the_normalisation() -> None:
    assert normalise("How much is the [Trailblazer 2](product)?") == "how much is the trailblazer 2"
    assert normalise('  is it [red]{"entity": "color"}  in   stock!! ') == "is it red in stock"
    assert normalise("...hello") == "hello" and normalise("what's up?") == "what's up"


def test_there_are_lines_to_check() -> None:
    assert len(list(conversation_lines())) > 50 and len(list(story_lines())) > 20
    assert len(training_examples()) > 500


def test_no_conversation_or_story_line_is_a_training_example() -> None:
    seen = training_examples()
    memorised = [f"{where}: {text!r}" for where, text in [*conversation_lines(), *story_lines()]
                 if normalise(text) in seen]
    assert not memorised, "lines that appear in data/nlu (rephrase them):\n" + "\n".join(memorised)
