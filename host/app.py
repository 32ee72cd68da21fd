"""The host's HTTP surface: the WebSocket conversation protocol and a few REST reads.

WebSocket ``/v1/ws`` (JSON messages). Client: ``session.start``, ``user.message``,
``confirmation.response``, ``session.end``. Server: ``session.started``, ``assistant.delta``,
``tool.started``, ``tool.completed``, ``confirmation.requested``, ``assistant.message``,
``escalated``, ``turn.completed``, ``session.ended``, ``error``; when a person takes over from
the operator console: ``operator.joined``, ``operator.message`` (``text``, ``operator``,
``turn_id``), ``operator.left`` (while they hold the session the bot does not answer: a
``user.message`` is recorded and acknowledged with ``turn.completed`` status ``held``). Every
server message carries ``session_id`` (null before a session starts) and ``seq`` (1, 2, 3… per connection).

REST: ``GET /v1/sessions/{id}`` (turns, events, review items, versions),
``GET /v1/customers/{ref}/sessions`` and ``GET /healthz``. The operator console is mounted at
``/console`` (host/console, docs/console.md).

The tenant comes from a bearer token (``switchboard tokens create --org X``) or, when the host
runs without ``--require-token``, from its ``--org``; never from a message.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from starlette.applications import Starlette
from starlette.requests import HTTPConnection, Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Mount, Route, WebSocketRoute
from starlette.websockets import WebSocket, WebSocketDisconnect

from core.clock import iso_utc
from core.context import customer_ref_problem, is_valid_identifier
from core.errors import ErrorCode, SwitchboardError, forbidden, invalid
from host.console.app import console_app
from host.console.live import LIVE
from host.console.takeover import hold_if_taken_over
from host.engine import Conversation
from host.limits import SERVICE_BUCKET
from host.runtime import HostRuntime
from host.telemetry import observability_routes
from host.worker import Worker

log = logging.getLogger("switchboard.host.app")

MAX_MESSAGE_BYTES = 64 * 1024
CLIENT_TYPES = ("session.start", "user.message", "confirmation.response", "session.end")


def _default(value: Any) -> Any:
    if isinstance(value, datetime):  # before date: a datetime is a date too
        return iso_utc(value)  # SQLite's naive UTC with its offset
    if isinstance(value, date):
        return value.isoformat()
    return str(value)


def dumps(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False, default=_default)


def json_response(value: Any, status: int = 200) -> Response:
    return Response(dumps(value), status_code=status, media_type="application/json")


def error_response(err: SwitchboardError) -> Response:
    status = {
        ErrorCode.INVALID_ARGUMENT: 400,
        ErrorCode.FORBIDDEN: 403,
        ErrorCode.NOT_FOUND: 404,
        ErrorCode.CONFLICT: 409,
        ErrorCode.UNAVAILABLE: 503,
    }.get(err.code, 500)
    return json_response({"error": {"code": err.code.value, "message": err.message}}, status)


@dataclass(frozen=True, slots=True)
class Caller:
    org_id: str | None  # None: a trusted service token naming the org per session
    trusted: bool
    customer_ref: str | None = None  # a token bound to one customer (`tokens create --customer`, OAuth)


async def authenticate(conn: HTTPConnection, *, default_org: str | None, require_token: bool) -> Caller:
    """The tenant of a request: its bearer token's, or the host's default org."""
    from host.oauth_api import principal_of

    if (principal := principal_of(conn)) is not None:  # an OAuth token, already checked
        return Caller(principal.org_id, False, principal.customer_ref)
    header = conn.headers.get("authorization", "")
    token = header[7:].strip() if header.lower().startswith("bearer ") else conn.query_params.get("token")
    if token:
        from servers.kit.tokens import verify_token

        identity = await verify_token(token)
        if identity is None:
            raise forbidden("the bearer token is unknown or revoked")
        return Caller(identity.org_id, identity.trusted, identity.customer_ref)  # a --customer token stays bound
    if require_token or not default_org:
        raise forbidden("send `Authorization: Bearer <token>` (create one with `switchboard tokens create --org X`)")
    return Caller(default_org, False)


class WsSession:
    """One WebSocket connection: at most one conversation at a time, messages handled in order."""

    def __init__(self, ws: WebSocket, runtime: HostRuntime, caller: Caller) -> None:
        self.ws = ws
        self.runtime = runtime
        self.caller = caller
        self.conv: Conversation | None = None
        self.session_id: str | None = None
        self.seq = 0
        self._send_lock = asyncio.Lock()
        self.gone = False
        self.worker: Worker | None = None  # admission across workers (host/worker.py)
        self.connection_id = str(uuid.uuid4())

    async def send(self, kind: str, payload: dict[str, Any]) -> None:
        """Send one server message; the engine's events name their session (before ``conv`` is set)."""
        async with self._send_lock:
            self.seq += 1
            if payload.get("session_id"):
                self.session_id = payload["session_id"]
            message = {"type": kind, "session_id": self.session_id, "seq": self.seq}
            message.update({k: v for k, v in payload.items() if k not in ("type", "session_id", "seq")})
            if self.gone:
                return
            try:
                await self.ws.send_text(dumps(message))
            except (WebSocketDisconnect, RuntimeError, OSError):
                # the client hung up mid-turn: one log line; the turn still completes and is recorded
                self.gone = True
                log.info("websocket client hung up mid-turn (session %s)", self.session_id or "-")

    async def error(self, code: str, message: str, **extra: Any) -> None:
        await self.send("error", {"code": code, "message": message, **extra})

    async def handle(self, raw: str) -> None:
        if len(raw.encode("utf-8")) > MAX_MESSAGE_BYTES:
            await self.error("INVALID_ARGUMENT", f"messages are limited to {MAX_MESSAGE_BYTES} bytes")
            return
        try:
            message = json.loads(raw)
        except ValueError:
            await self.error("INVALID_ARGUMENT", "messages are JSON objects with a `type`")
            return
        if not isinstance(message, dict) or message.get("type") not in CLIENT_TYPES:
            await self.error("INVALID_ARGUMENT", f"`type` must be one of {', '.join(CLIENT_TYPES)}")
            return
        handlers: dict[str, Callable[[dict[str, Any]], Awaitable[None]]] = {
            "session.start": self._start,
            "user.message": self._user_message,
            "confirmation.response": self._confirmation,
            "session.end": self._end,
        }
        try:
            if self.worker is not None:
                await self.worker.before(self, message)
            await handlers[message["type"]](message)
            if self.worker is not None:
                await self.worker.after(self, message)
        except SwitchboardError as err:
            await self.error(err.code.value, err.message, request=message["type"])
        except Exception as exc:
            log.exception("websocket message failed")
            await self.error("INTERNAL", f"internal error ({type(exc).__name__})", request=message["type"])

    async def _start(self, msg: dict[str, Any]) -> None:
        if self.conv is not None and not self.conv.ended:
            raise invalid("a session is already running on this connection: end it first")
        org = self.caller.org_id
        if org is None:
            org = _text(msg, "org", required=True)
            if not is_valid_identifier(org):
                raise invalid("org must be 1-128 letters, digits or ._:@- characters")
        customer = _text(msg, "customer_ref")
        if self.caller.customer_ref and customer not in (None, self.caller.customer_ref):
            raise forbidden("this token acts for one customer: customer_ref names another one")
        customer = customer or self.caller.customer_ref
        if customer is not None and (problem := customer_ref_problem(customer)):
            raise invalid(f"customer_ref {problem}")
        self.conv, self.session_id = None, None
        resume = _text(msg, "session_id")
        if resume:
            conv = await self.runtime.resume_session(resume, org_id=org, emit=self.send)
            self.conv = conv
            await self.send(
                "session.started",
                {
                    "session_id": conv.session_id,
                    "resumed": True,
                    "agent": conv.profile.ref,
                    "agent_version_id": conv.profile.agent_version_id,
                    "manifest_sha256": conv.profile.manifest_sha256,
                    "pending_confirmation": (conv.state.pending or {}).get("prompt"),
                },
            )
            return
        agent = _text(msg, "agent", required=True)
        self.conv = await self.runtime.start_session(
            org,
            agent,
            customer_ref=customer,
            channel=_text(msg, "channel") or "websocket",
            caller=_text(msg, "caller"),
            language=_language(msg),
            emit=self.send,
        )

    async def _user_message(self, msg: dict[str, Any]) -> None:
        conv = self._require()
        if await hold_if_taken_over(self, _text(msg, "text", required=True) or ""):
            return  # an operator holds the session: recorded for them, the bot stays quiet
        confidence = msg.get("asr_confidence")
        if confidence is not None and (isinstance(confidence, bool) or not isinstance(confidence, (int, float))):
            raise invalid("asr_confidence must be a number between 0 and 1")
        await conv.user_message(
            _text(msg, "text", required=True),
            asr_confidence=float(confidence) if confidence is not None else None,
            audio_url=_text(msg, "audio_url"),
            start_time=_text(msg, "start_time"),
            end_time=_text(msg, "end_time"),
        )

    async def _confirmation(self, msg: dict[str, Any]) -> None:
        conv = self._require()
        confirmed = msg.get("confirmed")
        if not isinstance(confirmed, bool):
            raise invalid("confirmation.response needs `confirmed`: true or false")
        if await hold_if_taken_over(self, f"[confirmation.response confirmed={str(confirmed).lower()}]"):
            return
        await conv.confirmation_response(confirmed, correction_text=_text(msg, "correction_text"))

    async def _end(self, msg: dict[str, Any]) -> None:
        conv = self._require()
        given = _text(msg, "outcome")
        if given is not None and self.caller.customer_ref:
            # a customer closing their chat does not mark it resolved (a walk ended an unanswered
            # session "해결" this way); a service token (a softphone, a person's console) may
            raise forbidden("a customer's token cannot set the session's outcome: send session.end without it")
        await conv.end(outcome=given)

    def _require(self) -> Conversation:
        if self.conv is None:
            raise invalid('start a session first: {"type": "session.start", "agent": "cs-agent"}')
        return self.conv


