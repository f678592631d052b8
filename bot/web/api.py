"""The staff REST API under ``/api/kg/``: read and edit the knowledge graph, its history, staff and tokens.

Authenticate with ``Authorization: Bearer TOKEN`` (``shopbot staff token NAME`` or ``POST /api/kg/tokens``;
tokens expire after ``STAFF_TOKEN_DAYS``) or a signed-in admin session plus its ``X-CSRF-Token`` header.
Viewers read, editors also write, admins also manage staff. Edits answer 409 on a conflict (with the rejected
change), 422 when SHACL refuses them. Request bodies are limited per route (``body_limit``; 64 kB elsewhere).
"""

from __future__ import annotations

from dataclasses import asdict
from decimal import Decimal
from typing import Any, Callable, Optional

from sanic import Blueprint, response
from sanic.request import Request
from sanic.response import HTTPResponse

from bot.web import edits
from bot.web.auth import request_address, require
from bot.web.common import blocking, body_limit
from bot.web.edits import Build
from bot.web.staff_sparql import QueryLimits, QueryTooCostly, run_staff_query
from knowledge.editing import Editor, format_triple
from knowledge.products import SearchFacets, get_product, search_products
from knowledge.shopdb.staff import StaffError, add_staff, authenticate, issue_token, list_staff
from knowledge.sparql import KnowledgeGraphUnavailable

api = Blueprint("kg_api", url_prefix="/api/kg")
MAX_BODY_BYTES = 5_000_000  # an imported file
MAX_EDIT_BYTES = 1_000_000  # a change of up to 1,000 triples
MAX_FIELDS_BYTES = 256_000  # one product's fields


def _json_default(value: Any) -> Any:
    if isinstance(value, Decimal):
        return str(value)
    if hasattr(value, "isoformat"):
        return value.isoformat()
    raise TypeError(f"not JSON serialisable: {type(value).__name__}")


def reply(data: Any, status: int = 200) -> HTTPResponse:
    """A JSON answer (decimals as strings, datetimes in ISO 8601)."""
    return response.json(data, status=status, default=_json_default)


def body(request: Request) -> dict[str, Any]:
    """The JSON object of a request (an empty dict when there is none; ValueError when it is not an object)."""
    if not request.body:
        return {}
    try:
        data = request.json
    except Exception as error:  # Sanic raises its own InvalidUsage for bad JSON
        raise ValueError("the request body is not valid JSON") from error
    if not isinstance(data, dict):
        raise ValueError("the request body must be a JSON object")
    return data


async def guarded(call: Callable[[], Any]) -> HTTPResponse:
    """Run a blocking graph/database read; turn what can go wrong into a clear JSON error."""
    try:
        return reply(await blocking(call))
    except (ValueError, StaffError) as error:
        return reply({"error": str(error)}, 400)
    except KnowledgeGraphUnavailable as error:
        return reply({"error": f"the knowledge graph is unavailable: {error}"}, 503)
    except QueryTooCostly as error:
        return reply({"error": str(error)}, error.status)


def _editor(request: Request) -> Editor:
    return request.app.ctx.editor


async def edit(request: Request, build: Build, expected: Optional[dict[str, str]] = None,
               created: bool = False) -> HTTPResponse:
    """Write the change ``build`` as the token's staff member; the change written, or the refusal as JSON."""
    outcome = await edits.edit(_editor(request), request.ctx.staff, build, expected)
    return reply(outcome.body, 201 if created and outcome.written else outcome.status)


def _expected(request: Request, data: dict[str, Any], key: str) -> Optional[dict[str, str]]:
    version = data.get("version") or request.headers.get("if-match", "").strip('"')
    if version:
        return {key: str(version)}
    expected = data.get("expected")
    return {str(k): str(v) for k, v in expected.items()} if isinstance(expected, dict) else None


@api.exception(ValueError)
async def bad_request(_request: Request, error: ValueError) -> HTTPResponse:
    """A malformed request (bad JSON, a bad number or term) gets 400 with the reason."""
    return reply({"error": str(error)}, 400)


