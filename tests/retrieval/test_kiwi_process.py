"""The kiwi helper process: the same answers as in process, and never a dependency."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from servers.retrieval import kiwi_process, korean

ROOT = Path(__file__).resolve().parents[2]
TEXTS = [
    "환불은 언제 완료되나요?",
    "어떻게 되는 건데요 환불은 아직 하지 마세요",  # ASR without punctuation
    "비번 변경은 어디서 해요",  # user-dictionary slang
    "iPhone-15 refunds and policies for Galaxy S24",
    "연락 가능한 시간은 오후 5시 이후예요. 감사합니다! 다음에 봬요",
    "",
    "   ",
    "?!…",
    "제어\x00문자\u200b가 섞인 글",
    "가" * 3000,  # one long run without spaces
    "주문 8841 배송 조회 010-1234-5678",
    "환불\ud800요 lone\udfffsurrogate",  # valid JSON-RPC can carry these
]


@pytest.fixture(autouse=True)
def _always(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SWITCHBOARD_KIWI_PROCESS", "1")  # whatever the machine's load


@pytest.fixture
def helper() -> object:
    kiwi_process.stop()
    started = kiwi_process.start()
    assert started is not None
    yield started
    kiwi_process.stop()


def _all_answers() -> tuple[object, ...]:
    return (
        [korean.tokenize(t) for t in TEXTS],
        korean.tokenize_many(TEXTS),
        [korean.split_sentences(t) for t in TEXTS],
        korean.backend(),
    )


def test_the_helper_answers_exactly_as_in_process(helper: kiwi_process.KiwiProcess) -> None:
    by_helper = _all_answers()
    assert kiwi_process.current() is helper, "the helper answered every call"
    kiwi_process.stop()
    assert by_helper == _all_answers()
    assert by_helper[0][0] == ["환불", "언제", "완료"]


def test_a_dead_helper_falls_back_to_kiwi_in_process(helper: kiwi_process.KiwiProcess) -> None:
    assert korean.tokenize(TEXTS[0]) == ["환불", "언제", "완료"]
    os.kill(helper.pid, signal.SIGKILL)
    assert korean.tokenize(TEXTS[0]) == ["환불", "언제", "완료"]  # answered in process
    assert kiwi_process.current() is None
    assert korean.tokenize_many(TEXTS[:2])[0] == ["환불", "언제", "완료"]


def test_a_helper_answering_garbage_is_stopped_and_never_trusted() -> None:
    junk = [sys.executable, "-c", "import sys\nfor _ in sys.stdin: print('{\"ok\": 5', flush=True)"]
    broken = kiwi_process.KiwiProcess(junk)
    with pytest.raises(kiwi_process.HelperGone):
        broken.call("tokenize", "환불")
    assert not broken.alive
    refusing = kiwi_process.KiwiProcess(
        [sys.executable, "-c", "import sys\nfor _ in sys.stdin: print('{}', flush=True)"]
    )
    with pytest.raises(kiwi_process.HelperGone):
        refusing.call("tokenize", "환불")
    refusing.close()


def test_a_request_the_helper_does_not_know_is_refused_not_fatal(helper: kiwi_process.KiwiProcess) -> None:
    with pytest.raises(kiwi_process.HelperGone, match="refused"):
        helper.call("format_disk", "/")
    assert helper.call("tokenize", "환불") == ["환불"]


def test_only_the_search_servers_start_a_helper(monkeypatch: pytest.MonkeyPatch) -> None:
    kiwi_process.stop()
    assert kiwi_process.start_for(["serve", "orders", "--org", "demo"]) is None
    assert kiwi_process.start_for(["serve", "kb", "--help"]) is None
    assert kiwi_process.start_for(["kb", "search", "환불"]) is None
    monkeypatch.setenv("SWITCHBOARD_KIWI_PROCESS", "0")
    assert kiwi_process.start_for(["serve", "kb", "--org", "demo"]) is None
    monkeypatch.setenv("SWITCHBOARD_KIWI_PROCESS", "1")
    try:
        assert kiwi_process.start_for(["serve", "memory", "--org", "demo"]) is not None
    finally:
        kiwi_process.stop()


def _children(pid: int) -> list[int]:
    out = []
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                fields = Path(f"/proc/{entry}/stat").read_text().rsplit(")", 1)[1].split()
            except OSError:
                continue
            if int(fields[1]) == pid:
                out.append(int(entry))
    return out


def _gone(pid: int, within: float = 15.0) -> bool:
    deadline = time.monotonic() + within
    while time.monotonic() < deadline:
        try:
            state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
        except OSError:
            return True
        if state == "Z":
            return True
        time.sleep(0.05)
    return False


def _helper_of(parent: int) -> int:
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        for child in _children(parent):
            if "servers.retrieval.korean" in Path(f"/proc/{child}/cmdline").read_text(errors="replace"):
                return child
        time.sleep(0.05)
    raise AssertionError("no kiwi helper was started")


def test_the_helper_dies_with_a_parent_killed_with_sigkill() -> None:
    code = "from servers.retrieval import kiwi_process\nimport time\nkiwi_process.start()\ntime.sleep(60)\n"
    parent = subprocess.Popen(
        [sys.executable, "-c", code], cwd=ROOT, env={**os.environ, "SWITCHBOARD_KIWI_PROCESS": "1"}
    )
    try:
        child = _helper_of(parent.pid)
    finally:
        parent.kill()
        parent.wait()
    assert _gone(child), "the kiwi helper outlived its parent"


def test_serve_memory_tokenises_in_a_helper_and_leaves_none_behind(sb_env: dict[str, str]) -> None:
    server = subprocess.Popen(
        [str(Path(sys.executable).with_name("switchboard")), "serve", "memory", "--org", "demo"],
        stdin=subprocess.PIPE,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        env={**sb_env, "SWITCHBOARD_KIWI_PROCESS": "1"},
        cwd=ROOT,
    )
    try:
        child = _helper_of(server.pid)
    finally:
        assert server.stdin is not None
        server.stdin.close()  # the client hangs up: the server exits, and its helper with it
        server.wait(timeout=30)
    assert _gone(child)


def test_the_helper_waits_for_a_spare_core() -> None:
    spare = kiwi_process.spare_core
    assert spare("0.30 0.40 0.50 1/300 4242", cpus=2)  # only this process runs
    assert spare("1.20 0.40 0.50 2/300 4242", cpus=2)  # one other process: a core is free
    assert not spare("1.60 1.00 0.50 1/300 4242", cpus=2)  # busy over the last minute
    assert not spare("0.20 0.40 0.50 3/300 4242", cpus=2)  # two others running right now
    assert spare("5.00 5.00 5.00 4/300 4242", cpus=8)
    assert spare("garbage", cpus=2)  # unreadable: use the helper
