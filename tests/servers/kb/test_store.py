"""KBs, documents and versions: no-op re-uploads, immutable versions, pins, bad input changes nothing."""

from __future__ import annotations

import pytest
from sqlalchemy import func, select

from core.db import get_engine
from core.errors import SwitchboardError
from servers.kb_server import store
from servers.kb_server.models import kb_chunk, kb_document, kb_version
from servers.kb_server.search import search
from tests.servers.kb.files import make_pdf

REFUND_V1 = "# 환불 정책\n\n환불은 카드 결제 기준 3영업일이 걸립니다.\n".encode()
REFUND_V2 = "# 환불 정책\n\n환불은 카드 결제 기준 5영업일이 걸립니다.\n".encode()
SHIPPING = "# 배송 안내\n\n배송은 결제 후 1~2일 안에 출고됩니다. 제주는 추가 배송비 3,000원.\n".encode()


async def _counts() -> tuple[int, int, int]:
    engine = await get_engine()
    async with engine.connect() as conn:
        return tuple(  # type: ignore[return-value]
            [
                (await conn.execute(select(func.count()).select_from(t))).scalar_one()
                for t in (kb_version, kb_document, kb_chunk)
            ]
        )


async def test_versions_dedup_update_delete_and_pins(database_url: str) -> None:
    kb = await store.create_kb("acme", "정책", "환불·배송")
    assert kb["current_version"] == 0 and kb["is_active"]
    first = await store.upload("acme", "정책", [store.UploadItem("refund.md", REFUND_V1)])
    assert (first.version, first.new_version, first.documents[0].status) == (1, True, "created")

    same = await store.upload("acme", "정책", [store.UploadItem("refund.md", REFUND_V1)])
    assert (same.version, same.new_version, same.documents[0].status) == (1, False, "unchanged")
    renamed = await store.upload("acme", kb["id"], [store.UploadItem("copy.md", REFUND_V1)])
    assert not renamed.new_version and renamed.documents[0].same_as == "refund"
    assert await _counts() == (1, 1, 1)

    second = await store.upload(
        "acme", "정책", [store.UploadItem("refund.md", REFUND_V2), store.UploadItem("ship.md", SHIPPING)]
    )
    assert second.version == 2 and [d.status for d in second.documents] == ["updated", "created"]
    third = await store.delete_document("acme", "정책", "ship")
    assert third.version == 3
    with pytest.raises(SwitchboardError) as err:
        await store.delete_document("acme", "정책", "ship")
    assert err.value.code.value == "NOT_FOUND"

    versions = await store.list_versions("acme", "정책")
    assert [(v["version"], v["change"], v["n_documents"]) for v in versions] == [
        (3, "delete", 1),
        (2, "batch", 2),
        (1, "upload", 1),
    ]
    assert len({v["content_sha256"] for v in versions}) == 3

    current = await search("acme", "환불 며칠 걸려요")
    assert "5영업일" in current[0]["text"] and current[0]["version"] == 3
    pinned = await search("acme", "환불 며칠 걸려요", pins={kb["id"]: 1})
    assert "3영업일" in pinned[0]["text"] and pinned[0]["version"] == 1
    assert (await search("acme", "제주 배송비", pins={kb["id"]: 2}))[0]["doc_id"] == "ship"
    assert all(h["doc_id"] != "ship" for h in await search("acme", "제주 배송비"))
    with pytest.raises(SwitchboardError):
        await search("acme", "환불", pins={kb["id"]: 9})

    reverted = await store.upload("acme", "정책", [store.UploadItem("refund.md", REFUND_V1)])
    assert reverted.version == 4 and reverted.documents[0].status == "updated"
    assert await _counts() == (4, 3, 3)  # the v1 revision is reused, not stored twice


async def test_inactive_kb_is_never_searched(database_url: str) -> None:
    kb = await store.create_kb("acme", "초안")
    await store.upload("acme", "초안", [store.UploadItem("refund.md", REFUND_V1)])
    assert await search("acme", "환불")
    await store.set_active("acme", "초안", False)
    assert await search("acme", "환불") == []
    assert await search("acme", "환불", pins={kb["id"]: 1}) == []
    with pytest.raises(SwitchboardError) as err:
        await search("acme", "환불", kb_refs=["초안"])
    assert "inactive" in err.value.message
    assert [k["is_active"] for k in await store.list_kbs("acme")] == [False]
    assert await store.list_kbs("acme", active_only=True) == []
    await store.set_active("acme", kb["id"], True)
    assert await search("acme", "환불", kb_refs=[kb["id"]])


