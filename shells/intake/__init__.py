"""AP intake: AP platforms (Coupa, Basware, Tungsten/Kofax, SAP Concur ...) push signed invoice events and
UBL e-invoices over HTTP onto the same input streams that files and topics feed (receiver.py)."""

from .receiver import EVENTS_PATH, UBL_PATH, Answer, Intake, intake_app
from .settings import DEFAULT_STREAMS, INTAKE_STREAMS, IntakeConfigError, IntakeSettings, Platform
from .writer import Accepted, FileIntakeWriter, IntakeWriter

__all__ = [
    "DEFAULT_STREAMS",
    "EVENTS_PATH",
    "INTAKE_STREAMS",
    "UBL_PATH",
    "Accepted",
    "Answer",
    "FileIntakeWriter",
    "Intake",
    "IntakeConfigError",
    "IntakeSettings",
    "IntakeWriter",
    "Platform",
    "intake_app",
]
