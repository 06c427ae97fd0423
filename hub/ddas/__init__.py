"""The DDAS Vroegsignalering exchange model v1.2 and the CBS delivery's writer.

- :mod:`hub.ddas.codes`: the model's enumerations, valued with the specification's exact
  Dutch strings;
- :mod:`hub.ddas.model`: pydantic models of a delivery (``Uitwisselmodel``), JSON in and
  out with the specification's names;
- :mod:`hub.ddas.records`: plain records of signals, cases and contact attempts, as the
  team's inbox knows them;
- :mod:`hub.ddas.writer`: records → a checked delivery for one municipality and period.

See ``docs/ddas.md``.
"""

from hub.ddas.codes import (
    Contactsoort,
    Dagdeel,
    Eindresultaat,
    Geslacht,
    Signaalpartner,
    Signaalstatus,
)
from hub.ddas.model import Uitwisselmodel
from hub.ddas.records import (
    CaseRecord,
    ContactAttemptRecord,
    ContactPersonRecord,
    OrganisationRecord,
    SignalRecord,
)
from hub.ddas.writer import SIGNAALPARTNER, gemeentecode, whole_euros, write_delivery

__all__ = [
    "SIGNAALPARTNER",
    "CaseRecord",
    "ContactAttemptRecord",
    "ContactPersonRecord",
    "Contactsoort",
    "Dagdeel",
    "Eindresultaat",
    "Geslacht",
    "OrganisationRecord",
    "SignalRecord",
    "Signaalpartner",
    "Signaalstatus",
    "Uitwisselmodel",
    "gemeentecode",
    "whole_euros",
    "write_delivery",
]
