"""What code a stdio launch command runs, recorded at publish and checked before every spawn.

A server version is immutable, but its launch spec is only a command line: edit ``server.py`` in
place, or upgrade the package behind ``mcp-server-x``, and the pinned version would start new code.
So publish records a *code fingerprint* beside the launch spec and the host compares it before it
spawns the server:

- ``{"kind": "package", "distribution": "mcp-server-x", "version": "1.0.0"}`` when the command is a
  Python console script (``switchboard serve orders``, ``.venv/bin/mcp-server-x``) or
  ``python -m module``: the distribution that provides it, looked up in the environment the command
  runs in (the venv whose ``bin/`` holds it), by ``importlib.metadata``;
- ``{"kind": "script", "path": "/abs/server.py", "sha256": "…"}`` when an argument (or the command
  itself) is a file: the first existing file, resolved against the launch's ``cwd``.

Anything else (``npx …``, a binary on PATH that no Python distribution provides) records nothing,
and publish says so: Switchboard cannot tell what such a command runs. Only the entry file is
hashed, not the modules it imports; a package is identified by its version, so an editable install
changed in place goes unnoticed. docs/registry.md shows how to keep versions side by side.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import sys
from collections.abc import Iterable, Mapping
from importlib import metadata
from pathlib import Path
from typing import Any

INTERPRETERS = ("python", "python3", "pypy", "pypy3", "node", "bun", "deno")
MAX_HASHED_BYTES = 64 * 1024 * 1024


def _search_path() -> str:
    """The PATH a spawned server gets (host/connections.server_env): this interpreter's bin first."""
    return os.pathsep.join([os.path.dirname(sys.executable), os.environ.get("PATH", "/usr/bin:/bin")])


def _which(command: str, cwd: str | None) -> Path | None:
    if os.sep in command:
        path = Path(command)
        path = path if path.is_absolute() else Path(cwd or ".") / path
        return path if path.is_file() else None
    found = shutil.which(command, path=_search_path())
    return Path(found) if found else None


def _site_packages(executable: Path) -> list[str] | None:
    """The site-packages of the environment whose ``bin/`` holds ``executable`` (None: this one)."""
    env = executable.absolute().parent.parent
    if Path(sys.prefix).resolve() == env.resolve():
        return None
    found = sorted(str(p) for p in env.glob("lib/python3*/site-packages") if p.is_dir())
    return found or None


def _distributions(paths: list[str] | None) -> Iterable[metadata.Distribution]:
    return metadata.distributions(path=paths) if paths else metadata.distributions()


def _package(dist: metadata.Distribution) -> dict[str, Any]:
    return {"kind": "package", "distribution": dist.metadata["Name"], "version": dist.version}


def _console_script(name: str, paths: list[str] | None) -> dict[str, Any] | None:
    for dist in _distributions(paths):
        if any(ep.group == "console_scripts" and ep.name == name for ep in dist.entry_points):
            return _package(dist)
    return None


def _module_owner(module: str, paths: list[str] | None) -> dict[str, Any] | None:
    top = module.split(".", 1)[0]
    for dist in _distributions(paths):
        tops = (dist.read_text("top_level.txt") or "").split()
        files = [str(f) for f in dist.files or ()]
        if top in tops or f"{top}/__init__.py" in files or f"{top}.py" in files:
            return _package(dist)
    return None


def sha256_file(path: Path) -> str | None:
    """The file's sha256, or None when it cannot be read (gone, a directory, too large)."""
    try:
        if path.stat().st_size > MAX_HASHED_BYTES:
            return None
        return hashlib.sha256(path.read_bytes()).hexdigest()
    except OSError:
        return None


def _script(path: Path) -> dict[str, Any] | None:
    digest = sha256_file(path)
    return {"kind": "script", "path": str(path.resolve()), "sha256": digest} if digest else None


def fingerprint(launch: Mapping[str, Any]) -> dict[str, Any] | None:
    """What the stdio launch runs now; None for HTTP servers and commands Switchboard cannot identify."""
    if launch.get("transport") != "stdio" or not launch.get("command"):
        return None
    command, args, cwd = str(launch["command"]), [str(a) for a in launch.get("args") or ()], launch.get("cwd")
    executable = _which(command, cwd)
    paths = _site_packages(executable) if executable else None
    if Path(command).name.startswith(INTERPRETERS):
        if len(args) >= 2 and args[0] == "-m":
            return _module_owner(args[1], paths)
        for arg in args:
            if arg.startswith("-"):
                continue
            path = Path(arg) if Path(arg).is_absolute() else Path(cwd or ".") / arg
            return _script(path) if path.is_file() else None
        return None
    package = _console_script(Path(command).name, paths)
    if package:
        return package
    # a program named by its path is the server itself; one found on PATH (npx, uvx, docker) only starts it
    return _script(executable) if executable and os.sep in command else None


def describe(code: Mapping[str, Any] | None) -> str:
    """One line for people."""
    if not code:
        return "not recorded (Switchboard cannot tell what this command runs)"
    if code.get("kind") == "package":
        return f"package {code['distribution']} {code['version']}"
    return f"script {code['path']} sha256 {str(code['sha256'])[:12]}…"


def code_change(launch: Mapping[str, Any]) -> str | None:
    """Why the code the launch runs differs from what publish recorded; None when it is the same."""
    recorded = launch.get("code")
    if not recorded:
        return None
    now = fingerprint(launch)
    if recorded.get("kind") == "package":
        if now and now.get("kind") == "package" and now["distribution"] == recorded["distribution"]:
            if now["version"] == recorded["version"]:
                return None
            return f"{recorded['distribution']} {recorded['version']} was published, {now['version']} is installed now"
        return f"{recorded['distribution']} {recorded['version']} was published, and it is not installed now"
    if now and now.get("path") == recorded.get("path") and now.get("sha256") == recorded.get("sha256"):
        return None
    path = recorded.get("path")
    if not Path(str(path)).is_file():
        return f"{path} was published, and it is gone now"
    return (
        f"{path} changed since publish (sha256 {str(recorded.get('sha256'))[:12]}… then, "
        f"{str((now or {}).get('sha256') or sha256_file(Path(str(path))))[:12]}… now)"
    )


def code_changed_message(name: str, version: str, change: str) -> str:
    """The host's refusal, with the two ways out."""
    return (
        f"{name}@{version} is not started: {change}. A published version runs only the code it was reviewed "
        f"with. Restore that code (keep each version in its own directory or installed package: see "
        f"docs/registry.md, 'Keeping versions side by side'), or publish the new code as a new version and "
        f"move the agent to it: `switchboard registry agent draft AGENT --from AGENT@N --server {name}@NEW`"
    )


async def changed_versions(name: str) -> list[tuple[str, str]]:
    """(version, what changed) for every version of ``name`` whose code differs from its publish.

    ``registry publish`` lists them after publishing, so editing a file in place and publishing it
    again shows at once which older versions the host will now refuse.
    """
    from sqlalchemy import select

    from core.db import get_engine
    from registry.tables import mcp_server, mcp_server_version

    engine = await get_engine()
    async with engine.connect() as conn:
        rows = (
            await conn.execute(
                select(mcp_server_version.c.version, mcp_server_version.c.launch_spec)
                .join(mcp_server, mcp_server.c.id == mcp_server_version.c.server_id)
                .where(mcp_server.c.name == name)
            )
        ).all()
    changed = [(version, code_change(launch or {})) for version, launch in rows]
    return sorted((v, c) for v, c in changed if c)
