"""Campaign pages for staff under ``/admin/campaigns`` and the shopper's greeting offer at ``/shopper/greeting``.

Staff create, edit and delete segment-targeted campaigns (SHACL-validated, audited and revertable like
every graph edit); a campaign's page shows clicks and purchases of its products per segment, for the
shoppers it was shown to against its hold-out control group, with a chart. The chat widget asks
``/shopper/greeting`` when a signed-in shopper opens it: the running campaign of their segment, unless
they are in its control group (either way the exposure is logged once per conversation).
"""

from __future__ import annotations

from datetime import date
from typing import Any, Optional
from urllib.parse import quote

from sanic import Blueprint, response
from sanic.request import Request
from sanic.response import HTTPResponse

from actions.offers import campaign_payload
from bot.web import edits
from bot.web.auth import require
from bot.web.common import blocking
from bot.web.common import staff_page as page
from bot.web.shopper import signed_in
from knowledge.campaigns import (
    campaign_chart,
    campaign_stats,
    create_campaign,
    delete_campaign,
    get_campaign,
    list_campaigns,
    update_campaign,
)
from knowledge.campaigns.changes import PREDICATES, campaign_fields
from knowledge.products import get_products
from knowledge.sparql import KnowledgeGraphUnavailable
from knowledge.usecases.recommendations import campaign_to_show

campaigns = Blueprint("campaigns", url_prefix="/admin/campaigns")
greetings = Blueprint("greetings", url_prefix="/shopper")
FIELDS = ("id", *PREDICATES)
MAX_FIELD_CHARS = 2_000


def _segments(db) -> list[str]:  # noqa: ANN001 - ShopDB
    from knowledge.segments import segment_sizes

    return sorted(segment_sizes(db))


async def _write(request: Request, build: edits.Build) -> edits.Outcome:
    """Write a campaign change as the signed-in staff member (validated, audited, revertable)."""
    return await edits.edit(request.app.ctx.editor, request.ctx.staff, build)


def _form(request: Request, names: tuple[str, ...] = FIELDS) -> dict[str, str]:
    form = request.form or {}
    return {name: (form.get(name) or "")[:MAX_FIELD_CHARS] for name in names}


async def _list_page(request: Request, status: int = 200, **context: Any) -> HTTPResponse:
    kg, db = request.app.ctx.shop.kg, request.app.ctx.db
    try:
        found = await blocking(list_campaigns, kg)
    except KnowledgeGraphUnavailable:
        return page(request, "admin/error.html", status=503, message="The knowledge graph is unavailable right now.")
    segments = await blocking(_segments, db)
    context.setdefault("fields", campaign_fields(None))
    return page(request, "admin/campaigns.html", status=status, campaigns=found, segments=segments,
                today=date.today(), holdout=request.app.ctx.settings.campaign_holdout,
                done=request.args.get("done"), **context)


@campaigns.get("/")
@require("read", api=False)
async def index(request: Request) -> HTTPResponse:
    """Every campaign with its status, and the form for a new one."""
    return await _list_page(request)


@campaigns.post("/")
@require("write", api=False)
async def create(request: Request) -> HTTPResponse:
    """Create a campaign from the form."""
    fields = _form(request)
    outcome = await _write(request, lambda _kg: create_campaign(fields))
    if not outcome.written:
        return await _list_page(request, status=outcome.status, refusal=outcome.body, fields=fields)
    return response.redirect(f"/admin/campaigns/{quote(fields['id'].strip())}?done={outcome.body['id']}", status=303)


def _campaign_page_data(app: Any, campaign_id: str) -> Optional[dict[str, Any]]:
    campaign = get_campaign(app.ctx.shop.kg, campaign_id)
    if campaign is None:
        return None
    holdout = app.ctx.settings.campaign_holdout
    rows = campaign_stats(app.ctx.db, campaign, holdout)
    return {
        "campaign": campaign, "rows": rows, "products": get_products(app.ctx.shop.kg, list(campaign.products)),
        "chart": campaign_chart(rows, f"{campaign.name}: clicks and purchases of its products") if rows else "",
        "share": campaign.holdout_share(holdout), "segments": _segments(app.ctx.db), "today": date.today(),
        "holdout": holdout,
    }


