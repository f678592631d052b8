"""The staff admin pages under ``/admin``: sign in, find and edit products, import, history and revert."""

from __future__ import annotations

from typing import Any
from urllib.parse import quote

from sanic import Blueprint, response
from sanic.request import Request
from sanic.response import HTTPResponse

from bot.web import edits
from bot.web.auth import (LOGIN_CSRF_COOKIE, SESSION_COOKIE, new_login_csrf, request_address, require, secure_cookies,
                          set_cookie)
from bot.web.common import blocking, body_limit, render
from bot.web.common import staff_page as page
from bot.web.edits import Build, expected_version
from knowledge.editing import format_triple
from knowledge.products import SearchFacets, get_product, search_products
from knowledge.shopdb.staff import SESSION_LIFETIME, authenticate, close_session, open_session
from knowledge.sparql import KnowledgeGraphUnavailable

admin = Blueprint("admin", url_prefix="/admin")
FACT_FIELDS = ("name", "price", "stock", "color", "size", "material", "alternate_name", "description")
MAX_UPLOAD_BYTES = 5_000_000
MAX_FORM_BYTES = 256_000  # a product's facts form (descriptions may be long)
MULTIPART_SLACK = 64_000  # the form fields and boundaries around an uploaded file


async def edit(request: Request, build: Build, version_of: str = "") -> edits.Outcome:
    """Write the change ``build`` as the signed-in staff member, on the version the form was made on."""
    expected = expected_version(version_of, request.form.get("version")) if version_of else None
    return await edits.edit(request.app.ctx.editor, request.ctx.staff, build, expected)


def _safe_next(target: str) -> str:
    return target if target.startswith("/admin") and not target.startswith("//") else "/admin"


# --- signing in -----------------------------------------------------------------------------------

@admin.get("/login")
async def login_form(request: Request) -> HTTPResponse:
    """The sign-in form (its CSRF token double-submitted in a cookie)."""
    request.ctx.staff = None
    token = new_login_csrf()
    reply = page(request, "admin/login.html", login_csrf=token, next=_safe_next(request.args.get("next", "")))
    set_cookie(reply, LOGIN_CSRF_COOKIE, token, "/admin/login", max_age=3600, secure=secure_cookies(request))
    return reply


@admin.post("/login")
async def login(request: Request) -> HTTPResponse:
    """Check the password (rate-limited), then start a session."""
    request.ctx.staff = None
    form = request.form or {}
    username, password = form.get("username", "")[:100], form.get("password", "")[:1000]
    target = _safe_next(form.get("next", ""))
    cookie_token = request.cookies.get(LOGIN_CSRF_COOKIE, "")
    token = new_login_csrf()

    def again(message: str, status: int) -> HTTPResponse:
        reply = page(request, "admin/login.html", status=status, error=message, login_csrf=token, next=target,
                     username=username)
        set_cookie(reply, LOGIN_CSRF_COOKIE, token, "/admin/login", max_age=3600, secure=secure_cookies(request))
        return reply

    if not cookie_token or form.get("csrf_token") != cookie_token:
        return again("The form was out of date. Please sign in again.", 403)
    limiter, address = request.app.ctx.login_limiter, request_address(request)
    wait = limiter.retry_after(address, username)
    if wait:
        reply = again(f"Too many failed attempts. Try again in {int(wait) + 1} seconds.", 429)
        reply.headers["Retry-After"] = str(int(wait) + 1)
        return reply
    staff = await blocking(authenticate, request.app.ctx.db, username, password)
    if staff is None:
        limiter.failed(address, username)
        return again("Wrong username or password.", 401)
    limiter.succeeded(username)
    opened = await blocking(open_session, request.app.ctx.db, staff.username)
    reply = response.redirect(target, status=303)
    set_cookie(reply, SESSION_COOKIE, opened.cookie, "/", secure=secure_cookies(request),
               max_age=int(SESSION_LIFETIME.total_seconds()))
    return reply


