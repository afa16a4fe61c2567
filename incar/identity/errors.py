"""The one refusal of the identity check: a code for machines, one line of reason for people."""

from __future__ import annotations

from typing import Literal

#: ``UNAUTHENTICATED``: the token is not one the platform accepts (log in again).
#: ``IDP_UNAVAILABLE``: the issuer's keys could not be fetched (try again later; the token may
#: be fine).
AuthenticationCode = Literal["UNAUTHENTICATED", "IDP_UNAVAILABLE"]


class AuthenticationError(Exception):
    """A bearer token was refused; ``reason`` says which check failed, in one line."""

    def __init__(self, reason: str, *, code: AuthenticationCode = "UNAUTHENTICATED") -> None:
        super().__init__(reason)
        self.reason = reason
        self.code: AuthenticationCode = code

    def __repr__(self) -> str:
        return f"AuthenticationError({self.code}: {self.reason})"
