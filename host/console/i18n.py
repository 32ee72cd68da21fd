"""The console's words: Korean first, English with ``?lang=en`` (kept in the session)."""

from __future__ import annotations

LANGS = ("ko", "en")

TEXT: dict[str, tuple[str, str]] = {
    "title": ("상담원 콘솔", "Operator console"),
    "sign_in": ("로그인", "Sign in"),
    "sign_out": ("로그아웃", "Sign out"),
    "username": ("아이디", "Username"),
    "password": ("비밀번호", "Password"),
    "queue": ("대기열", "Review queue"),
    "sessions": ("상담 기록", "Sessions"),
    "audit": ("감사 로그", "Audit"),
    "view_open": ("대기 중", "Open"),
    "view_mine": ("내 담당", "Mine"),
    "view_resolved": ("처리 완료", "Resolved"),
    "reason": ("사유", "Reason"),
    "kind": ("유형", "Kind"),
    "status": ("상태", "Status"),
    "owner": ("담당자", "Owner"),
    "created": ("접수 시각", "Created"),
    "customer": ("고객", "Customer"),
    "from": ("시작일", "From"),
    "to": ("종료일", "To"),
    "filter": ("검색", "Filter"),
    "live": ("실시간 갱신 중", "Live"),
    "empty": ("항목이 없습니다.", "Nothing here."),
    "claim": ("담당하기", "Claim"),
    "assign": ("배정", "Assign"),
    "assign_to": ("배정할 상담원 아이디", "Assign to (username)"),
    "note": ("메모", "Note"),
    "add_note": ("메모 추가", "Add note"),
    "notes": ("메모", "Notes"),
    "resolve": ("처리 완료", "Resolve"),
    "outcome": ("처리 결과", "Outcome"),
    "approve": ("승인", "Approve"),
    "deny": ("거절", "Deny"),
    "decision_reason": ("결정 사유", "Reason for the decision"),
    "pending_call": ("승인 대기 중인 도구 호출", "Tool call waiting for approval"),
    "open_session": ("상담 열기", "Open session"),
    "session": ("상담", "Session"),
    "transcript": ("대화 내용", "Transcript"),
    "takeover": ("상담 이어받기", "Take over"),
    "handback": ("상담봇에게 돌려주기", "Hand back"),
    "held_by_you": (
        "지금 상담원님이 응대 중입니다. 상담봇은 멈춰 있습니다.",
        "You hold this session; the bot is paused.",
    ),
    "held_by_other": ("다른 상담원이 응대 중입니다.", "Another operator holds this session."),
    "reply": ("고객에게 보내기", "Send to customer"),
    "reply_placeholder": ("고객에게 보낼 메시지", "Message to the customer"),
    "who_customer": ("고객", "Customer"),
    "who_bot": ("상담봇", "Bot"),
    "who_operator": ("상담원", "Operator"),
    "held": ("상담원 대기 중 받은 메시지", "received while held"),
    "confirm_prompt": ("확인 질문", "Confirmation asked"),
    "confirmed": ("고객 확인", "Customer confirmed"),
    "correction": ("정정", "Correction"),
    "citations": ("근거 문서", "KB citations"),
    "tool_calls": ("도구 호출", "Tool calls"),
    "tool": ("도구", "Tool"),
    "server_version": ("서버 버전", "Server version"),
    "definition": ("정의 해시", "Definition hash"),
    "latency": ("지연(ms)", "Latency (ms)"),
    "result": ("결과", "Outcome"),
    "memories": ("불러온 기억", "Recalled memories"),
    "versions": ("버전", "Versions"),
    "export_csv": ("CSV 내보내기", "Export CSV"),
    "search": ("검색", "Search"),
    "verify": ("무결성 검증", "Verify"),
    "records": ("기록 수", "Records"),
    "checkpoint": ("마지막 체크포인트", "Last checkpoint"),
    "intact": ("정상", "intact"),
    "broken": ("문제 발견", "problems found"),
    "download": ("내보내기 다운로드", "Download export"),
    "error": ("오류", "Error"),
    "back": ("돌아가기", "Back"),
    "lang_switch": ("English", "한국어"),
    "ended": ("종료됨", "ended"),
    "active": ("진행 중", "active"),
}


def translate(lang: str):
    index = 1 if lang == "en" else 0

    def t(key: str) -> str:
        pair = TEXT.get(key)
        return pair[index] if pair else key

    return t