async def _campaign_page(request: Request, campaign_id: str, status: int = 200, **context: Any) -> HTTPResponse:
    try:
        data = await blocking(_campaign_page_data, request.app, campaign_id)
    except ValueError as error:
        return page(request, "admin/error.html", status=404, message=str(error))
    except KnowledgeGraphUnavailable:
        return page(request, "admin/error.html", status=503, message="The knowledge graph is unavailable right now.")
    if data is None:
        return page(request, "admin/error.html", status=404, message=f"There is no campaign {campaign_id}.")
    context.setdefault("fields", campaign_fields(data["campaign"]))
    return page(request, "admin/campaign.html", status=status, done=request.args.get("done"), **data, **context)


@campaigns.get("/<campaign_id:str>")
@require("read", api=False)
async def show(request: Request, campaign_id: str) -> HTTPResponse:
    """A campaign's facts, its figures per segment against the control group, a chart, and the edit form."""
    if not campaign_id:  # /admin/campaigns/ is the list
        return await _list_page(request)
    return await _campaign_page(request, campaign_id)


@campaigns.post("/<campaign_id:str>")
@require("write", api=False)
async def edit(request: Request, campaign_id: str) -> HTTPResponse:
    """Save the fields of the edit form that changed."""
    if not campaign_id:  # a form posted to /admin/campaigns/ creates
        return await create(request)
    fields = _form(request, tuple(PREDICATES))
    changed = {name: value for name, value in fields.items()
               if " ".join(value.split()) != " ".join((request.form.get(f"was_{name}") or "").split())}
    if not changed:
        return await _campaign_page(request, campaign_id, status=400, refusal={"error": "Nothing changed."},
                                    fields={"id": campaign_id, **fields})
    outcome = await _write(request, lambda kg: update_campaign(kg, campaign_id, changed))
    if not outcome.written:
        return await _campaign_page(request, campaign_id, status=outcome.status, refusal=outcome.body,
                                    fields={"id": campaign_id, **fields})
    return response.redirect(f"/admin/campaigns/{quote(campaign_id)}?done={outcome.body['id']}", status=303)


@campaigns.post("/<campaign_id:str>/delete")
@require("write", api=False)
async def delete(request: Request, campaign_id: str) -> HTTPResponse:
    """Delete a campaign (its figures stay in the behaviour log; revert the change to bring it back)."""
    outcome = await _write(request, lambda kg: delete_campaign(kg, campaign_id))
    if not outcome.written:
        return await _campaign_page(request, campaign_id, status=outcome.status, refusal=outcome.body)
    return response.redirect(f"/admin/campaigns?done={outcome.body['id']}", status=303)


# --- the shopper's greeting ---------------------------------------------------------------------------


def signed_in_customer(request: Request) -> Optional[str]:
    """The signed-in shopper asking, as the store's own sign-in says (never what the browser claims)."""
    return signed_in(request)


def greeting(app: Any, customer: Optional[str], session: Optional[str]) -> dict[str, Any]:
    """The greeting offer for a signed-in customer: their segment's running campaign, unless held out."""
    settings = app.ctx.settings
    offer = campaign_to_show(app.ctx.shop.kg, app.ctx.db, customer, session, date.today(), settings.campaign_holdout,
                             source="store", every_time=True)
    if offer is None:
        return {"campaign": None}
    carousel = campaign_payload(offer.campaign, offer.products, settings.public_url)
    return {"campaign": {**carousel["campaign"], "cards": carousel["cards"]}}


@greetings.get("/greeting")
async def shopper_greeting(request: Request) -> HTTPResponse:
    """JSON for the widget's greeting: ``{"campaign": null}`` or the campaign's message and product cards."""
    session = (request.args.get("session") or "").strip()[:255] or None
    try:
        body = await blocking(greeting, request.app, signed_in_customer(request), session)
    except KnowledgeGraphUnavailable:
        body = {"campaign": None}
    reply = response.json(body)
    reply.headers["Cache-Control"] = "no-store"
    return reply
