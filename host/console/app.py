"""The console's routes, mounted by ``host.app`` at ``/console``.

Server-rendered pages (Jinja2, autoescaped: whatever a customer wrote is shown as text) and one
small script (``static/console.js``) for live updates over server-sent events. Every POST is a
plain form with the session's CSRF token; every action redirects back to its page.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import secrets
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from functools import lru_cache
from pathlib import Path
from typing import Any

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import HTMLResponse, RedirectResponse, Response, StreamingResponse
from starlette.routing import Mount, Route
from starlette.staticfiles import StaticFiles

from core.errors import ErrorCode, SwitchboardError, forbidden
from host.console import queue, security, sessions, takeover
from host.console.actions import audited
from host.console.i18n import LANGS, translate
from host.console.operators import Operator, authenticate, get_operator

HERE = Path(__file__).resolve().parent
STATIC = HERE / "static"
SSE_POLL_S = 1.0
SSE_MAX_S = 300.0  # a stream ends after this; the browser's EventSource reconnects by itself
STATUS = {
    ErrorCode.INVALID_ARGUMENT: 400,
    ErrorCode.FORBIDDEN: 403,
    ErrorCode.NOT_FOUND: 404,
    ErrorCode.CONFLICT: 409,
    ErrorCode.UNAVAILABLE: 503,
}

Handler = Callable[[Request, "Ctx"], Awaitable[Response]]


class CachedStatic(StaticFiles):
    """Static files with cache headers; pages link them with ``?v=<content hash>``."""

    def file_response(self, *args: Any, **kwargs: Any) -> Response:
        response = super().file_response(*args, **kwargs)
        response.headers["cache-control"] = "public, max-age=31536000, immutable"
        return response


@lru_cache(maxsize=64)
def static_url(name: str) -> str:
    digest = hashlib.sha256((STATIC / name).read_bytes()).hexdigest()[:12]
    return f"/console/static/{name}?v={digest}"


@lru_cache(maxsize=1)
def environment() -> Any:
    from jinja2 import Environment, FileSystemLoader

    env = Environment(loader=FileSystemLoader(HERE / "templates"), autoescape=True)
    env.globals["static_url"] = static_url
    env.filters["when"] = _when
    env.filters["short"] = lambda v: (v or "")[:8]
    return env


def _when(value: Any) -> str:
    from core.clock import shown

    return shown(value)


class Ctx:
    """One request's console state: session cookie data, the operator, the language, the form."""

    def __init__(self, session: dict[str, Any], operator: Operator | None, form: Any) -> None:
        self.session = session
        self.operator = operator
        self.form = form

    @property
    def me(self) -> Operator:
        assert self.operator is not None
        return self.operator

    def render(self, request: Request, template: str, status: int = 200, **values: Any) -> HTMLResponse:
        lang = self.session.get("lang", "ko")
        html = (
            environment()
            .get_template(template)
            .render(
                t=translate(lang),
                lang=lang,
                operator=self.operator,
                csrf=self.session["csrf"],
                path=request.url.path,
                **values,
            )
        )
        return HTMLResponse(html, status_code=status)


def page(handler: Handler, *, public: bool = False) -> Callable[[Request], Awaitable[Response]]:
    """Session, language, sign-in, CSRF and error handling around a console handler."""

    async def endpoint(request: Request) -> Response:
        session = security.load_session(request)
        lang = request.query_params.get("lang")
        if lang in LANGS:
            session["lang"] = lang
            session["changed"] = True
        operator = await get_operator(session["op"]) if session.get("op") else None
        form = None
        ctx = Ctx(session, operator, None)
        if request.method == "POST":
            form = await request.form()
            ctx.form = form
            if not security.csrf_ok(request, session, form):
                response: Response = ctx.render(
                    request, "error.html", 403, message="CSRF token missing or wrong: reload the page and try again"
                )
                return _finish(request, response, session)
        if operator is None and not public:
            response = RedirectResponse("/console/login", status_code=303)
            return _finish(request, response, session)
        try:
            response = await handler(request, ctx)
        except SwitchboardError as err:
            response = ctx.render(request, "error.html", STATUS.get(err.code, 500), message=err.message)
        return _finish(request, response, session)

    return endpoint


