"""The enumerations of the DDAS Vroegsignalering exchange model v1.2.

Each value is the specification's exact string (Dutch, with its capitals, spaces and
punctuation): it is what a delivery carries. The member names are Python spellings of
those strings. The specification publishes the lists of ``EnumSignaalpartner``,
``EnumContactsoort``, ``EnumEindresultaat`` and ``EnumSignaalstatus`` in alphabetical
order; ``EnumDagdeel`` and ``geslacht`` keep an order that means something. The members
below follow the same order.
"""

from __future__ import annotations

import enum
from datetime import time

__all__ = [
    "Contactsoort",
    "Dagdeel",
    "Eindresultaat",
    "Geslacht",
    "Signaalpartner",
    "Signaalstatus",
]


class Signaalpartner(enum.StrEnum):
    """``EnumSignaalpartner``: the kind of signal partner (creditor) behind a signal."""

    BELASTINGDIENST = "Belastingdienst"
    CAK_EIGEN_BIJDRAGE = "CAK Eigen bijdrage"
    CAK_ZORGVERZEKERINGEN = "CAK Zorgverzekeringen"
    DIENST_TOESLAGEN = "Dienst Toeslagen"
    DUO = "DUO"
    ENERGIE = "Energie"
    HUUR = "Huur"
    HYPOTHEEK = "Hypotheek"
    OVERIGE = "Overige"
    WATER = "Water"
    ZORG = "Zorg"


class Signaalstatus(enum.StrEnum):
    """``EnumSignaalstatus``: where a signal stands. A signal starts as
    ``Nog niet opgepakt`` and ends with one of the others."""

    INWONER_AL_BEKEND_BIJ_SCHULDHULPVERLENING = "Inwoner al bekend bij schuldhulpverlening"
    INWONER_IS_OVERLEDEN = "Inwoner is overleden"
    NIET_OPGEPAKT_ANDERE_REDEN = "Niet opgepakt: andere reden"
    NIET_OPGEPAKT_HERHAALDE_MELDING = "Niet opgepakt: herhaalde melding"
    NIET_OPGEPAKT_ONTERECHT_SIGNAAL = "Niet opgepakt: onterecht signaal"
    NOG_NIET_OPGEPAKT = "Nog niet opgepakt"
    OPGEPAKT = "Opgepakt"
    PERSOON_IS_GEEN_INWONER_MEER = "Persoon is geen inwoner (meer) in de gemeente"


class Eindresultaat(enum.StrEnum):
    """``EnumEindresultaat``: the one result a case (vroegsignaalzaak) is closed with."""

    BUDGETADVIES_EN_OF_QUICK_FIX = "(Budget)advies en/of quick fix"
    DEFINITIEF_GEEN_CONTACT = "Definitief geen contact kunnen krijgen"
    GEEN_REACTIE_NA_EERDER_CONTACT = "Geen reactie na eerder contact"
    INWONER_AL_BEKEND_BIJ_SCHULDHULPVERLENING = "Inwoner al bekend bij schuldhulpverlening"
    INWONER_HEEFT_AL_ANDER_TRAJECT = "Inwoner heeft al een ander lopend traject"
    INWONER_HEEFT_ZELF_BETAALD = "Inwoner heeft zelf al betaald/betalingsregeling getroffen"
    INWONER_IS_OVERLEDEN = "Inwoner is overleden"
    INWONER_REGELT_HET_ZELF = ("Inwoner regelt het zelf/hoeft geen hulp vanuit"
                               " vroegsignalering")
    NIET_OPGEPAKT_ANDERE_REDEN = "Niet opgepakt: andere reden"
    NIET_OPGEPAKT_HERHAALDE_MELDING = "Niet opgepakt: herhaalde melding"
    NIET_OPGEPAKT_ONTERECHT_SIGNAAL = "Niet opgepakt: onterecht signaal"
    PERSOON_IS_GEEN_INWONER_MEER = "Persoon is geen inwoner (meer) in de gemeente"
    VERVOLGHULP_EN_OF_VERWIJZING = "Vervolghulp en/of verwijzing"
    VERVOLGHULP_FINANCIEEL = "Vervolghulp en/of verwijzing financieel"
    VERVOLGHULP_NIET_FINANCIEEL = "Vervolghulp en/of verwijzing niet financieel"
    VERWIJZING_ZONDER_TUSSENKOMST_INWONER = "Verwijzing zonder tussenkomst inwoner"


class Contactsoort(enum.StrEnum):
    """``EnumContactsoort``: how the team tried to reach the person (a contact attempt)."""

    ADMINISTRATIEF = "Administratief"
    AFSPRAAK_OP_LOCATIE = "Afspraak op locatie"
    BRIEF = "Brief"
    HUISBEZOEK = "Huisbezoek"
    KAARTJE = "Kaartje"
    MAIL = "Mail"
    ONBEKEND = "Onbekend"
    OVERIGE = "Overige"
    SMS_WHATSAPP = "SMS/Whatsapp"
    TELEFOON = "Telefoon"


class Dagdeel(enum.StrEnum):
    """``EnumDagdeel``: the part of the day of a contact attempt."""

    OCHTEND = "Ochtend"  # before 12:00
    MIDDAG = "Middag"  # from 12:00 to 18:00
    AVOND = "Avond"  # 18:00 or later

    @classmethod
    def at(cls, moment: time) -> Dagdeel:
        """The part of the day a (local) time of day falls in, as the specification
        defines them: Ochtend until 12:00, Middag from 12:00 until 18:00, Avond from
        18:00."""
        if moment < time(12):
            return cls.OCHTEND
        if moment < time(18):
            return cls.MIDDAG
        return cls.AVOND


class Geslacht(enum.StrEnum):
    """``geslacht``: a client's sex as registered (the hub does not know it)."""

    MAN = "Man"
    VROUW = "Vrouw"
    ONBEKEND = "Onbekend"
    LEEG = "Leeg"