def _text(msg: dict[str, Any], key: str, *, required: bool = False, limit: int = 4000) -> str | None:
    value = msg.get(key)
    if value is None or value == "":
        if required:
            raise invalid(f"`{key}` is required")
        return None
    if not isinstance(value, str):
        raise invalid(f"`{key}` must be a string")
    if len(value) > limit:
        raise invalid(f"`{key}` is longer than {limit} characters")
    return value


def _language(msg: dict[str, Any]) -> str | None:
    value = _text(msg, "language")
    if value is not None and value not in ("ko", "en"):
        raise invalid("language must be ko or en")
    return value


def create_app(
    runtime: HostRuntime, *, default_org: str | None = None, require_token: bool = False, worker: Worker | None = None
) -> Starlette:
    """The ASGI app; ``runtime`` is closed on shutdown. ``worker``: one of several behind a balancer."""

    async def websocket(ws: WebSocket) -> None:
        try:
            caller = await authenticate(ws, default_org=default_org, require_token=require_token)
        except SwitchboardError as err:
            await ws.close(code=4403, reason=err.message[:120])
            return
        await ws.accept()
        session = WsSession(ws, runtime, caller)
        LIVE.attach(session)  # the operator console reaches live sessions through this
        session.worker, lease = worker, None
        try:
            if worker is not None:
                lease = await worker.open_connection(caller.org_id or SERVICE_BUCKET)
            while True:
                raw = await ws.receive_text()
                await session.handle(raw)
        except SwitchboardError as err:  # no connection slot, or no database: say why, then close
            await session.error(err.code.value, err.message)
            await ws.close(code=1013, reason=err.code.value)
        except WebSocketDisconnect:
            return
        except RuntimeError:  # the socket closed while sending
            return
        finally:
            LIVE.detach(session)
            if worker is not None:
                await worker.close_connection(lease)

    async def get_session(request: Request) -> Response:
        try:
            caller = await authenticate(request, default_org=default_org, require_token=require_token)
            detail = await runtime.store.session_detail(request.path_params["session_id"])
            if caller.org_id is not None and detail["session"]["org_id"] != caller.org_id:
                raise forbidden("that session belongs to another tenant")
            if caller.customer_ref and detail["session"].get("customer_ref") != caller.customer_ref:
                raise forbidden("that session belongs to another customer")
        except SwitchboardError as err:
            return error_response(err)
        return json_response(_session_view(detail))

    async def customer_sessions(request: Request) -> Response:
        try:
            caller = await authenticate(request, default_org=default_org, require_token=require_token)
            org = caller.org_id or request.query_params.get("org")
            if not org:
                raise invalid("a service token must name the tenant: ?org=<org>")
            ref = request.path_params["customer_ref"]
            if caller.customer_ref and ref != caller.customer_ref:
                raise forbidden("this token acts for one customer: ask for that customer's sessions")
            if not is_valid_identifier(ref):
                raise invalid("customer_ref must be 1-128 letters, digits or ._:@- characters")
            rows = await runtime.store.customer_sessions(org, ref)
        except SwitchboardError as err:
            return error_response(err)
        return json_response({"customer_ref": ref, "sessions": [_session_summary(r) for r in rows]})

    async def healthz(request: Request) -> Response:
        from sqlalchemy import text

        from core.db import get_engine

        if worker is not None:  # its heartbeat is the probe: a balancer polling here costs no query
            database = worker.health()["database"]
        else:
            try:
                engine = await get_engine()
                async with engine.connect() as conn:
                    await conn.execute(text("SELECT 1"))
                database = "ok"
            except Exception as exc:
                database = f"error: {type(exc).__name__}"
        ready = warming is None or warming.done()
        ok = database == "ok" and ready
        status = "ok" if ok else ("starting" if database == "ok" else "degraded")
        body = {"status": status, "ready": ready, "database": database, "agents": runtime.status()}
        if worker is not None:
            body["worker"] = worker.health()
        return JSONResponse(json.loads(dumps(body)), status_code=200 if ok else 503)

    warming: asyncio.Task[Any] | None = None

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        nonlocal warming
        from servers.retrieval import kiwi_process

        # the KB tokenizer (host/answer.py) in a helper process: kiwi loading in this one would
        # hold the interpreter, and so every connection's event loop, for a second or more
        helper = None if kiwi_process.current() else kiwi_process.start(serving=True)
        if worker is not None:
            await worker.start()
        from host.warmup import warm_analysers, warm_org

        # connect and warm the pinned servers now, not at the first session; the analysers always
        warming = asyncio.create_task(warm_org(runtime, default_org) if default_org else warm_analysers())
        try:
            yield
        finally:
            if warming is not None:
                warming.cancel()
            if helper is not None:
                kiwi_process.stop()
            if worker is not None:
                await worker.stop()
            await runtime.close()

    return Starlette(
        routes=[
            WebSocketRoute("/v1/ws", websocket),
            Route("/v1/sessions/{session_id}", get_session),
            Route("/v1/customers/{customer_ref}/sessions", customer_sessions),
            Route("/healthz", healthz),
            Mount("/console", app=console_app()),
            *observability_routes(),  # GET /metrics when SWITCHBOARD_METRICS=1 (host/telemetry.py)
        ],
        lifespan=lifespan,
    )


def _session_summary(row: dict[str, Any]) -> dict[str, Any]:
    keys = (
        "id",
        "created_at",
        "ended_at",
        "status",
        "channel",
        "outcome",
        "is_escalated",
        "escalation_reason",
        "summary_text",
        "agent_id",
        "agent_version_id",
        "manifest_sha256",
    )
    return {k: row.get(k) for k in keys}


def _session_view(detail: dict[str, Any]) -> dict[str, Any]:
    session = dict(detail["session"])
    session.pop("state", None)
    tool_calls = [
        {k: e["payload"].get(k) for k in ("call_id", "exposed_name", "server_version", "definition_sha256", "ok")}
        for e in detail["events"]
        if e["event_type"] == "TOOL_CALLED" and isinstance(e["payload"], dict)
    ]
    servers = sorted({f"{c['exposed_name']}@{c['server_version']}" for c in tool_calls if c.get("server_version")})
    return {
        "session": session,
        "versions": {
            "agent_version_id": session["agent_version_id"],
            "manifest_sha256": session["manifest_sha256"],
            "agent": session.get("agent_id"),
            "tools_called": servers,
        },
        "turns": detail["turns"],
        "events": detail["events"],
        "reviews": detail["reviews"],
        "tool_calls": tool_calls,
    }