# --- reading --------------------------------------------------------------------------------------

@api.get("/products")
@require("read", api=True)
async def products(request: Request) -> HTTPResponse:
    """Products whose name contains ``q`` (all when empty), at most ``limit``."""
    text = request.args.get("q", "").strip()[:200] or None
    limit = min(max(int(request.args.get("limit", "50") or 50), 1), 500)
    kg = request.app.ctx.shop.kg
    return await guarded(lambda: [asdict(p) for p in search_products(
        kg, SearchFacets(text=text, limit=limit, sort="name"))])


@api.get("/products/<product_id:str>")
@require("read", api=True)
async def product(request: Request, product_id: str) -> HTTPResponse:
    """A product's facts, its raw triples and the version to send back with an edit."""
    editor = _editor(request)

    def read() -> Any:
        # The version first, the facts after: facts newer than the version only cost the client a 409 on its
        # edit, while facts older than the version would let an edit based on them overwrite a newer value.
        try:
            doc = editor.document(product_id)
        except ValueError:  # not a product id at all
            raise LookupError(product_id) from None
        found = get_product(editor.kg, product_id)
        if found is None:
            raise LookupError(product_id)
        return {"id": product_id, "version": doc.version, "facts": asdict(found),
                "triples": sorted(format_triple(t) for t in doc.triples)}

    try:
        return await guarded(read)
    except LookupError:
        return reply({"error": f"no product {product_id}"}, 404)


@api.get("/export")
@require("read", api=True)
async def export(request: Request) -> HTTPResponse:
    """The whole graph as Turtle."""
    try:
        text = await blocking(_editor(request).export_turtle)
    except KnowledgeGraphUnavailable as error:
        return reply({"error": f"the knowledge graph is unavailable: {error}"}, 503)
    return response.text(text, content_type="text/turtle; charset=utf-8")


@api.get("/history")
@require("read", api=True)
async def history(request: Request) -> HTTPResponse:
    """The audit log, newest first (``limit``, ``offset``, ``subject``)."""
    limit = min(max(int(request.args.get("limit", "50") or 50), 1), 500)
    offset = max(int(request.args.get("offset", "0") or 0), 0)
    subject = request.args.get("subject") or None
    editor = _editor(request)
    return await guarded(lambda: [r.to_dict() for r in editor.history(limit, offset, subject)])


@api.get("/changes/<change_id:int>")
@require("read", api=True)
async def change(request: Request, change_id: int) -> HTTPResponse:
    """One change of the audit log."""
    editor = _editor(request)
    return await guarded(lambda: editor.get_change(change_id).to_dict())


@api.route("/sparql", methods=["GET", "POST"])
@require("read", api=True)
async def sparql(request: Request) -> HTTPResponse:
    """A read-only SELECT or ASK query, bounded in rows, bytes and time; updates and SERVICE are refused."""
    query = request.args.get("query") or (request.form.get("query") if request.form else None)
    if query is None and request.body:
        query = body(request).get("query") if "json" in request.content_type else request.body.decode("utf-8", "replace")
    limits = QueryLimits.from_settings(request.app.ctx.settings)
    return await guarded(lambda: run_staff_query(request.app.ctx.shop.kg, str(query or ""), limits))


# --- writing --------------------------------------------------------------------------------------

@api.post("/products", stream=True)
@body_limit(MAX_FIELDS_BYTES)
@require("write", api=True)
async def create(request: Request) -> HTTPResponse:
    """Create a product from ``{"fields": {...}}``."""
    data = body(request)
    fields = data.get("fields", data)
    if not isinstance(fields, dict):
        return reply({"error": "fields must be an object"}, 400)
    return await edit(request, edits.creating(fields, request.app.ctx.settings.currency), created=True)