@admin.post("/logout")
@require("read", api=False)
async def logout(request: Request) -> HTTPResponse:
    """End the session."""
    await blocking(close_session, request.app.ctx.db, request.cookies.get(SESSION_COOKIE, ""))
    reply = response.redirect("/admin/login", status=303)
    del reply.cookies[SESSION_COOKIE]
    return reply


# --- products -------------------------------------------------------------------------------------

@admin.get("/")
@require("read", api=False)
async def products(request: Request) -> HTTPResponse:
    """Find products by name; the form to create one."""
    text = request.args.get("q", "").strip()[:200]
    kg = request.app.ctx.shop.kg
    try:
        found = await blocking(search_products, kg, SearchFacets(text=text or None, limit=50, sort="name"))
    except KnowledgeGraphUnavailable:
        return page(request, "admin/error.html", status=503, message="The knowledge graph is unavailable right now.")
    return page(request, "admin/products.html", products=found, q=text, done=request.args.get("done"))


@admin.post("/products", stream=True)
@body_limit(MAX_FORM_BYTES)
@require("write", api=False)
async def create(request: Request) -> HTTPResponse:
    """Create a product from the form."""
    fields = {name: request.form.get(name, "") for name in ("id", "name", "brand", "category", *FACT_FIELDS[1:])}
    outcome = await edit(request, edits.creating(fields, request.app.ctx.settings.currency))
    if not outcome.written:
        return page(request, "admin/products.html", status=outcome.status, products=[], q="", refusal=outcome.body,
                    fields=fields)
    return response.redirect(f"/admin/products/{quote(fields['id'].strip())}?done={outcome.body['id']}", status=303)


async def _product_page(request: Request, product_id: str, status: int = 200, **context: Any) -> HTTPResponse:
    editor = request.app.ctx.editor

    def read() -> Any:
        doc = editor.document(product_id)  # before the facts: never a version newer than the facts shown
        return get_product(editor.kg, product_id), doc, editor.history(20, 0, product_id)

    try:
        product, doc, changes = await blocking(read)
    except (ValueError, KnowledgeGraphUnavailable) as error:
        return page(request, "admin/error.html", status=404 if isinstance(error, ValueError) else 503,
                    message=str(error))
    if product is None and not doc.triples:
        return page(request, "admin/error.html", status=404, message=f"There is no product {product_id}.")
    triples = sorted(doc.triples, key=format_triple)
    return page(request, "admin/product.html", status=status, product_id=product_id, product=product,
                version=doc.version, triples=[(format_triple(t), t) for t in triples], changes=changes,
                done=request.args.get("done"), **context)


@admin.get("/products/<product_id:str>")
@require("read", api=False)
async def product(request: Request, product_id: str) -> HTTPResponse:
    """A product's facts as a form and as raw triples, with its recent changes."""
    return await _product_page(request, product_id)


async def _edit_product(request: Request, product_id: str, build: Build, **context: Any) -> HTTPResponse:
    """Apply the change ``build`` to a product; back to its page, with the refusal when there is one."""
    outcome = await edit(request, build, version_of=product_id)
    if not outcome.written:
        return await _product_page(request, product_id, status=outcome.status, refusal=outcome.body, **context)
    return response.redirect(f"/admin/products/{quote(product_id)}?done={outcome.body['id']}", status=303)


@admin.post("/products/<product_id:str>/facts", stream=True)
@body_limit(MAX_FORM_BYTES)
@require("write", api=False)
async def edit_facts(request: Request, product_id: str) -> HTTPResponse:
    """Save the facts form: every field whose value changed."""
    fields = {name: request.form.get(name, "") for name in FACT_FIELDS}
    changed = {name: value for name, value in fields.items() if value.strip() != request.form.get(f"was_{name}", "").strip()}
    if not changed:
        return await _product_page(request, product_id, refusal={"error": "Nothing changed."}, status=400)
    multi = {"color", "size", "material", "alternate_name"}
    values = {k: [v.strip() for v in value.split(",") if v.strip()] if k in multi else value for k, value in changed.items()}
    return await _edit_product(request, product_id, edits.updating(product_id, values), submitted=fields)


