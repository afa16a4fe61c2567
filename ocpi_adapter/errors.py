"""Errors that carry their OCPI status; one handler in the app renders them all."""

from __future__ import annotations

from typing import Any

from ocpi_adapter.envelope import MISSING, OcpiStatus


class OcpiError(Exception):
    """An expected failure, rendered as an OCPI envelope with ``status`` and ``http_status``."""

    status: OcpiStatus = OcpiStatus.CLIENT_ERROR
    http_status: int = 200

    def __init__(
        self,
        message: str,
        *,
        status: OcpiStatus | None = None,
        http_status: int | None = None,
        data: Any = MISSING,
    ) -> None:
        super().__init__(message)
        self.message = message
        if status is not None:
            self.status = status
        if http_status is not None:
            self.http_status = http_status
        self.data = data


class Unauthorized(OcpiError):
    http_status = 401


class NotFound(OcpiError):
    http_status = 404


class MethodNotAllowed(OcpiError):
    http_status = 405


class MalformedBody(OcpiError):
    """Not JSON at all: a transport error, HTTP 400 (status_codes.asciidoc)."""

    status = OcpiStatus.INVALID_PARAMETERS
    http_status = 400


class BodyTooLarge(OcpiError):
    status = OcpiStatus.INVALID_PARAMETERS
    http_status = 413


class InvalidParameters(OcpiError):
    status = OcpiStatus.INVALID_PARAMETERS


class UnableToUseClientApi(OcpiError):
    status = OcpiStatus.UNABLE_TO_USE_CLIENT_API


class UnsupportedVersion(OcpiError):
    status = OcpiStatus.UNSUPPORTED_VERSION


class NoMatchingEndpoints(OcpiError):
    status = OcpiStatus.NO_MATCHING_ENDPOINTS


class UnknownReceiver(OcpiError):
    status = OcpiStatus.UNKNOWN_RECEIVER


class ForwardTimeout(OcpiError):
    status = OcpiStatus.FORWARD_TIMEOUT


class ConnectionProblem(OcpiError):
    status = OcpiStatus.CONNECTION_PROBLEM


class AnswerTooLarge(OcpiError):
    """A peer's answer grew past ``INCAR_MAX_ANSWER_BYTES``: 4003, as an unusable answer.

    Not a ``ConnectionProblem``: the peer was reached, so its status must not change.
    """

    status = OcpiStatus.CONNECTION_PROBLEM
