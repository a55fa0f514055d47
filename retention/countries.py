"""The jurisdictions the engine knows, and how people and ATS exports spell them.

Retention rules are per country, so a candidate's country must be one the policies cover, as an
ISO 3166-1 alpha-2 code. Exports write it every way: codes in any case, alpha-3 codes, English
names and local names ("Deutschland", "România", "المملكة العربية السعودية"). This module maps
those spellings to the code and nothing else; matching ignores case, accents and punctuation.
"""

from __future__ import annotations

import re
import unicodedata
from functools import lru_cache

__all__ = ["SUPPORTED_COUNTRIES", "parse_country"]

_NAMES: dict[str, tuple[str, ...]] = {
    "RO": ("ROU", "Romania", "România", "Rumänien", "Roumanie"),
    "NL": ("NLD", "Netherlands", "The Netherlands", "Holland", "Nederland", "Niederlande"),
    "DE": ("DEU", "Germany", "Deutschland", "Allemagne", "Germania", "Alemania", "Niemcy"),
    "FR": ("FRA", "France", "Frankreich", "Francia", "Francja"),
    "IT": ("ITA", "Italy", "Italia", "Italien", "Italie", "Włochy"),
    "ES": ("ESP", "Spain", "España", "Spanien", "Espagne", "Spagna", "Hiszpania"),
    "PL": ("POL", "Poland", "Polska", "Polen", "Pologne", "Polonia"),
    "IE": ("IRL", "Ireland", "Éire", "Republic of Ireland", "Irland", "Irlande"),
    "GB": (
        "GBR",
        "UK",
        "United Kingdom",
        "Great Britain",
        "Britain",
        "England",
        "Scotland",
        "Wales",
        "Northern Ireland",
        "Vereinigtes Königreich",
        "Royaume-Uni",
    ),
    "AE": (
        "ARE",
        "UAE",
        "United Arab Emirates",
        "Emirates",
        "الإمارات",
        "الإمارات العربية المتحدة",
    ),
    "SA": (
        "SAU",
        "KSA",
        "Saudi Arabia",
        "Kingdom of Saudi Arabia",
        "السعودية",
        "المملكة العربية السعودية",
    ),
    "CZ": ("CZE", "Czechia", "Czech Republic", "Česko", "Česká republika", "Tschechien"),
    "QA": ("QAT", "Qatar", "State of Qatar", "قطر", "Katar"),
}

SUPPORTED_COUNTRIES: frozenset[str] = frozenset(_NAMES)


def _key(text: str) -> str:
    decomposed = unicodedata.normalize("NFKD", text.casefold())
    # Drop combining marks (accents, and Arabic short vowels) and anything that is not a letter.
    letters = "".join(c for c in decomposed if not unicodedata.combining(c))
    return re.sub(r"[\W_]+", "", letters)


_LOOKUP: dict[str, str] = {
    _key(spelling): code for code, names in _NAMES.items() for spelling in (code, *names)
}


@lru_cache(maxsize=4096)  # exports repeat a handful of spellings a million times
def parse_country(text: str) -> str | None:
    """The ISO alpha-2 code for a spelling of a supported country, or None if not recognised."""
    return _LOOKUP.get(_key(text)) if text.strip() else None
