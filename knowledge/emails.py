"""E-mail addresses in what shoppers write: found in a sentence, or checked and normalised on their own."""

from __future__ import annotations

import re
from typing import Any, Optional

_PART = r"[^\s@<>\"'(),;:\[\]]"  # what may stand in an address: anything but spaces, quotes and punctuation around it
#: An address: a local part (an apostrophe inside, as in o'brien, but not around it), @, a domain with a dotted TLD.
EMAIL = re.compile(rf"{_PART}{{1,64}}(?:'{_PART}{{1,64}})?@{_PART}{{1,190}}\.[A-Za-z]{{2,24}}")


def find_email(text: Any) -> Optional[str]:
    """The first e-mail address written in a sentence, else None."""
    found = EMAIL.search(text) if isinstance(text, str) else None
    return found.group(0) if found else None


def normalize_email(text: Any) -> Optional[str]:
    """The e-mail address in lower case when ``text`` is one (and nothing else), else None."""
    text = text.strip() if isinstance(text, str) else ""
    return text.lower() if EMAIL.fullmatch(text) else None
