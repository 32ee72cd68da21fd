"""An existing REST API as the order backend (httpx): one endpoint per row set, fields by JSON path.

Each row set names a ``path`` (a URL template such as ``/orders/{order_id}``), optional ``query``
parameters, where its object or list sits in the JSON body (``at``, a dotted path; empty for the
body itself) and its ``fields`` (our column = the shop's dotted path). Row sets without a ``path``
(items, refunds, events) are read from the ``order`` response. A 404 is "no such order"; other
failures are UNAVAILABLE with what to check. ``request_refund`` sends the idempotency key in a
header (``Idempotency-Key`` by default) so the shop's API can deduplicate retries itself.
"""

from __future__ import annotations

import logging
import string
from typing import Any
from urllib.parse import quote

import httpx

from core.errors import conflict, unavailable
from core.pii import mask_text
from servers.order_server.backends.external import Cache, ExternalBackend
from servers.order_server.backends.mapping import (
    READ_SETS,
    SET_PARAMS,
    WRITE_SET,
    Mapping,
    check_fields,
    check_sets,
    expand_env,
    mapping_error,
)

log = logging.getLogger(__name__)

SET_KEYS = {"path", "method", "query", "at", "fields", "body"}
FROM_ORDER = ("items", "refunds", "events")  # may be read from the order response
_MISSING = object()


def dig(body: Any, path: str) -> Any:
    """``a.b.c`` inside nested objects; missing parts give None."""
    value = body
    for part in path.split(".") if path else ():
        if not isinstance(value, dict):
            return None
        value = value.get(part)
    return value


def placeholders(template: str) -> set[str]:
    return {name for _, name, _, _ in string.Formatter().parse(template) if name}


class Endpoint:
    """One row set's request and how to read its rows."""

    def __init__(self, mapping: Mapping, row_set: str, spec: Any) -> None:
        where = f"rest.{row_set}"
        if not isinstance(spec, dict):
            raise mapping_error(mapping.source, where, "must be a table: see docs/orders.md")
        unknown = set(spec) - SET_KEYS
        if unknown:
            raise mapping_error(mapping.source, where, f"unknown setting {', '.join(sorted(unknown))}")
        self.row_set = row_set
        self.path = spec.get("path")
        self.method = str(spec.get("method", "POST" if row_set == WRITE_SET else "GET")).upper()
        self.query = spec.get("query", {})
        self.body = spec.get("body", {})
        self.at = str(spec.get("at", ""))
        fields = spec.get("fields")
        if not isinstance(fields, dict) or not all(isinstance(v, str) for v in fields.values()):
            hint = 'map our columns to JSON paths: order_id = "orderNo"'
            raise mapping_error(mapping.source, f"{where}.fields", hint)
        self.fields: dict[str, str] = fields
        if self.path is None and row_set not in FROM_ORDER:
            raise mapping_error(mapping.source, f"{where}.path", "give the URL path, e.g. /orders/{order_id}")
        templates = [self.path or ""] + [str(v) for v in self.query.values()] + [str(v) for v in self.body.values()]
        allowed = SET_PARAMS[row_set]
        used = set().union(*(placeholders(t) for t in templates))
        if used - allowed:
            raise mapping_error(
                mapping.source,
                where,
                f"unknown placeholder {{{', '.join(sorted(used - allowed))}}}: use {', '.join(sorted(allowed))}",
            )
        if row_set != WRITE_SET:
            check_fields(mapping, f"{where}.fields", row_set, set(fields))
        else:
            check_fields(mapping, f"{where}.fields", "refund_by_key", set(fields) | {"order_id"})

    def url(self, params: dict[str, Any]) -> str:
        return (self.path or "").format(**{k: quote(str(v or ""), safe="") for k, v in params.items()})

    def fill(self, template: Any, params: dict[str, Any]) -> Any:
        """ "{amount_krw}" keeps the value's type; any other string is formatted as text."""
        if isinstance(template, str):
            names = placeholders(template)
            if len(names) == 1 and template == "{" + next(iter(names)) + "}":
                value = params.get(next(iter(names)))
                return value.isoformat() if hasattr(value, "isoformat") else value
            return template.format(**{k: "" if v is None else v for k, v in params.items()})
        return template

    def rows(self, body: Any) -> list[dict[str, Any]]:
        found = dig(body, self.at)
        items = found if isinstance(found, list) else [] if found is None else [found]
        return [{ours: dig(item, theirs) for ours, theirs in self.fields.items()} for item in items]


