"""Validate action-server replies with one JSON-schema validator built once, not one per reply.

Rasa 3.6.21's ``RemoteAction._validate_action_result`` calls ``jsonschema.validate(result, spec)`` for every
reply of the action server. That function checks the schema itself against its meta-schema and builds a new
validator each time: about 48 ms of the Rasa server's CPU per action call here, most of our extra time per
turn over a bare bot under load (``bench/turns.py``). A validator built once checks the same reply, with the
same ``ValidationError`` (and Rasa's hint appended to it) on a bad reply, in well under a millisecond.

``bot/channels/patches.py`` installs it (both channels, loaded by ``credentials.yml`` in the Rasa server).
"""

from __future__ import annotations

from functools import lru_cache
from typing import Any, Dict

from jsonschema.exceptions import best_match
from jsonschema.validators import validator_for
from rasa.core.actions.action import RemoteAction
from rasa.shared.constants import DOCS_BASE_URL


@lru_cache(maxsize=None)
def response_validator(action_class: type = RemoteAction) -> Any:
    """The validator of an action class's response format, checked and built once."""
    spec = action_class.action_response_format_spec()
    cls = validator_for(spec)
    cls.check_schema(spec)
    return cls(spec)


def validate_action_result(self: RemoteAction, result: Dict[str, Any]) -> bool:
    """True for a well-formed reply; raises Rasa's ``ValidationError`` otherwise."""
    error = best_match(response_validator(type(self)).iter_errors(result))  # the error jsonschema.validate raises
    if error is None:
        return True
    error.message += (
        ". Failed to validate Action server response from API, make sure your response from the Action "
        f"endpoint is valid. For more information about the format visit {DOCS_BASE_URL}/custom-actions"
    )
    raise error


def install() -> None:
    """Make Rasa's remote actions use the cached validator (idempotent)."""
    RemoteAction._validate_action_result = validate_action_result  # type: ignore[method-assign]
