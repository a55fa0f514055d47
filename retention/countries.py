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

from retention.errors import BadInput

__all__ = ["CODE_ALIASES", "SUPPORTED_COUNTRIES", "country_code", "parse_country"]

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
    # The EEA countries without a pack of their own, which the EU baseline policy covers.
    "AT": ("AUT", "Austria", "Österreich"),
    "BE": ("BEL", "Belgium", "België", "Belgique", "Belgien"),
    "BG": ("BGR", "Bulgaria", "България"),
    "CY": ("CYP", "Cyprus", "Κύπρος"),
    "DK": ("DNK", "Denmark", "Danmark"),
    "EE": ("EST", "Estonia", "Eesti"),
    "FI": ("FIN", "Finland", "Suomi"),
    "GR": ("GRC", "EL", "Greece", "Ελλάδα", "Hellas"),
    "HR": ("HRV", "Croatia", "Hrvatska"),
    "HU": ("HUN", "Hungary", "Magyarország"),
    "LT": ("LTU", "Lithuania", "Lietuva"),
    "LU": ("LUX", "Luxembourg", "Lëtzebuerg", "Luxemburg"),
    "LV": ("LVA", "Latvia", "Latvija"),
    "MT": ("MLT", "Malta"),
    "PT": ("PRT", "Portugal"),
    "SE": ("SWE", "Sweden", "Sverige"),
    "SI": ("SVN", "Slovenia", "Slovenija"),
    "SK": ("SVK", "Slovakia", "Slovensko"),
    "IS": ("ISL", "Iceland", "Ísland"),
    "LI": ("LIE", "Liechtenstein"),
    "NO": ("NOR", "Norway", "Norge", "Noreg"),
}

# Two-letter spellings that are not the ISO code but that people write for it: the UK's own
# abbreviation, and the code the EU institutions use for Greece.
CODE_ALIASES: dict[str, str] = {"UK": "GB", "EL": "GR"}

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


def country_code(text: str, what: str = "--country") -> str:
    """An ISO 3166-1 alpha-2 code the engine covers (or an alias of one), else `BadInput`.

    Stricter than `parse_country`, which reads the names that ATS exports write: an option or a
    request field takes a code, so that a typo is an error instead of an empty result.
    """
    code = text.strip().upper()
    code = CODE_ALIASES.get(code, code)
    if code not in SUPPORTED_COUNTRIES:
        raise BadInput(
            f"{what}: '{text[:20]}' is not a country code the engine covers: use an ISO 3166-1 "
            f"alpha-2 code such as {', '.join(_EXAMPLES)} ('gdpr policy check' lists the packs)"
        )
    return code


_EXAMPLES = ("DE", "NL", "RO", "GB")