@admin.post("/products/<product_id:str>/triples")
@require("write", api=False)
async def edit_triples(request: Request, product_id: str) -> HTTPResponse:
    """Add, remove or set one triple typed as Turtle terms (prefixed names allowed)."""
    operation = request.form.get("operation", "add")
    if operation not in ("add", "remove", "set"):
        operation = "add"
    triple = [request.form.get(part, "") for part in ("subject", "predicate", "object")]
    return await _edit_product(request, product_id, edits.from_triples({operation: [triple]}), typed=triple)


@admin.post("/products/<product_id:str>/delete")
@require("write", api=False)
async def delete(request: Request, product_id: str) -> HTTPResponse:
    """Delete the product with its offer and rating."""
    outcome = await edit(request, edits.deleting(product_id), version_of=product_id)
    if not outcome.written:
        return await _product_page(request, product_id, status=outcome.status, refusal=outcome.body)
    return response.redirect(f"/admin/?done={outcome.body['id']}", status=303)


# --- import and history ---------------------------------------------------------------------------

@admin.get("/import")
@require("read", api=False)
async def import_form(request: Request) -> HTTPResponse:
    """The import form."""
    return page(request, "admin/import.html", done=request.args.get("done"))


def _upload_too_large(request: Request, _limit: int) -> HTTPResponse:
    request.ctx.staff = None  # the body was refused before anyone was identified: no staff details on the page
    return render(request, "admin/error.html", status=413, staff=None,
                  message=f"The file is larger than {MAX_UPLOAD_BYTES // 1_000_000} MB; nothing was imported.")


@admin.post("/import", stream=True)
@body_limit(MAX_UPLOAD_BYTES + MULTIPART_SLACK, _upload_too_large)
@require("write", api=False)
async def import_file(request: Request) -> HTTPResponse:
    """Import an uploaded Turtle or CSV file as one change (its size is checked while it is read)."""
    upload = request.files.get("file") if request.files else None
    if upload is None or not upload.body:
        return page(request, "admin/import.html", status=400, refusal={"error": "Choose a .ttl or .csv file first."})
    if len(upload.body) > MAX_UPLOAD_BYTES:
        return page(request, "admin/import.html", status=413, refusal={"error": "The file is larger than 5 MB."})
    text = upload.body.decode("utf-8", "replace")
    kind = "csv" if upload.name.lower().endswith(".csv") else "turtle"
    outcome = await edit(request, edits.importing(text, kind))
    if not outcome.written:
        return page(request, "admin/import.html", status=outcome.status, refusal=outcome.body)
    return response.redirect(f"/admin/history?done={outcome.body['id']}", status=303)


@admin.get("/history")
@require("read", api=False)
async def history(request: Request) -> HTTPResponse:
    """Who changed what and when, newest first, each with a revert button."""
    offset = max(int(request.args.get("offset", "0")) if request.args.get("offset", "0").isdigit() else 0, 0)
    changes = await blocking(request.app.ctx.editor.history, 50, offset, None)
    return page(request, "admin/history.html", changes=changes, offset=offset, done=request.args.get("done"))


@admin.post("/history/<change_id:int>/revert")
@require("write", api=False)
async def revert(request: Request, change_id: int) -> HTTPResponse:
    """Undo one change exactly."""
    editor = request.app.ctx.editor
    outcome = await edits.revert(editor, request.ctx.staff, change_id)
    if not outcome.written:
        changes = await blocking(editor.history, 50, 0, None)
        return page(request, "admin/history.html", status=outcome.status, changes=changes, offset=0,
                    refusal=outcome.body)
    return response.redirect(f"/admin/history?done={outcome.body['id']}", status=303)

