"""Opening what the settings name: the knowledge graph's SPARQL client and the shop database, for every caller.

Nothing is opened at import time; each call opens a new client or database (callers keep them as long as they
need: the action server's context, the web app, a CLI command).
"""

from __future__ import annotations

from typing import Optional

from knowledge.settings import Settings, get_settings
from knowledge.shopdb.engine import ShopDB, make_engine
from knowledge.sparql import HttpSparqlClient

BULK_READ_SECONDS = 120.0  # timeout of the queries that read every product's names or facets


def graph_client(settings: Optional[Settings] = None, timeout: Optional[float] = None) -> HttpSparqlClient:
    """A SPARQL client of the knowledge graph (query and update endpoints, credentials, ``SPARQL_TIMEOUT``)."""
    settings = settings or get_settings()
    auth = (settings.sparql_user, settings.sparql_password) if settings.sparql_user else None
    return HttpSparqlClient(settings.sparql_query_url, settings.sparql_update_url,
                            timeout=settings.sparql_timeout if timeout is None else timeout, auth=auth)


def bulk_graph_client(settings: Optional[Settings] = None) -> HttpSparqlClient:
    """A SPARQL client for work on the whole catalog (start-up, loads, exports): the long timeout of such reads."""
    settings = settings or get_settings()
    return graph_client(settings, timeout=max(settings.sparql_timeout, BULK_READ_SECONDS))


def shop_database(settings: Optional[Settings] = None) -> ShopDB:
    """The shop database at ``DATABASE_URL``, its schema created on first use."""
    settings = settings or get_settings()
    return ShopDB(make_engine(settings.database_url))