def _finish(request: Request, response: Response, session: dict[str, Any]) -> Response:
    if session.pop("new", False) or session.pop("changed", False):
        security.save_session(request, response, session)
    return response


def back(url: str) -> RedirectResponse:
    return RedirectResponse(url, status_code=303)


def field(ctx: Ctx, name: str, limit: int = 4000) -> str:
    value = ctx.form.get(name) if ctx.form is not None else None
    return value[:limit] if isinstance(value, str) else ""


# sign-in ------------------------------------------------------------------------------------


async def login_page(request: Request, ctx: Ctx) -> Response:
    if ctx.operator is not None:
        return back("/console/queue")
    from host.console.sso import sso_config

    return ctx.render(request, "login.html", sso=sso_config() is not None)


async def login(request: Request, ctx: Ctx) -> Response:
    try:
        operator = await authenticate(field(ctx, "username", 128), field(ctx, "password", 1024))
    except SwitchboardError as err:
        from host.console.sso import sso_config

        status = 403 if err.code == ErrorCode.FORBIDDEN else 400
        return ctx.render(request, "login.html", status, message=err.message, sso=sso_config() is not None)
    ctx.session.update(op=operator.id, changed=True)
    ctx.session["csrf"] = secrets.token_urlsafe(32)  # a new token after sign-in
    await audited(operator, "sign_in")
    return back("/console/queue")


def _callback_url(request: Request) -> str:
    return str(request.url.replace(path="/console/sso/callback", query=""))


async def sso_start(request: Request, ctx: Ctx) -> Response:
    from host.console import sso

    cfg = sso.sso_config()
    if cfg is None:
        raise forbidden("single sign-on is not configured: sign in with your password")
    url, pending = sso.start(cfg, await sso.discovery(cfg), _callback_url(request))
    ctx.session.update(sso=pending, changed=True)
    return back(url)


async def sso_callback(request: Request) -> Response:
    """The provider sends the browser here from its own site, so the SameSite=Strict session
    cookie does not come along (nor would it reach the page redirected to next). A same-origin
    page hands code and state on to ``/console/sso/finish``: that request carries the cookie."""
    from html import escape
    from urllib.parse import urlencode

    q = request.query_params
    target = escape("/console/sso/finish?" + urlencode({k: q[k] for k in ("code", "state") if k in q}))
    html = (
        f'<!doctype html><meta charset="utf-8"><meta http-equiv="refresh" content="0;url={target}">'
        f'<title>Switchboard</title><p><a href="{target}" id="sso-continue">Continue</a></p>'
    )
    return HTMLResponse(html, headers={"cache-control": "no-store"})


async def sso_finish(request: Request, ctx: Ctx) -> Response:
    from host.console import sso

    cfg = sso.sso_config()
    pending = ctx.session.pop("sso", None)
    ctx.session["changed"] = True
    q = request.query_params
    if cfg is None or not pending or not q.get("code") or q.get("state") != pending.get("state"):
        raise forbidden("this sign-in was not started here or has expired: start again")
    operator = await sso.finish(cfg, q["code"], _callback_url(request), pending)
    ctx.session.update(op=operator.id, csrf=secrets.token_urlsafe(32))
    await audited(operator, "sign_in", method="sso", issuer=cfg.issuer)
    return back("/console/queue")


async def logout(request: Request, ctx: Ctx) -> Response:
    await audited(ctx.me, "sign_out")
    ctx.session.update(op=None, changed=True)
    return back("/console/login")


# review queue -------------------------------------------------------------------------------


def _days(request: Request) -> dict[str, Any]:
    q = request.query_params
    return {"day_from": queue.parse_day(q.get("from"), "from"), "day_to": queue.parse_day(q.get("to"), "to")}


def _queue_filters(request: Request) -> dict[str, Any]:
    q = request.query_params
    kind = q.get("kind") if q.get("kind") in ("escalation", "approval") else None
    return {"view": q.get("view") or "open", "reason": (q.get("reason") or "")[:200], "kind": kind, **_days(request)}


