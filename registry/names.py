"""Names and references the registry accepts: server names, agent slugs, ``name@version``."""

from __future__ import annotations

import re

from core.context import is_valid_identifier
from core.errors import invalid
from registry.semver import is_semver

SERVER_NAME = re.compile(r"^[a-z][a-z0-9-]{0,31}\Z")
AGENT_SLUG = re.compile(r"^[a-z0-9][a-z0-9-]{0,63}\Z")
# Anthropic and OpenAI both accept tool names of this shape (OpenAI caps them at 64).
EXPOSED_NAME = re.compile(r"^[A-Za-z0-9_-]{1,64}\Z")
EXPOSED_SEPARATOR = "__"


def check_server_name(name: str) -> str:
    if not SERVER_NAME.match(name):
        raise invalid(
            f"server name {name!r} is not valid: use 1-32 lowercase letters, digits or hyphens, starting with a letter"
        )
    return name


def check_version(version: str) -> str:
    if not is_semver(version):
        raise invalid(
            f"version {version!r} is not an exact semver version: use e.g. 1.2.0 (no ranges, 'latest' or ^1.2)"
        )
    return version


def check_slug(slug: str) -> str:
    if not AGENT_SLUG.match(slug):
        raise invalid(f"agent slug {slug!r} is not valid: use 1-64 lowercase letters, digits or hyphens")
    return slug


def check_org(org_id: str) -> str:
    if not org_id or not is_valid_identifier(org_id):
        raise invalid("org must be 1-128 letters, digits or ._:@- characters, starting with a letter or digit")
    return org_id


def check_actor(actor: str) -> str:
    actor = (actor or "").strip()
    if not actor or len(actor) > 200 or not actor.isprintable():
        raise invalid("who is acting must be given (--by): 1-200 printable characters")
    return actor


def check_reason(reason: str) -> str:
    reason = (reason or "").strip()
    if not reason:
        raise invalid("a reason is required (--reason): say why, it is kept in the status history")
    if len(reason) > 2000:
        raise invalid("the reason is longer than 2000 characters")
    from core.pii import mask_text

    return mask_text(reason)  # kept in the status history and the audit log: personal data masked


def parse_server_ref(ref: str) -> tuple[str, str]:
    """``orders@1.2.0`` → (``orders``, ``1.2.0``)."""
    name, sep, version = ref.partition("@")
    if not sep:
        raise invalid(f"{ref!r} is not a server version reference: write <name>@<version>, e.g. orders@1.2.0")
    return check_server_name(name), check_version(version)


def parse_agent_ref(ref: str) -> tuple[str, int | None]:
    """``cs-agent@3`` → (``cs-agent``, 3); ``cs-agent`` → (``cs-agent``, None)."""
    slug, sep, number = ref.partition("@")
    check_slug(slug)
    if not sep:
        return slug, None
    if not number.isdigit() or int(number) < 1:
        raise invalid(f"{ref!r}: an agent version is a positive integer, e.g. {slug}@3")
    return slug, int(number)


def exposed_name(server_name: str, tool_name: str) -> str:
    """The name the model sees: ``<server>__<tool>``, e.g. ``orders__get_order``."""
    return f"{server_name}{EXPOSED_SEPARATOR}{tool_name}"
