"""What the graph says about its own changes: which load it holds and the last staff change written into it.

Two triples on one node, kept by every writer of the project::

    shop:catalogState shop:loadId "9c1e..." ;     # replaced by every load of a catalog
                      shop:lastChange 42 .         # the audit-log id of the last staff change

Processes that keep the catalog's names or facets in memory (``knowledge.catalog_watch``) poll them with one
tiny query: a new load id means "read everything again", a higher change id means "read what the audit log
says changes after the last one I saw changed". Anything else that writes to the graph should replace the
load id too, or the shop's names and facets only follow after a restart.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import Optional

from rdflib import Literal
from rdflib.namespace import XSD

from knowledge.namespaces import SHOP
from knowledge.sparql import SparqlEndpoint, py, render

STATE_NODE = SHOP.catalogState
LOAD_ID = SHOP.loadId
LAST_CHANGE = SHOP.lastChange


@dataclass(frozen=True)
class CatalogState:
    """The load the graph holds and the id of the last staff change written into it (0: none yet)."""

    load_id: Optional[str]
    last_change: int = 0


def read_state(kg: SparqlEndpoint) -> CatalogState:
    """The graph's catalog state now (one small query)."""
    rows = kg.select(render("""SELECT ?load ?change WHERE {
      OPTIONAL { shop:catalogState shop:loadId ?load }
      OPTIONAL { shop:catalogState shop:lastChange ?change } } LIMIT 1"""))
    row = rows[0] if rows else {}
    load = row.get("load")
    change = py(row.get("change"))
    return CatalogState(str(load) if load is not None else None, int(change) if change is not None else 0)


def new_load_id() -> str:
    """A fresh id for a load of the catalog."""
    return uuid.uuid4().hex


def load_marker(load_id: str) -> str:
    """Update operations stating that the graph now holds load ``load_id`` (the last change id is kept)."""
    return render("DELETE WHERE { shop:catalogState shop:loadId ?old } ;\n"
                  "INSERT DATA { shop:catalogState shop:loadId $load }", load=Literal(load_id))


def change_marker(change_id: int) -> str:
    """Update operations stating that staff change ``change_id`` of the audit log is written."""
    return render("DELETE WHERE { shop:catalogState shop:lastChange ?old } ;\n"
                  "INSERT DATA { shop:catalogState shop:lastChange $change }",
                  change=Literal(int(change_id), datatype=XSD.integer))


def without_prefixes(update: str) -> str:
    """An update rendered by ``knowledge.sparql.render`` without its PREFIX header, to join it to another."""
    return "\n".join(line for line in update.splitlines() if not line.startswith("PREFIX "))
