"""Every error the project raises on purpose has one root, ReconError, and keeps the builtin base it always had,
so that an `except ValueError` or `except RuntimeError` written against it still catches it."""

from __future__ import annotations

import pytest
from reconstream.models.errors import FieldRefused, InvariantBroken, ReconError
from reconstream.models.events import EventError
from reconstream.shells.auth import AuthError
from reconstream.shells.cases import DatabaseConfigError
from reconstream.shells.cli_serve import ServeRefused
from reconstream.shells.config import ConfigError
from reconstream.shells.formats.budget import LimitError
from reconstream.shells.formats.canonical import FieldError
from reconstream.shells.formats.detect import FormatError
from reconstream.shells.formats.safexml import BadXmlError, UnsafeXmlError
from reconstream.shells.kafka.recovery import AssignmentLost, BrokerUnavailable, ClusterRefused, WorkerGaveUp
from reconstream.shells.secrets import SecretError
from reconstream.shells.sinks.base import ResumeRefused
from reconstream.shells.web.access import LoginRequired
from reconstream.streams.errors import OrphanEvent

# Each deliberate error and the builtin base it had before the root (Exception: none besides the root).
ERRORS: list[tuple[type[Exception], type[Exception]]] = [
    (FieldRefused, ValueError),
    (InvariantBroken, RuntimeError),
    (EventError, ValueError),
    (OrphanEvent, ValueError),
    (FieldError, ValueError),
    (SecretError, ValueError),
    (DatabaseConfigError, ValueError),
    (AuthError, Exception),
    (ConfigError, ValueError),
    (ResumeRefused, Exception),
    (LoginRequired, Exception),
    (UnsafeXmlError, ValueError),
    (BadXmlError, ValueError),
    (LimitError, Exception),
    (FormatError, ValueError),
    (BrokerUnavailable, RuntimeError),
    (AssignmentLost, RuntimeError),
    (WorkerGaveUp, RuntimeError),
    (ClusterRefused, RuntimeError),
    (ServeRefused, ValueError),
]


@pytest.mark.parametrize(("error", "builtin"), ERRORS, ids=[error.__name__ for error, _ in ERRORS])
def test_every_deliberate_error_has_the_root_and_keeps_its_builtin_base(
    error: type[Exception], builtin: type[Exception]
) -> None:
    assert issubclass(error, ReconError)
    assert issubclass(error, builtin)


@pytest.mark.parametrize("refused", [FieldRefused, OrphanEvent, FieldError])
def test_a_refused_field_reads_field_colon_reason(refused: type[FieldRefused]) -> None:
    error = refused("payload.amount", "not a number")
    assert str(error) == "payload.amount: not a number"
    assert (error.field, error.reason) == ("payload.amount", "not a number")
    assert isinstance(error, FieldRefused)


def test_an_event_error_is_a_refused_field_with_bounded_field_and_reason() -> None:
    error = EventError("schema_violation", "payload.amount", "not a number", "ev-1")
    assert str(error) == "payload.amount: not a number"
    assert (error.category, error.field, error.reason, error.event_id) == (
        "schema_violation",
        "payload.amount",
        "not a number",
        "ev-1",
    )
    long = EventError("schema_violation", "f" * 500, "r" * 5000)
    assert len(long.field) < 200 and len(long.reason) < 1000
    assert str(long) == f"{long.field}: {long.reason}"
