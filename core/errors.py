"""One error type with stable codes, shared by servers, registry, audit and host."""

from __future__ import annotations

from enum import StrEnum
from typing import Any


class ErrorCode(StrEnum):
    """Stable error codes. Clients match on these; never rename one."""

    INVALID_ARGUMENT = "INVALID_ARGUMENT"
    NOT_FOUND = "NOT_FOUND"
    FORBIDDEN = "FORBIDDEN"
    CONFLICT = "CONFLICT"
    UNAVAILABLE = "UNAVAILABLE"
    RATE_LIMITED = "RATE_LIMITED"
    INTERNAL = "INTERNAL"


class SwitchboardError(Exception):
    """An error that is safe to show to a caller: a stable code and a plain message."""

    def __init__(self, code: ErrorCode | str, message: str, **details: Any) -> None:
        super().__init__(message)
        self.code = ErrorCode(code)
        self.message = message
        self.details = details

    def to_dict(self) -> dict[str, Any]:
        body: dict[str, Any] = {"code": self.code.value, "message": self.message}
        if self.details:
            body["details"] = self.details
        return body

    def __repr__(self) -> str:
        return f"SwitchboardError({self.code.value}, {self.message!r})"


def invalid(message: str, **details: Any) -> SwitchboardError:
    return SwitchboardError(ErrorCode.INVALID_ARGUMENT, message, **details)


def not_found(message: str, **details: Any) -> SwitchboardError:
    return SwitchboardError(ErrorCode.NOT_FOUND, message, **details)


def forbidden(message: str, **details: Any) -> SwitchboardError:
    return SwitchboardError(ErrorCode.FORBIDDEN, message, **details)


def conflict(message: str, **details: Any) -> SwitchboardError:
    return SwitchboardError(ErrorCode.CONFLICT, message, **details)


def unavailable(message: str, **details: Any) -> SwitchboardError:
    return SwitchboardError(ErrorCode.UNAVAILABLE, message, **details)


def rate_limited(message: str, **details: Any) -> SwitchboardError:
    return SwitchboardError(ErrorCode.RATE_LIMITED, message, **details)
