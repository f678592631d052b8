"""No silent skips in CI: with ``CI=true`` a skipped test fails unless ``tests/allowed_skips.yml`` lists it with a reason.

Registered by ``tests/conftest.py``. Outside CI skips stay skips (a developer without PostgreSQL or the shared data
sets can still run the suite), and ``shopbot test`` prints how many there were and why.
"""

from __future__ import annotations

import fnmatch
import os
from pathlib import Path
from typing import Any, Optional

import pytest
import yaml

ALLOW_LIST = Path(__file__).with_name("allowed_skips.yml")


def in_ci() -> bool:
    """True when the CI environment variable says so (``CI=true``, as CI services set it)."""
    return os.environ.get("CI", "").strip().lower() in ("1", "true", "yes")


def allowed_skips(path: Path = ALLOW_LIST) -> dict[str, str]:
    """The allow-list: node id (or fnmatch pattern) → reason; every entry must give a reason."""
    entries = yaml.safe_load(path.read_text(encoding="utf-8")) or []
    allowed = {}
    for entry in entries:
        if not isinstance(entry, dict) or not str(entry.get("test", "")).strip() or not str(entry.get("reason", "")).strip():
            raise pytest.UsageError(f"{path}: every entry needs a test and a reason, got {entry!r}")
        allowed[str(entry["test"]).strip()] = str(entry["reason"]).strip()
    return allowed


def allowance(nodeid: str, allowed: dict[str, str]) -> Optional[str]:
    """The reason a test may be skipped, or None when it may not."""
    for pattern, reason in allowed.items():
        if nodeid == pattern or fnmatch.fnmatchcase(nodeid, pattern):
            return reason
    return None


def fail_unexpected_skip(item: pytest.Item, report: Any) -> None:
    """Turn the report of a skip that the allow-list does not name into a failure (in CI only)."""
    if not report.skipped or hasattr(report, "wasxfail") or not in_ci():
        return
    if allowance(item.nodeid, allowed_skips(ALLOW_LIST)) is not None:
        return
    reason = report.longrepr[2] if isinstance(report.longrepr, tuple) else str(report.longrepr)
    report.outcome = "failed"
    report.longrepr = (f"skipped in CI ({reason}), and {ALLOW_LIST.name} does not list it: make it run in CI, "
                       f"or add it there with the reason skipping it is acceptable")
