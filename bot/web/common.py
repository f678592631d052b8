"""What every page of the web app shares: templates, blocking calls in a worker thread, request body limits."""

from __future__ import annotations

import asyncio
from functools import partial, wraps
from pathlib import Path
from typing import Any, Awaitable, Callable, TypeVar

from jinja2 import Environment, FileSystemLoader, select_autoescape
from sanic import response
from sanic.exceptions import PayloadTooLarge
from sanic.request import Request
from sanic.response import HTTPResponse

from knowledge.formatting import money

HERE = Path(__file__).resolve().parent
DEFAULT_BODY_BYTES = 64_000
T = TypeVar("T")
Handler = Callable[..., Awaitable[HTTPResponse]]


def templates() -> Environment:
    """The Jinja environment of the web pages (HTML autoescaped)."""
    environment = Environment(loader=FileSystemLoader(str(HERE / "templates")), autoescape=select_autoescape(["html"]))
    environment.globals["money"] = money
    return environment


def render(request: Request, name: str, status: int = 200, **context: Any) -> HTTPResponse:
    """A template rendered as an HTML response."""
    page = request.app.ctx.templates.get_template(name).render(settings=request.app.ctx.settings, **context)
    return response.html(page, status=status)


def staff_page(request: Request, name: str, status: int = 200, **context: Any) -> HTTPResponse:
    """A staff page, with the signed-in staff member and the session's CSRF token."""
    session = getattr(request.ctx, "session", None)
    return render(request, name, status=status, staff=request.ctx.staff,
                  csrf_token=session.csrf_token if session else "", **context)


async def blocking(function: Callable[..., T], *args: Any) -> T:
    """Run a blocking call (SPARQL over HTTP, SQL) in a worker thread."""
    return await asyncio.get_running_loop().run_in_executor(None, partial(function, *args))


def too_large(_request: Request, limit: int) -> HTTPResponse:
    """The JSON answer to a request body over its route's limit."""
    return response.json({"error": f"the request body is larger than {limit:,} bytes"}, status=413)


def body_limit(limit: int, refuse: Callable[[Request, int], Any] = too_large) -> Callable[[Handler], Handler]:
    """For a route declared ``stream=True``: read its body, refusing it (``refuse``) once it passes ``limit`` bytes."""

    def decorate(handler: Handler) -> Handler:
        @wraps(handler)
        async def limited(request: Request, *args: Any, **kwargs: Any) -> HTTPResponse:
            if request.stream is not None and not request.body:
                request.stream.request_max_size = limit
                try:
                    await request.receive_body()
                except PayloadTooLarge:
                    answer = refuse(request, limit)
                    return await answer if asyncio.iscoroutine(answer) else answer
            return await handler(request, *args, **kwargs)

        return limited

    return decorate