async def test_bad_file_in_a_batch_changes_nothing(database_url: str) -> None:
    await store.create_kb("acme", "정책")
    await store.upload("acme", "정책", [store.UploadItem("refund.md", REFUND_V1)])
    before = await _counts()
    bad_batches = [
        [store.UploadItem("ship.md", SHIPPING), store.UploadItem("locked.pdf", make_pdf(["x"], password="pw"))],
        [store.UploadItem("ship.md", SHIPPING), store.UploadItem("cut.pdf", make_pdf(["x"])[:200])],
        [store.UploadItem("empty.txt", b"")],
        [store.UploadItem("tool.exe", b"MZ")],
        [store.UploadItem("ship.md", SHIPPING, doc_id="bad id!")],
        [store.UploadItem("a.md", SHIPPING, doc_id="same"), store.UploadItem("b.md", REFUND_V2, doc_id="same")],
        [],
    ]
    for batch in bad_batches:
        with pytest.raises(SwitchboardError) as err:
            await store.upload("acme", "정책", batch)
        assert err.value.code.value == "INVALID_ARGUMENT"
    assert await _counts() == before
    assert (await store.get_kb("acme", "정책"))["current_version"] == 1


async def test_names_and_lookups(database_url: str) -> None:
    await store.create_kb("acme", "정책")
    for bad in ["", " ", "x" * 201, "kb_reserved", "tab\tname"]:
        with pytest.raises(SwitchboardError):
            await store.create_kb("acme", bad)
    with pytest.raises(SwitchboardError) as err:
        await store.create_kb("acme", "정책")
    assert err.value.code.value == "CONFLICT"
    with pytest.raises(SwitchboardError) as err:
        await store.upload("acme", "없음", [store.UploadItem("refund.md", REFUND_V1)])
    assert err.value.code.value == "NOT_FOUND"
    with pytest.raises(SwitchboardError):
        await store.create_kb("bad org!", "x")


async def test_pdf_citations_carry_page_numbers(database_url: str) -> None:
    await store.create_kb("acme", "manuals")
    pdf = make_pdf(["Warranty\nThe battery warranty is six months.", "Repairs are free within one year."])
    await store.upload("acme", "manuals", [store.UploadItem("warranty.pdf", pdf)])
    hits = await search("acme", "battery warranty months")
    assert hits[0]["page"] == 1 and hits[0]["doc_id"] == "warranty"
    assert (await search("acme", "repairs free year"))[0]["page"] == 2


@pytest.mark.parametrize(
    ("query", "error"),
    [
        ("", "empty"),
        ("   \n\t ", "empty"),
        ("\x00\x01\x02\x7f", "empty"),
        ("환" * 10_000, "too long"),
        (None, "string"),
        ("환불\ud800", "invalid Unicode"),
    ],
)
async def test_hostile_queries_are_errors(database_url: str, query: object, error: str) -> None:
    await store.create_kb("acme", "정책")
    await store.upload("acme", "정책", [store.UploadItem("refund.md", REFUND_V1)])
    with pytest.raises(SwitchboardError) as err:
        await search("acme", query)
    assert err.value.code.value == "INVALID_ARGUMENT" and error in err.value.message


@pytest.mark.parametrize(
    "query", ["?!.,;:", "😀😀😀", "...환불...", "' OR 1=1 --", "<script>alert(1)</script>", "a\x00b"]
)
async def test_odd_queries_never_crash(database_url: str, query: str) -> None:
    await store.create_kb("acme", "정책")
    await store.upload("acme", "정책", [store.UploadItem("refund.md", REFUND_V1)])
    hits = await search("acme", query)
    assert isinstance(hits, list)
    if not any(ch.isalnum() for ch in query):
        assert hits == []
    for top_k in (0, 51, True):
        with pytest.raises(SwitchboardError):
            await search("acme", "환불", top_k=top_k)
