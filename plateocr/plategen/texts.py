"""Plate texts: the layouts the generator draws, how each prints its text, and the regex it obeys.

A layout's text is what is printed, only ``0-9A-Z`` (no spaces or dashes), top row first. Its
``groups`` say how the printed text splits into groups (separated by a gap, a dash, a dot or a
seal) and into rows.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

import config

LETTERS = config.LETTERS
DIGITS = config.DIGITS
VOWELS_Q = "AEIOUQ"
# Old Spanish provincial codes (1971-2000), e.g. "M 1234 AB", "GR 1234 A".
PROVINCES: tuple[str, ...] = (
    "A",
    "AB",
    "AL",
    "AV",
    "B",
    "BA",
    "BI",
    "BU",
    "C",
    "CA",
    "CC",
    "CE",
    "CO",
    "CR",
    "CS",
    "CU",
    "GC",
    "GE",
    "GI",
    "GR",
    "GU",
    "H",
    "HU",
    "IB",
    "J",
    "L",
    "LE",
    "LO",
    "LU",
    "M",
    "MA",
    "ML",
    "MU",
    "NA",
    "O",
    "OR",
    "P",
    "PM",
    "PO",
    "S",
    "SA",
    "SE",
    "SG",
    "SO",
    "SS",
    "T",
    "TE",
    "TF",
    "TO",
    "V",
    "VA",
    "VI",
    "Z",
    "ZA",
)
# German district codes (a sample; any 1-3 letters occur).
GERMAN_DISTRICTS: tuple[str, ...] = (
    "B",
    "M",
    "K",
    "F",
    "S",
    "H",
    "D",
    "HH",
    "HB",
    "DO",
    "KA",
    "MA",
    "BN",
    "LU",
    "WI",
    "MZ",
    "GE",
    "BO",
    "OS",
    "AC",
    "FFB",
    "STA",
    "LDK",
    "RE",
    "HD",
    "KS",
)
OLD_SERIES_LETTERS = "ABCDEFGHIJKLMNOPRSTUVWXYZ"  # old Spanish series letters (no Q)

# Separators between groups inside a row.
GAP, DASH, DOT, SEAL = " ", "-", ".", "*"


@dataclass(frozen=True)
class Printed:
    """A text as printed: rows of groups joined by separators, e.g. ``[["M", " ", "1234", " ", "AB"]]``."""

    rows: tuple[tuple[str, ...], ...]

    @property
    def text(self) -> str:
        return "".join(part for row in self.rows for part in row if part not in (GAP, DASH, DOT, SEAL))


def _pick(rng: np.random.Generator, alphabet: str | tuple[str, ...], count: int = 1) -> str:
    return "".join(alphabet[int(i)] for i in rng.integers(0, len(alphabet), size=count))


def _digits(rng: np.random.Generator, count: int) -> str:
    return _pick(rng, DIGITS, count)


def _spanish(rng: np.random.Generator) -> list[str]:
    return [_digits(rng, 4), GAP, _pick(rng, config.SPANISH_LETTERS, 3)]


# Spanish plates of special series: a letter before an NNNNAAA text (mopeds C, special vehicles E, historic
# H, temporary P, S, T and V, trailers R). Not NNNNAAA plates: read as one, the answer is another vehicle's
# plate. Kind ``spanish_special``: drawn for the test set's ``special`` subset, not for training.
SPECIAL_SERIES = "CEHPRSTV"


def _spanish_special(rng: np.random.Generator) -> list[str]:
    return [_pick(rng, SPECIAL_SERIES), GAP, _digits(rng, 4), GAP, _pick(rng, config.SPANISH_LETTERS, 3)]


def _spanish_vowels(rng: np.random.Generator) -> list[str]:
    # NNNN + three letters of which at least one is a vowel or Q: a Spanish look, not a Spanish plate.
    letters = [_pick(rng, LETTERS) for _ in range(3)]
    letters[int(rng.integers(0, 3))] = _pick(rng, VOWELS_Q)
    return [_digits(rng, 4), GAP, "".join(letters)]


def _spanish_old(rng: np.random.Generator) -> list[str]:
    sep = DASH if rng.uniform() < 0.4 else GAP
    return [_pick(rng, PROVINCES), sep, _digits(rng, 4), sep, _pick(rng, OLD_SERIES_LETTERS, int(rng.integers(1, 3)))]


def _french(rng: np.random.Generator) -> list[str]:
    return [_pick(rng, LETTERS, 2), DASH, _digits(rng, 3), DASH, _pick(rng, LETTERS, 2)]


def _italian(rng: np.random.Generator) -> list[str]:
    return [_pick(rng, LETTERS, 2), GAP, _digits(rng, 3), GAP, _pick(rng, LETTERS, 2)]


def _german(rng: np.random.Generator) -> list[str]:
    district = _pick(rng, GERMAN_DISTRICTS)
    letters = _pick(rng, LETTERS, int(rng.integers(1, 3)))
    number = str(int(rng.integers(1, 10 ** int(rng.integers(1, 5)))))
    suffix = _pick(rng, "EH") if rng.uniform() < 0.08 else ""
    return [district, SEAL, letters, GAP, number + suffix]


def _portuguese(rng: np.random.Generator) -> list[str]:
    pattern = ("LLDDLL", "DDLLDD", "LLDDDD", "DDDDLL")[int(rng.integers(0, 4))]
    groups = [_pick(rng, LETTERS if kind == "L" else DIGITS, 2) for kind in pattern[::2]]
    return [groups[0], DASH, groups[1], DASH, groups[2]]


def _british(rng: np.random.Generator) -> list[str]:
    return [_pick(rng, LETTERS, 2) + _digits(rng, 2), GAP, _pick(rng, LETTERS, 3)]


@dataclass(frozen=True)
class Layout:
    """One plate format.

    Attributes:
        name: e.g. ``"es"``, ``"fr_two_rows"``.
        kind: ``"spanish"``, ``"spanish_old"``, ``"foreign"`` or ``"spanish_special"`` (drawn only when asked for).
        country: the country code printed in the EU band (``""``: no band).
        draw: draws one row of groups and separators.
        split: for two-row layouts, how many groups (and separators) go on the top row; 0 = one row.
        pattern: what the text must match.
    """

    name: str
    kind: str
    country: str
    draw: Callable[[np.random.Generator], list[str]]
    split: int
    pattern: re.Pattern[str]

    @property
    def two_rows(self) -> bool:
        return self.split > 0

    def printed(self, rng: np.random.Generator) -> Printed:
        parts = self.draw(rng)
        if not self.split:
            return Printed((tuple(parts),))
        top, bottom = parts[: self.split], parts[self.split + 1 :]
        return Printed((tuple(top), tuple(bottom)))


_OLD = re.compile(rf"^({'|'.join(sorted(PROVINCES, key=len, reverse=True))})[0-9]{{4}}[{OLD_SERIES_LETTERS}]{{1,2}}$")
_TWO_TWO_THREE = re.compile(r"^[A-Z]{2}[0-9]{3}[A-Z]{2}$")
_GERMAN = re.compile(r"^[A-Z]{2,5}[1-9][0-9]{0,3}[EH]?$")
_PORTUGUESE = re.compile(r"^(?=(?:[A-Z]{2}|[0-9]{2}){3}$)(?=.*[A-Z])(?=.*[0-9]).{6}$")
_BRITISH = re.compile(r"^[A-Z]{2}[0-9]{2}[A-Z]{3}$")
_SPECIAL = re.compile(rf"^[{SPECIAL_SERIES}][0-9]{{4}}[{config.SPANISH_LETTERS}]{{3}}$")
_VOWELS = re.compile(r"^[0-9]{4}(?=[A-Z]{0,2}[AEIOUQ])[A-Z]{3}$")

LAYOUTS: dict[str, Layout] = {
    layout.name: layout
    for layout in (
        Layout("es", "spanish", "E", _spanish, 0, config.SPANISH_PLATE),
        Layout("es_two_rows", "spanish", "E", _spanish, 1, config.SPANISH_PLATE),
        Layout("es_old", "spanish_old", "", _spanish_old, 0, _OLD),
        Layout("es_old_two_rows", "spanish_old", "", _spanish_old, 3, _OLD),
        Layout("es_vowels", "foreign", "E", _spanish_vowels, 0, _VOWELS),
        Layout("es_special", "spanish_special", "E", _spanish_special, 0, _SPECIAL),
        Layout("es_special_two_rows", "spanish_special", "E", _spanish_special, 3, _SPECIAL),
        Layout("fr", "foreign", "F", _french, 0, _TWO_TWO_THREE),
        Layout("fr_two_rows", "foreign", "F", _french, 3, _TWO_TWO_THREE),
        Layout("it", "foreign", "I", _italian, 0, _TWO_TWO_THREE),
        Layout("it_two_rows", "foreign", "I", _italian, 1, _TWO_TWO_THREE),
        Layout("de", "foreign", "D", _german, 0, _GERMAN),
        Layout("de_two_rows", "foreign", "D", _german, 3, _GERMAN),
        Layout("pt", "foreign", "P", _portuguese, 0, _PORTUGUESE),
        Layout("gb", "foreign", "GB", _british, 0, _BRITISH),
        Layout("gb_two_rows", "foreign", "GB", _british, 1, _BRITISH),
    )
}
PLATE_KINDS: tuple[str, ...] = ("spanish", "spanish_old", "foreign")
KINDS: tuple[str, ...] = PLATE_KINDS + ("none",)


def layouts_of(kind: str, two_rows: bool | None = None) -> list[Layout]:
    """The layouts of one kind, optionally only the one- or two-row ones."""
    return [
        layout
        for layout in LAYOUTS.values()
        if layout.kind == kind and (two_rows is None or layout.two_rows == two_rows)
    ]