class RestBackend(ExternalBackend):
    name = "rest"

    def __init__(self, mapping: Mapping) -> None:
        section = mapping.raw
        base = section.get("base_url")
        if isinstance(base, str):
            base = expand_env(mapping.source, "rest.base_url", base)
        if not isinstance(base, str) or not base.startswith(("http://", "https://")):
            raise mapping_error(
                mapping.source, "rest.base_url", 'give the API root: base_url = "https://shop.example/api"'
            )
        sets = {k for k, v in section.items() if isinstance(v, dict) and k in (*READ_SETS, WRITE_SET)}
        unknown = set(section) - sets - {"base_url", "timeout_seconds", "headers", "idempotency_header"}
        if unknown:
            raise mapping_error(mapping.source, f"rest.{', rest.'.join(sorted(unknown))}", "unknown setting")
        check_sets(mapping, sets)
        super().__init__(mapping, sets)
        self.endpoints = {s: Endpoint(mapping, s, section[s]) for s in sets}
        headers = section.get("headers", {})
        if not isinstance(headers, dict):
            raise mapping_error(mapping.source, "rest.headers", 'write headers = { Authorization = "Bearer ${TOKEN}" }')
        self.headers = {k: expand_env(mapping.source, f"rest.headers.{k}", str(v)) for k, v in headers.items()}
        self.idempotency_header = str(section.get("idempotency_header", "Idempotency-Key"))
        timeout = section.get("timeout_seconds", 5)
        if not isinstance(timeout, int | float) or not 0 < timeout <= 60:
            raise mapping_error(mapping.source, "rest.timeout_seconds", "a number of seconds between 0 and 60")
        self.base_url = base.rstrip("/")
        self.timeout = float(timeout)
        self._client: httpx.AsyncClient | None = None

    @property
    def client(self) -> httpx.AsyncClient:
        if self._client is None:
            self._client = httpx.AsyncClient(
                base_url=self.base_url, headers=self.headers, timeout=self.timeout, follow_redirects=False
            )
        return self._client

    async def _send(self, endpoint: Endpoint, params: dict[str, Any], **extra: Any) -> httpx.Response | None:
        query = {k: endpoint.fill(v, params) for k, v in endpoint.query.items()}
        try:
            response = await self.client.request(endpoint.method, endpoint.url(params), params=query, **extra)
        except httpx.HTTPError as exc:
            reason = mask_text(f"{type(exc).__name__}: {exc}")  # URLs may carry a phone number
            log.warning("order backend %s %s failed: %s", endpoint.method, endpoint.row_set, reason)
            raise unavailable("the shop's order API is unreachable or slow: retry shortly") from exc
        if response.status_code == 404:
            return None
        if response.status_code in (401, 403):
            raise unavailable("the shop's order API refused Switchboard's credentials: check [rest].headers")
        if response.status_code >= 500 or response.status_code == 429:
            raise unavailable(f"the shop's order API answered {response.status_code}: retry shortly")
        return response

    def _json(self, endpoint: Endpoint, response: httpx.Response) -> Any:
        if response.status_code >= 400:
            raise unavailable(
                f"the shop's order API answered {response.status_code} to {endpoint.row_set}: check the mapping"
            )
        try:
            return response.json()
        except ValueError:
            raise unavailable(f"the shop's order API did not answer {endpoint.row_set} with JSON") from None

    async def fetch(self, row_set: str, params: dict[str, Any], cache: Cache) -> list[dict[str, Any]]:
        endpoint = self.endpoints[row_set]
        if endpoint.path is None:  # read from the order response of this call
            body = cache.get("order", _MISSING)
            if body is _MISSING:
                await self.fetch("order", params, cache)
                body = cache.get("order")
            return endpoint.rows(body)
        response = await self._send(endpoint, params)
        body = None if response is None else self._json(endpoint, response)
        cache[row_set] = body
        return endpoint.rows(body)

    async def write(self, params: dict[str, Any]) -> dict[str, Any] | None:
        endpoint = self.endpoints[WRITE_SET]
        payload = {k: endpoint.fill(v, params) for k, v in endpoint.body.items()}
        headers = {self.idempotency_header: params["idempotency_key"]}
        response = await self._send(endpoint, params, json=payload, headers=headers)
        if response is None:
            raise unavailable(f"the shop's order API does not know order {params['order_id']} for refunds")
        if response.status_code in (409, 422):
            raise conflict(
                f"the shop's order system refused the refund for order {params['order_id']}: "
                f"{mask_text(response.text[:200])}"
            )
        rows = endpoint.rows(self._json(endpoint, response))
        return rows[0] if rows and any(v is not None for v in rows[0].values()) else None

    async def close(self) -> None:
        if self._client is not None:
            await self._client.aclose()
            self._client = None
