"""The store page: a product grid from the knowledge graph, a "sign in as" picker and the chat widget.

The picker is the demo store's stand-in for a login (``bot/web/shopper.py``); it is shown only while
``SHOPBOT_DEMO_SIGNIN`` is on. The page tells the widget where to fetch the shopper token and how long a
message may be.
"""

from __future__ import annotations

from sanic import Blueprint
from sanic.request import Request
from sanic.response import HTTPResponse

from bot.web.common import blocking, render
from bot.web.shopper import DEMO_CUSTOMERS, signed_in
from knowledge.products import Product, all_product_ids, get_products
from knowledge.shopdb.customers import CustomerView, list_customers
from knowledge.sparql import KnowledgeGraphUnavailable

PAGE_SIZE = 24

store = Blueprint("store")


def catalog_page(kg, page: int, size: int = PAGE_SIZE) -> tuple[list[Product], int]:  # noqa: ANN001 - SparqlEndpoint
    """One page of products in id order, and the number of pages."""
    ids = all_product_ids(kg)
    pages = max(1, -(-len(ids) // size))
    page = min(max(page, 1), pages)
    return get_products(kg, ids[(page - 1) * size: page * size]), pages


def _page_number(request: Request) -> int:
    try:
        return int(request.args.get("page", "1"))
    except ValueError:
        return 1


@store.get("/", name="index")
async def index(request: Request) -> HTTPResponse:
    """The store front."""
    page = _page_number(request)
    settings = request.app.ctx.settings
    customers: list[CustomerView] = []
    if settings.demo_signin:
        customers = await blocking(list_customers, request.app.ctx.db, DEMO_CUSTOMERS)
    shopper = {"customers": customers, "customer": signed_in(request), "max_chars": settings.max_message_chars}
    try:
        products, pages = await blocking(catalog_page, request.app.ctx.shop.kg, page)
    except KnowledgeGraphUnavailable:
        return render(request, "store.html", status=503, products=[], page=1, pages=1, unavailable=True, **shopper)
    return render(request, "store.html", products=products, page=min(max(page, 1), pages), pages=pages,
                  unavailable=False, **shopper)
