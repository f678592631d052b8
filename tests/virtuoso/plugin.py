"""A pytest plugin marking the tests that fail on Virtuoso because Virtuoso is wrong, when TEST_SPARQL_SERVER=virtuoso.

tests/virtuoso/run.py loads it (`-p tests.virtuoso.plugin`). Only deviations of the server from SPARQL 1.1 (or
plain server bugs) belong here, each with its reason; a test that fails because of our own query or test
code is fixed there instead. Tests in tests/virtuoso/server_checks.py carry their marks themselves.
The marks are xfail, not strict: a test that passes anyway (the bug did not show this time) is reported
as XPASS, not as a failure.
"""

from __future__ import annotations

import os

import pytest

# node id -> why it fails on Virtuoso 7.2.5 (Debian bookworm's virtuoso-opensource)
DEVIATIONS = {
    "tests/unit/test_editing.py::test_import_csv_updates_and_creates": (
        "Virtuoso 7.2.5 bug: knowledge.editing.documents.documents() for P0001 plus a product that does not "
        "exist yet (VALUES ?root {...} with a UNION of '?root ?p ?o' and '?root schema:offers|"
        "schema:aggregateRating ?s . ?s ?p ?o') can come back without the offer and rating triples (24 rows "
        "instead of 30) when Virtuoso compiles it right after the graph was reloaded; the plan is cached "
        "per query text, so the same text stays wrong, while any other text of the same query is right. "
        "The editor then sees no currency on the offer and refuses the import"
    ),
}


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Mark the known Virtuoso deviations xfail, only when the tests run against Virtuoso."""
    if os.environ.get("TEST_SPARQL_SERVER", "").lower() != "virtuoso":
        return
    for item in items:
        reason = DEVIATIONS.get(item.nodeid.split("[", 1)[0]) or DEVIATIONS.get(item.nodeid)
        if reason:
            item.add_marker(pytest.mark.xfail(reason=f"virtuoso: {reason}", strict=False))