async def queue_page(request: Request, ctx: Ctx) -> Response:
    filters = _queue_filters(request)
    items = await queue.list_items(ctx.me, **filters)
    return ctx.render(request, "queue.html", items=items, filters=filters, query=request.url.query)


async def queue_rows(request: Request, ctx: Ctx) -> Response:
    items = await queue.list_items(ctx.me, **_queue_filters(request))
    return ctx.render(request, "_queue_rows.html", items=items)


async def queue_stream(request: Request, ctx: Ctx) -> Response:
    org = ctx.me.org_id
    return _sse(request, lambda: queue.queue_digest(org))


def _sse(request: Request, digest: Callable[[], Awaitable[str]]) -> StreamingResponse:
    async def events() -> Any:
        last = None
        started = asyncio.get_running_loop().time()
        yield "retry: 1000\n\n"
        while asyncio.get_running_loop().time() - started < SSE_MAX_S:
            if await request.is_disconnected():
                return
            current = await digest()
            if current != last:
                last = current
                yield f"data: {json.dumps(current)}\n\n"
            await asyncio.sleep(SSE_POLL_S)

    headers = {"cache-control": "no-store", "x-accel-buffering": "no"}
    return StreamingResponse(events(), media_type="text/event-stream", headers=headers)


async def review_page(request: Request, ctx: Ctx) -> Response:
    item = await queue.get_item(ctx.me, request.path_params["review_id"])
    return ctx.render(request, "review.html", item=item, outcomes=queue.OUTCOMES)


async def review_action(request: Request, ctx: Ctx) -> Response:
    review_id, action = request.path_params["review_id"], request.path_params["action"]
    me = ctx.me
    if action == "claim":
        await queue.claim(me, review_id)
    elif action == "assign":
        await queue.assign(me, review_id, field(ctx, "username", 128))
    elif action == "note":
        await queue.add_note(me, review_id, field(ctx, "note"))
    elif action == "resolve":
        await queue.resolve(me, review_id, field(ctx, "outcome", 64), field(ctx, "note"))
    elif action in ("approve", "deny"):
        item = await queue.decide(me, review_id, approve=action == "approve", reason=field(ctx, "reason"))
        await takeover.continue_after_approval(item["session_id"], review_id)
    else:
        raise forbidden("unknown action")
    return back(f"/console/reviews/{review_id}")


# sessions -----------------------------------------------------------------------------------


def _session_filters(request: Request) -> dict[str, Any]:
    q = request.query_params
    customer, outcome = (q.get("customer") or "").strip(), (q.get("outcome") or "").strip()
    return {"customer": customer or None, "outcome": outcome or None, **_days(request)}


async def sessions_page(request: Request, ctx: Ctx) -> Response:
    filters = _session_filters(request)
    rows = await sessions.search(ctx.me, **filters)
    return ctx.render(request, "sessions.html", rows=rows, filters=filters, query=request.url.query)


async def sessions_csv(request: Request, ctx: Ctx) -> Response:
    rows = await sessions.search(ctx.me, **_session_filters(request), limit=10000)
    await audited(ctx.me, "export_sessions", rows=len(rows), query=request.url.query[:200])
    stamp = datetime.now(UTC).strftime("%Y%m%d-%H%M%S")
    return Response(
        sessions.to_csv(rows),
        media_type="text/csv; charset=utf-8",
        headers={"content-disposition": f'attachment; filename="sessions-{ctx.me.org_id}-{stamp}.csv"'},
    )


async def session_page(request: Request, ctx: Ctx) -> Response:
    data = await sessions.detail(ctx.me, request.path_params["session_id"])
    undelivered = request.query_params.get("undelivered") == "1"
    return ctx.render(request, "session.html", undelivered=undelivered, **data)


async def transcript(request: Request, ctx: Ctx) -> Response:
    data = await sessions.detail(ctx.me, request.path_params["session_id"])
    return ctx.render(request, "_transcript.html", **data)


async def transcript_stream(request: Request, ctx: Ctx) -> Response:
    session_id = request.path_params["session_id"]
    await takeover.org_session(ctx.me, session_id)
    return _sse(request, lambda: sessions.transcript_digest(session_id))


