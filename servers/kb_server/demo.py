"""The demo knowledge base: a small Korean call-center KB (refunds, shipping, membership, mobile plans).

The documents live in ``demo_docs/`` (Markdown, Korean). Their policies agree with the demo order
data (servers/order_server/seed.py): card refunds take 3 business days, bank transfers and virtual
accounts 2, easy-pay 1; the refund window is 7 days after delivery; shipping is free from 50,000원,
otherwise 3,000원. :func:`load_demo` is idempotent: re-running it creates no new version.
"""

from __future__ import annotations

from pathlib import Path

from core.errors import ErrorCode, SwitchboardError
from servers.kb_server.store import UploadItem, UploadResult, create_kb, upload

DEMO_DIR = Path(__file__).with_name("demo_docs")
DEMO_NAME = "고객센터"
DEMO_DESCRIPTION = "한빛마켓·한빛모바일 고객센터 안내: 환불·교환, 배송, 멤버십, 모바일 요금제"


def demo_files() -> list[Path]:
    """The bundled demo documents, in a stable order."""
    return sorted(DEMO_DIR.glob("*.md"))


async def load_demo(org_id: str, *, name: str = DEMO_NAME) -> UploadResult:
    """Create the demo KB for ``org_id`` if needed and upload the demo documents (one version)."""
    try:
        await create_kb(org_id, name, DEMO_DESCRIPTION)
    except SwitchboardError as err:
        if err.code is not ErrorCode.CONFLICT:
            raise
    from servers.kb_server.indexes import version_index

    items = [UploadItem(p.name, p.read_bytes(), source=f"demo/{p.name}") for p in demo_files()]
    result = await upload(org_id, name, items)
    await version_index(org_id, result.kb_id, result.version)  # keyword search ready at once
    return result


async def embed_demo(org_id: str, *, name: str = DEMO_NAME) -> int:
    """Embed the demo KB's passages now (the demo's first search then has nothing to wait for)."""
    from servers.kb_server.store import get_kb
    from servers.kb_server.vectors import embed_all, embed_lock

    kb_id = (await get_kb(org_id, name))["id"]
    with embed_lock(blocking=True):
        return await embed_all(org_id=org_id, kb_id=kb_id)
