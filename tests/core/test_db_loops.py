"""The shared engine's first-use migration works from any event loop, also when callers contend."""

from __future__ import annotations

import asyncio
from pathlib import Path


def test_concurrent_first_use_on_a_second_event_loop(tmp_path: Path) -> None:
    """A module-level asyncio.Lock bound to the first loop made every waiting caller on a later loop
    fail ("bound to a different event loop"): 11 of 12 concurrent first turns of a test on PostgreSQL."""
    from core.db import dispose_engines, get_engine

    async def first_use(url: str) -> list[object]:
        try:
            return await asyncio.gather(*(get_engine(url) for _ in range(6)), return_exceptions=True)
        finally:
            await dispose_engines()

    for n in range(2):  # two loops, each with a fresh database and contending callers
        results = asyncio.run(first_use(f"sqlite+aiosqlite:///{tmp_path / f'db{n}.sqlite'}"))
        assert [r for r in results if isinstance(r, BaseException)] == []
