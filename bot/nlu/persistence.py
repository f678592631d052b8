"""Saving and loading the scikit-learn parts of our NLU components with skops (no pickle), types checked first."""

from __future__ import annotations

from typing import Any, Optional, Sequence

from rasa.engine.storage.resource import Resource
from rasa.engine.storage.storage import ModelStorage
from rasa.shared.exceptions import RasaException


class InvalidModelError(RasaException):
    """A persisted component holds something other than scikit-learn objects and the types it trusts."""


def save_skops(storage: ModelStorage, resource: Resource, filename: str, model: Any) -> None:
    """Write ``model`` into the component's resource as ``filename``."""
    import skops.io as sio

    with storage.write_to(resource) as directory:
        sio.dump(model, directory / filename)


def load_skops(storage: ModelStorage, resource: Resource, filename: str, trusted: Sequence[str] = ()) -> Optional[Any]:
    """The model saved as ``filename``, None when training saved none; refused if it holds untrusted types."""
    import skops.io as sio

    try:
        with storage.read_from(resource) as directory:
            path = directory / filename
            if not path.is_file():
                return None
            untrusted = set(sio.get_untrusted_types(file=path)) - set(trusted)
            if untrusted:
                raise InvalidModelError(f"{path} holds types that are not trusted: {sorted(untrusted)}")
            return sio.load(path, trusted=list(trusted))
    except ValueError:  # Rasa's storage raises ValueError for a resource it never saved
        return None