async def session_action(request: Request, ctx: Ctx) -> Response:
    session_id, action = request.path_params["session_id"], request.path_params["action"]
    if action == "takeover":
        await takeover.take_over(ctx.me, session_id)
    elif action == "handback":
        await takeover.hand_back(ctx.me, session_id)
    elif action == "reply":
        if not await takeover.reply(ctx.me, session_id, field(ctx, "text")):
            return back(f"/console/sessions/{session_id}?undelivered=1")
    else:
        raise forbidden("unknown action")
    return back(f"/console/sessions/{session_id}")


# audit --------------------------------------------------------------------------------------


async def audit_page(request: Request, ctx: Ctx) -> Response:
    from host.console.auditview import org_status

    status = await org_status(ctx.me.org_id, verify=request.query_params.get("verify") == "1")
    if status.get("verified") is not None:
        await audited(ctx.me, "audit_verify", ok=status["verified"])
    return ctx.render(request, "audit.html", audit=status)


async def audit_export(request: Request, ctx: Ctx) -> Response:
    from host.console.auditview import export_text

    body = await export_text(ctx.me.org_id)
    await audited(ctx.me, "audit_export")
    stamp = datetime.now(UTC).strftime("%Y%m%d-%H%M%S")
    return Response(
        body,
        media_type="application/x-ndjson",
        headers={"content-disposition": f'attachment; filename="audit-{ctx.me.org_id}-{stamp}.jsonl"'},
    )


# knowledge ----------------------------------------------------------------------------------


async def kb_list_page(request: Request, ctx: Ctx) -> Response:
    from host.console import knowledge

    return ctx.render(request, "kb_list.html", kbs=await knowledge.overview(ctx.me))


async def kb_page(request: Request, ctx: Ctx) -> Response:
    from host.console import knowledge

    return ctx.render(request, "kb.html", **await knowledge.detail(ctx.me, request.path_params["kb_id"]))


async def kb_action(request: Request, ctx: Ctx) -> Response:
    from host.console import knowledge

    kb_id, action = request.path_params["kb_id"], request.path_params["action"]
    if action in ("activate", "deactivate"):
        await knowledge.set_active(ctx.me, kb_id, action == "activate")
    elif action == "upload":
        await knowledge.upload(ctx.me, kb_id, ctx.form.getlist("files"))
    else:
        raise forbidden("unknown action")
    return back(f"/console/kb/{kb_id}")


async def home(request: Request, ctx: Ctx) -> Response:
    return back("/console/queue")


def console_app() -> Starlette:
    """The console as an ASGI app (mounted at ``/console``)."""
    routes = [
        Route("/", page(home)),
        Route("/login", page(login_page, public=True), methods=["GET"]),
        Route("/login", page(login, public=True), methods=["POST"]),
        Route("/logout", page(logout), methods=["POST"]),
        Route("/sso", page(sso_start, public=True)),
        Route("/sso/callback", sso_callback),  # no session: see sso_callback
        Route("/sso/finish", page(sso_finish, public=True)),
        Route("/queue", page(queue_page)),
        Route("/queue/rows", page(queue_rows)),
        Route("/queue/stream", page(queue_stream)),
        Route("/reviews/{review_id}", page(review_page)),
        Route("/reviews/{review_id}/{action}", page(review_action), methods=["POST"]),
        Route("/sessions", page(sessions_page)),
        Route("/sessions.csv", page(sessions_csv)),
        Route("/sessions/{session_id}", page(session_page)),
        Route("/sessions/{session_id}/transcript", page(transcript)),
        Route("/sessions/{session_id}/stream", page(transcript_stream)),
        Route("/sessions/{session_id}/{action}", page(session_action), methods=["POST"]),
        Route("/kb", page(kb_list_page)),
        Route("/kb/{kb_id}", page(kb_page)),
        Route("/kb/{kb_id}/{action}", page(kb_action), methods=["POST"]),
        Route("/audit", page(audit_page)),
        Route("/audit/export", page(audit_export)),
        Mount("/static", app=CachedStatic(directory=STATIC), name="static"),
    ]
    app = Starlette(routes=routes)
    app.add_middleware(security.SecurityHeaders)
    return app
