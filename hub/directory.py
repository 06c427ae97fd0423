"""Which teams receive a signal at an address: the team directory.

Built once from a :class:`~hub.config.HubConfig`; the router asks it for every signal::

    directory = TeamDirectory(config)
    found = directory.resolve("7512 ab", 14, "debt-signal")
    found.teams        # [Team(id='schuldhulp-centrum', ...)]
    found.reason       # None, "UNKNOWN_MUNICIPALITY" or "NO_TEAM"
    found.trace        # human-readable steps, for `signalhub explain`

Areas (see ``docs/config.md``) have four levels of specificity, most specific first:
a PC6 code with house numbers (``7512AB 10-40``), a PC6 code (``7512AB``), a single PC4
code (``7512``) and a PC4 range (``7511-7523``). Per role the most specific area wins,
then the higher ``priority``; teams still tied all receive (an ``overlaps`` rule with
``resolve: all`` says that this is intended; ``hub.config_checks`` refuses other ties).
``exclude`` removes a team for the addresses it names, whatever their level.

Lookups go through a dict by PC4 and an LRU cache keyed by the call's arguments;
:meth:`TeamDirectory.route` (the router's path, no trace) caches by the part of the
address that any area looks at (the PC4 alone where no area names a PC6 of it, the PC6
where none names house numbers), so the cache holds one entry per area, not per address.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass

from hub.config import HubConfig, Municipality, Team
from hub.events import EVENT_TYPES
from hub.values import AREA, POSTCODE, normalise_area

__all__ = [
    "HOUSE",
    "LEVEL_NAMES",
    "MAX_HOUSE_NUMBER",
    "NO_TEAM",
    "PC4",
    "PC4_RANGE",
    "PC6",
    "UNKNOWN_MUNICIPALITY",
    "Area",
    "Resolution",
    "TeamDirectory",
    "normalise_postcode",
    "parse_area",
]

#: area levels, least specific first
PC4_RANGE, PC4, PC6, HOUSE = 0, 1, 2, 3
#: a name for each level, for messages and traces
LEVEL_NAMES = ("PC4 range", "PC4", "PC6", "PC6 with house numbers")
#: the highest house number a signal can carry (see ``hub.events.HouseNumber``)
MAX_HOUSE_NUMBER = 99999

#: reason codes of a resolution without teams
UNKNOWN_MUNICIPALITY = "UNKNOWN_MUNICIPALITY"
NO_TEAM = "NO_TEAM"


def normalise_postcode(postcode: str) -> str:
    """``"7512 ab"`` → ``"7512AB"``; raise ValueError for anything that is not a PC6 code."""
    compact = "".join(str(postcode).split()).upper()
    if not POSTCODE.match(compact):
        raise ValueError(
            f"postcode {postcode!r} is not a Dutch postcode (four digits, the first not 0,"
            " and two letters, e.g. 7512AB)"
        )
    return compact


@dataclass(frozen=True, slots=True)
class Area:
    """One parsed area entry. PC4-level areas have ``letters=None``; areas without house
    numbers cover 1 to :data:`MAX_HOUSE_NUMBER`."""

    text: str
    level: int
    pc4_lo: int
    pc4_hi: int
    letters: str | None = None
    hn_lo: int = 1
    hn_hi: int = MAX_HOUSE_NUMBER

    def contains(self, pc4: int, letters: str, house_number: int | None) -> bool:
        """Whether the address lies in this area (an unknown house number lies in no
        house-number range)."""
        if not self.pc4_lo <= pc4 <= self.pc4_hi:
            return False
        if self.letters is None:
            return True
        if letters != self.letters:
            return False
        if self.level < HOUSE:
            return True
        return house_number is not None and self.hn_lo <= house_number <= self.hn_hi

    def describe(self) -> str:
        """E.g. ``PC4 range 7511-7523``."""
        return f"{LEVEL_NAMES[self.level]} {self.text}"


@functools.lru_cache(maxsize=65536)
def parse_area(text: str) -> Area:
    """Parse one area entry (as :mod:`hub.config` normalises it); ValueError when it is
    malformed, a range runs backwards or a house number is 0."""
    area = normalise_area(text)
    match = AREA.match(area)
    assert match is not None  # normalise_area refuses what does not match
    lo = int(match["lo"])
    if match["hi"] is not None:
        hi = int(match["hi"])
        if hi < lo:
            raise ValueError(f"range {area} runs backwards: write {hi}-{lo}")
        return Area(area, PC4_RANGE, lo, hi)
    if match["letters"] is None:
        return Area(area, PC4, lo, lo)
    if match["hn_lo"] is None:
        return Area(area, PC6, lo, lo, match["letters"])
    hn_lo = int(match["hn_lo"])
    hn_hi = int(match["hn_hi"]) if match["hn_hi"] is not None else hn_lo
    if hn_lo < 1 or hn_hi > MAX_HOUSE_NUMBER:
        raise ValueError(f"house numbers in {area} must lie between 1 and {MAX_HOUSE_NUMBER}")
    if hn_hi < hn_lo:
        raise ValueError(f"house-number range in {area} runs backwards")
    return Area(area, HOUSE, lo, lo, match["letters"], hn_lo, hn_hi)


def _parse_all(texts: list[str]) -> list[Area]:
    """The entries that parse (the config check reports the others)."""
    out: list[Area] = []
    for text in texts:
        try:
            out.append(parse_area(text))
        except ValueError:
            continue
    return out


def _keys(area: Area) -> list[str]:
    """Index keys of an area: its PC6, or every PC4 it spans."""
    if area.letters is not None:
        return [f"{area.pc4_lo}{area.letters}"]
    return [str(pc4) for pc4 in range(area.pc4_lo, area.pc4_hi + 1)]


@dataclass(frozen=True)
class Resolution:
    """The outcome of :meth:`TeamDirectory.resolve`. Shared through the cache: treat the
    lists as read-only."""

    #: the municipality the address lies in (None with reason UNKNOWN_MUNICIPALITY)
    municipality: Municipality | None
    #: the teams that receive this event type at this address, in configuration order
    teams: list[Team]
    #: human-readable steps, for ``signalhub explain``
    trace: list[str]
    #: None when teams were found, else UNKNOWN_MUNICIPALITY or NO_TEAM
    reason: str | None


class TeamDirectory:
    """Answer "which teams receive this signal at this address" from a HubConfig."""

    def __init__(self, config: HubConfig, *, cache_size: int = 65536) -> None:
        self.config = config
        self._municipalities = {m.code: m for m in config.municipalities}
        self._order = {team.id: n for n, team in enumerate(config.teams)}
        # keyed by PC6 ("7512AB") for PC6-level areas and by PC4 ("7512") for the others
        self._mun_index: dict[str, list[tuple[Area, Municipality]]] = {}
        for municipality in config.municipalities:
            for area in _parse_all(municipality.areas):
                for key in _keys(area):
                    self._mun_index.setdefault(key, []).append((area, municipality))
        self._team_index: dict[str, dict[str, list[tuple[Area, Team]]]] = {
            event_type: {} for event_type in EVENT_TYPES
        }
        self._excludes: dict[str, list[Area]] = {}
        for team in config.teams:
            self._excludes[team.id] = _parse_all(team.exclude)
            for area in _parse_all(team.areas):
                for event_type in team.event_types:
                    index = self._team_index.setdefault(event_type, {})
                    for key in _keys(area):
                        index.setdefault(key, []).append((area, team))
        # most specific first, so the first hit per team or municipality is its best area
        for mun_entries in self._mun_index.values():
            mun_entries.sort(key=lambda entry: -entry[0].level)
        for index in self._team_index.values():
            for team_entries in index.values():
                team_entries.sort(key=lambda entry: -entry[0].level)
        self._share_all = [frozenset(r.teams) for r in config.overlaps if r.resolve == "all"]
        self._cached = functools.lru_cache(maxsize=cache_size)(self._resolve)
        self._routed = functools.lru_cache(maxsize=cache_size)(self._route)
        # the PC4s and PC6s that some area names at a finer level
        areas = [a for m in config.municipalities for a in _parse_all(m.areas)]
        for team in config.teams:
            areas += _parse_all(team.areas) + _parse_all(team.exclude)
        self._fine_pc4 = {a.pc4_lo for a in areas if a.letters is not None}
        self._house_pc6 = {f"{a.pc4_lo}{a.letters}" for a in areas if a.level == HOUSE}

    def resolve(
        self,
        postcode: str,
        house_number: int | None,
        event_type: str,
        municipality_code: str | None = None,
    ) -> Resolution:
        """The teams that receive ``event_type`` at this address, with a trace.

        ``house_number`` None or 0 means unknown (youth-care-exit carries none): it
        matches no house-number range. ``municipality_code``, when the signal names one,
        must be configured and be the municipality the address lies in, else the reason
        is UNKNOWN_MUNICIPALITY. Raises ValueError for a malformed postcode, a house
        number outside 1-99999 or an unknown event type.
        """
        return self._cached(postcode, house_number, event_type, municipality_code)

    def route(
        self,
        postcode: str,
        house_number: int | None,
        event_type: str,
        municipality_code: str | None = None,
    ) -> Resolution:
        """:meth:`resolve` without a trace (``trace`` is empty), for a postcode as the
        signal models keep it (``7512AB``); cached by the part of the address that any
        area looks at. Raises ValueError like :meth:`resolve`."""
        if house_number is not None and not 0 <= house_number <= MAX_HOUSE_NUMBER:
            raise ValueError(f"house number {house_number} is not between 1 and 99999")
        if len(postcode) != 6 or int(postcode[:4]) not in self._fine_pc4:
            pc6 = f"{postcode[:4]}AA" if len(postcode) == 6 else postcode
            return self._routed(pc6, None, event_type, municipality_code)
        if postcode not in self._house_pc6:
            house_number = None
        return self._routed(postcode, house_number, event_type, municipality_code)

    def _route(
        self,
        postcode: str,
        house_number: int | None,
        event_type: str,
        municipality_code: str | None,
    ) -> Resolution:
        found = self._resolve(postcode, house_number, event_type, municipality_code)
        return Resolution(found.municipality, found.teams, [], found.reason)

    def clear_cache(self) -> None:
        """Forget cached resolutions."""
        self._cached.cache_clear()
        self._routed.cache_clear()

    def _municipality_for(
        self, keys: tuple[str, str], pc4: int, letters: str, house_number: int | None
    ) -> tuple[Area, Municipality] | None:
        for key in keys:
            for area, municipality in self._mun_index.get(key, ()):
                if area.contains(pc4, letters, house_number):
                    return area, municipality
        return None

    def _resolve(
        self,
        postcode: str,
        house_number: int | None,
        event_type: str,
        municipality_code: str | None,
    ) -> Resolution:
        pc = normalise_postcode(postcode)
        if house_number == 0:
            house_number = None
        elif house_number is not None and not 1 <= house_number <= MAX_HOUSE_NUMBER:
            raise ValueError(f"house number {house_number} is not between 1 and 99999")
        if event_type not in EVENT_TYPES:
            known = ", ".join(EVENT_TYPES)
            raise ValueError(f"unknown event type {event_type!r} (known: {known})")
        keys = (pc, pc[:4])  # index keys: PC6-level areas first, then PC4-level ones
        pc4, letters = int(pc[:4]), pc[4:]
        where = pc if house_number is None else f"{pc} {house_number}"
        trace: list[str] = []

        code = None if municipality_code is None else "".join(municipality_code.split()).upper()
        if code is not None and code not in self._municipalities:
            trace.append(f"the signal names municipality {code}, which is not configured")
            return Resolution(None, [], trace, UNKNOWN_MUNICIPALITY)
        found = self._municipality_for(keys, pc4, letters, house_number)
        if found is None:
            trace.append(f"postcode {where} lies in no configured municipality")
            return Resolution(None, [], trace, UNKNOWN_MUNICIPALITY)
        mun_area, municipality = found
        trace.append(f"postcode {where} lies in {municipality.code} (area {mun_area.text})")
        if code is not None and code != municipality.code:
            trace.append(f"the signal names {code}, but {where} lies in {municipality.code}")
            return Resolution(None, [], trace, UNKNOWN_MUNICIPALITY)

        candidates = self._candidates(
            keys, pc4, letters, house_number, event_type, municipality, trace
        )
        if not candidates:
            trace.append(f"no team of {municipality.code} receives {event_type} at {where}")
            return Resolution(municipality, [], trace, NO_TEAM)
        by_role: dict[str, list[tuple[Area, Team]]] = {}
        for entry in candidates:
            by_role.setdefault(entry[1].role, []).append(entry)
        winners: list[Team] = []
        for role, entries in by_role.items():
            winners.extend(self._pick(role, entries, trace))
        if len(winners) > 1:
            winners.sort(key=lambda team: self._order[team.id])
        return Resolution(municipality, winners, trace, None)

    def _candidates(
        self,
        keys: tuple[str, str],
        pc4: int,
        letters: str,
        house_number: int | None,
        event_type: str,
        municipality: Municipality,
        trace: list[str],
    ) -> list[tuple[Area, Team]]:
        """Per team of the municipality its most specific covering area, excludes applied."""
        best: dict[str, tuple[Area, Team]] = {}
        index = self._team_index[event_type]
        for key in keys:
            for area, team in index.get(key, ()):
                if (
                    team.id not in best
                    and team.municipality == municipality.code
                    and area.contains(pc4, letters, house_number)
                ):
                    best[team.id] = (area, team)
        found = list(best.values())
        if len(found) > 1:
            found.sort(key=lambda entry: self._order[entry[1].id])
        out: list[tuple[Area, Team]] = []
        for area, team in found:
            trace.append(f"team {team.id} covers it via {area.text}")
            for exclude in self._excludes[team.id]:
                if exclude.contains(pc4, letters, house_number):
                    trace.append(f"team {team.id} excluded by {exclude.text}")
                    break
            else:
                out.append((area, team))
        return out

    def _pick(self, role: str, entries: list[tuple[Area, Team]], trace: list[str]) -> list[Team]:
        """Resolve one role: most specific area, then priority, then all who tie."""
        if len(entries) == 1:
            return [entries[0][1]]
        level = max(area.level for area, _ in entries)
        first_area, first = next((a, t) for a, t in entries if a.level == level)
        for area, team in entries:
            if area.level < level:
                trace.append(
                    f"team {first.id} ({first_area.describe()}) wins over team {team.id}"
                    f" ({area.describe()}) for role {role}: more specific"
                )
        teams = [team for area, team in entries if area.level == level]
        priority = max(team.priority for team in teams)
        top = next(team for team in teams if team.priority == priority)
        for team in teams:
            if team.priority < priority:
                trace.append(
                    f"team {top.id} (priority {top.priority}) wins over team {team.id}"
                    f" (priority {team.priority}) for role {role}"
                )
        tied = [team for team in teams if team.priority == priority]
        if len(tied) > 1:
            ids = frozenset(team.id for team in tied)
            names = ", ".join(team.id for team in tied)
            if any(ids <= shared for shared in self._share_all):
                trace.append(f"teams {names} share this ground for role {role}: all receive")
            else:
                trace.append(
                    f"teams {names} tie for role {role} (same specificity, priority"
                    f" {priority}) and no overlaps rule covers them: all receive"
                )
        return tied