@api.patch("/products/<product_id:str>", stream=True)
@body_limit(MAX_FIELDS_BYTES)
@require("write", api=True)
async def update(request: Request, product_id: str) -> HTTPResponse:
    """Set fields of a product from ``{"version": ..., "set": {"price": "99.00", "color": ["navy"]}}``."""
    data = body(request)
    fields = data.get("set")
    if not isinstance(fields, dict) or not fields:
        return reply({"error": 'send {"set": {field: value}} with at least one field'}, 400)
    return await edit(request, edits.updating(product_id, fields), _expected(request, data, product_id))


@api.delete("/products/<product_id:str>")
@require("write", api=True)
async def delete(request: Request, product_id: str) -> HTTPResponse:
    """Delete a product with its offer and rating, and every triple pointing at it."""
    data = body(request)
    return await edit(request, edits.deleting(product_id), _expected(request, data, product_id))


@api.post("/triples", stream=True)
@body_limit(MAX_EDIT_BYTES)
@require("write", api=True)
async def triples(request: Request) -> HTTPResponse:
    """Add, remove and set triples in one change: ``{"add": [[s, p, o]], "remove": [...], "set": [...]}``."""
    data = body(request)
    return await edit(request, edits.from_triples(data), _expected(request, data, ""))


def _file_too_large(_request: Request, limit: int) -> HTTPResponse:
    return reply({"error": f"the file is larger than {limit // 1_000_000} MB; nothing was imported"}, 413)


@api.post("/import", stream=True)
@body_limit(MAX_BODY_BYTES, _file_too_large)
@require("write", api=True)
async def import_file(request: Request) -> HTTPResponse:
    """Import Turtle (``text/turtle``) or CSV (``text/csv``) sent as the request body (size checked while read)."""
    text = request.body.decode("utf-8", "replace")
    kind = request.args.get("format") or ("csv" if "csv" in request.content_type else "turtle")
    return await edit(request, edits.importing(text, "csv" if kind == "csv" else "turtle"))


@api.post("/changes/<change_id:int>/revert")
@require("write", api=True)
async def revert(request: Request, change_id: int) -> HTTPResponse:
    """Undo a change exactly (409 when later edits touched its triples)."""
    outcome = await edits.revert(_editor(request), request.ctx.staff, change_id)
    return reply(outcome.body, outcome.status)


# --- staff ----------------------------------------------------------------------------------------

@api.get("/staff")
@require("manage", api=True)
async def staff(request: Request) -> HTTPResponse:
    """The staff accounts (never their passwords)."""
    return await guarded(lambda: [asdict(s) for s in list_staff(request.app.ctx.db)])


@api.post("/staff")
@require("manage", api=True)
async def new_staff(request: Request) -> HTTPResponse:
    """Add a staff account: ``{"username", "password", "role", "display_name"}``."""
    data = body(request)
    db = request.app.ctx.db
    name = data.get("display_name")
    added = await guarded(lambda: asdict(add_staff(db, str(data.get("username", "")), str(data.get("password", "")),
                                                   str(data.get("role", "viewer")),
                                                   str(name) if name is not None else None)))
    if added.status == 200:
        added.status = 201
    return added


@api.post("/tokens")
async def token(request: Request) -> HTTPResponse:
    """Exchange a username and password for an API token (rate-limited like the sign-in page)."""
    try:
        data = body(request)
    except ValueError as error:
        return reply({"error": str(error)}, 400)
    username, password = str(data.get("username", ""))[:100], str(data.get("password", ""))[:1000]
    limiter, address = request.app.ctx.login_limiter, request_address(request)
    wait = limiter.retry_after(address, username)
    if wait:
        return response.json({"error": "too many failed sign-ins; try again later"}, status=429,
                              headers={"Retry-After": str(int(wait) + 1)})
    found = await blocking(authenticate, request.app.ctx.db, username, password)
    if found is None:
        limiter.failed(address, username)
        return reply({"error": "wrong username or password"}, 401)
    limiter.succeeded(username)
    return reply({"token": await blocking(issue_token, request.app.ctx.db, found.username),
                  "username": found.username, "role": found.role,
                  "expires_in_days": request.app.ctx.settings.staff_token_days}, 201)
