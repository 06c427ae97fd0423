"""Pydantic models of a delivery in the DDAS Vroegsignalering exchange model v1.2.

Written from the specification (VNG Realisatie with Divosa and CBS, repository
``VNG-Realisatie/ddas-vroegsignalering``: ``v1.2/json_schema_Uitwisselmodel.json`` and the
detail model of its documentation). The attributes are snake_case spellings of the
specification's names; each carries the specification's name as its alias, and JSON in
and out uses those names only (:meth:`Uitwisselmodel.to_json`,
:meth:`Uitwisselmodel.from_json`). What the models hold to, as the schema states it:

- no object takes a property the specification does not name (``additionalProperties:
  false``); the required properties are required, every other one may be left out;
- dates are ``YYYY-MM-DD``; ``aanleverdatumEnTijd`` is a date-time with a time zone and
  is written in UTC as ``YYYY-MM-DDTHH:MM:SSZ``; an amount (``bedrag``) is a whole number
  of euros; booleans, integers and dates are taken strictly (no ``"1"`` for ``1``);
- ``leveringen``, ``contactpersonen`` and a case's ``vroegsignalen`` hold at least one
  item and no item twice;
- a client is identified in one of two forms (the schema's ``oneOf``): by
  ``burgerservicenummer`` (exactly nine characters) and nothing else, or without a
  burgerservicenummer by ``postcode`` and ``huisnummer`` (optionally with
  ``huisnummertoevoeging``, ``geboortedatum`` and ``geslachtsaanduiding``). The hub keeps
  no BSN, so it always writes the second form (see ``docs/ddas.md``).

Beyond the JSON schema, the models hold to the lengths of the detail model (postcode
AN6, huisnummer AN5, huisnummertoevoeging AN4, names and titles AN200, KvK number AN80,
``codeGegevensleverancier`` AN200), and text fields are not empty.
"""

from __future__ import annotations

import re
from datetime import UTC, date, datetime
from typing import Annotated, Any, Self, TypeVar

from pydantic import (
    AfterValidator,
    AwareDatetime,
    BaseModel,
    ConfigDict,
    Field,
    field_serializer,
    model_validator,
)

from hub.ddas.codes import (
    Contactsoort,
    Dagdeel,
    Eindresultaat,
    Geslacht,
    Signaalpartner,
    Signaalstatus,
)

__all__ = [
    "AanleverendeOrganisatie",
    "Client",
    "Contactpersoon",
    "Contactpoging",
    "Levering",
    "SignaalpartnerRef",
    "Uitwisselmodel",
    "Vroegsignaal",
    "VroegsignaalRef",
    "Vroegsignaalzaak",
]

#: what ``format: email`` asks at least: one @ with text on both sides and a dot after it
_EMAIL = re.compile(r"[^@\s]+@[^@\s]+\.[^@\s]+")


def _email(value: str) -> str:
    if not _EMAIL.fullmatch(value):
        raise ValueError("must be an email address")
    return value


_T = TypeVar("_T")


def _no_repeats(items: list[_T]) -> list[_T]:
    seen: list[Any] = []
    for item in items:
        plain = item.model_dump() if isinstance(item, BaseModel) else item
        if plain in seen:
            raise ValueError("must not hold the same item twice (uniqueItems)")
        seen.append(plain)
    return items


def _an(length: int) -> Any:
    """An alphanumeric field of the detail model: 1 to ``length`` characters."""
    return Field(min_length=1, max_length=length)


#: ``datum``: a calendar date, written YYYY-MM-DD
Datum = date
#: ``bedrag``: an amount in whole euros
Bedrag = int
Email = Annotated[str, _an(200), AfterValidator(_email)]


class DdasModel(BaseModel):
    """Base of the models: immutable, strict, only the specification's names in JSON."""

    model_config = ConfigDict(extra="forbid", frozen=True, strict=True,
                              validate_by_name=True, validate_by_alias=True,
                              serialize_by_alias=True)


class Contactpersoon(DdasModel):
    """A contact person at the delivering organisation."""

    naam: Annotated[str, _an(200)] | None = None
    telefoonnummer: Annotated[str, _an(200)] | None = None
    email: Email | None = None
    functietitel: Annotated[str, _an(200)] | None = None


class AanleverendeOrganisatie(DdasModel):
    """The organisation that delivers the data to CBS: the municipality itself, or a
    party handling the signals on its behalf."""

    naam: Annotated[str, _an(200)] | None = None
    kvk_nummer: Annotated[str, _an(80)] | None = Field(default=None, alias="kvk-nummer")
    contactpersonen: Annotated[list[Contactpersoon], Field(min_length=1),
                               AfterValidator(_no_repeats)] | None = None


class SignaalpartnerRef(DdasModel):
    """The signal partner (creditor) of a signal: only its kind travels."""

    type: Signaalpartner | None = None


class Client(DdasModel):
    """The person a signal is about, in one of the two forms of the specification."""

    burgerservicenummer: Annotated[str, Field(min_length=9, max_length=9)] | None = None
    geslachtsaanduiding: Geslacht | None = None
    geboortedatum: Datum | None = None
    postcode: Annotated[str, _an(6)] | None = None
    huisnummer: Annotated[str, _an(5)] | None = None
    huisnummertoevoeging: Annotated[str, _an(4)] | None = None

    @model_validator(mode="after")
    def _one_form(self) -> Self:
        if self.burgerservicenummer is not None:
            others = [name for name in ("geslachtsaanduiding", "geboortedatum", "postcode",
                                        "huisnummer", "huisnummertoevoeging")
                      if getattr(self, name) is not None]
            if others:
                raise ValueError("a client identified by burgerservicenummer holds nothing"
                                 f" else; leave out {', '.join(others)}")
            return self
        missing = [name for name in ("postcode", "huisnummer") if getattr(self, name) is None]
        if missing:
            raise ValueError(f"{' and '.join(missing)} required: a client needs either a"
                             " burgerservicenummer, or a postcode and a huisnummer")
        return self


class Vroegsignaal(DdasModel):
    """A signal a signal partner gave the municipality (Wgs art. 2.2.1)."""

    id: Annotated[str, Field(min_length=1)] = Field(alias="ID")
    crisissignaal: bool | None = None
    warme_overdracht: bool | None = Field(default=None, alias="warmeOverdracht")
    bedrag: Bedrag | None = None
    ontstaansdatum: Datum | None = None
    signaaldatum: Datum | None = None
    status: Signaalstatus | None = None
    signaalpartner: SignaalpartnerRef
    client: Client


class VroegsignaalRef(DdasModel):
    """A case's reference to one of its signals."""

    id: Annotated[str, Field(min_length=1)] = Field(alias="ID")


class Contactpoging(DdasModel):
    """One attempt of the team to reach the person of a case."""

    soort: Contactsoort | None = None
    bereikt: bool | None = None
    datum: Datum | None = None
    dagdeel: Dagdeel | None = None


class Vroegsignaalzaak(DdasModel):
    """A case: the municipality's handling of one or more signals of one person."""

    resultaat: Eindresultaat | None = None
    matchingsdatum: Datum | None = None
    startdatum_matchingperiode: Datum | None = Field(default=None,
                                                     alias="startdatumMatchingperiode")
    datum_opgepakt: Datum | None = Field(default=None, alias="datumOpgepakt")
    einddatum_matchingperiode: Datum | None = Field(default=None,
                                                    alias="einddatumMatchingperiode")
    vroegsignalen: Annotated[list[VroegsignaalRef], Field(min_length=1),
                             AfterValidator(_no_repeats)] | None = None
    contactpogingen: list[Contactpoging] | None = None


class Levering(DdasModel):
    """The signals and cases of one municipality over the delivery's period."""

    teller: int
    gemeentecode: Annotated[str, Field(min_length=1)]
    aanleverende_organisatie: AanleverendeOrganisatie = Field(alias="aanleverendeOrganisatie")
    vroegsignalen: list[Vroegsignaal] | None = None
    vroegsignaalzaken: list[Vroegsignaalzaak] | None = None


class Uitwisselmodel(DdasModel):
    """A whole delivery file: the period, when and by whom it is delivered, and one or
    more leveringen."""

    startdatum_levering: Datum = Field(alias="startdatumLevering")
    einddatum_levering: Datum = Field(alias="einddatumLevering")
    aanleverdatum_en_tijd: AwareDatetime = Field(alias="aanleverdatumEnTijd")
    code_gegevensleverancier: Annotated[str, _an(200)] = Field(alias="codeGegevensleverancier")
    leveringen: Annotated[list[Levering], Field(min_length=1),
                          AfterValidator(_no_repeats)] | None = None

    @field_serializer("aanleverdatum_en_tijd")
    def _utc_seconds(self, value: datetime) -> str:
        return value.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")

    def to_json(self, *, indent: int | None = 2) -> str:
        """The delivery as JSON text (to be stored as UTF-8), with the specification's
        names; fields without a value are left out."""
        return self.model_dump_json(by_alias=True, exclude_none=True, indent=indent)

    @classmethod
    def from_json(cls, text: str | bytes) -> Uitwisselmodel:
        """Read (and check) a delivery from its JSON text."""
        return cls.model_validate_json(text, by_alias=True, by_name=False)
