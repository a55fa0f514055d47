"""Which language a candidate is written to in: the recorded one, else their country's.

The templates exist for English and the languages of the shipped packs; a country without one
of those gets English. Arabic is written right to left.
"""

from __future__ import annotations

__all__ = ["LANGUAGES", "RTL", "direction", "language_for"]

LANGUAGES: tuple[str, ...] = ("en", "ro", "nl", "de", "fr", "it", "es", "pl", "cs", "ar")
RTL: frozenset[str] = frozenset({"ar"})

_BY_COUNTRY = {
    "RO": "ro",
    "MD": "ro",
    "NL": "nl",
    "BE": "nl",
    "DE": "de",
    "AT": "de",
    "LI": "de",
    "FR": "fr",
    "LU": "fr",
    "IT": "it",
    "ES": "es",
    "PL": "pl",
    "CZ": "cs",
    "SA": "ar",
    "AE": "ar",
    "QA": "ar",
}


def language_for(country: str | None, recorded: str | None = None) -> str:
    """The recorded language if templates exist for it, else the country's, else English."""
    if recorded in LANGUAGES:
        return str(recorded)
    return _BY_COUNTRY.get(country or "", "en")


def direction(language: str) -> str:
    """`rtl` or `ltr`, for the `dir` attribute."""
    return "rtl" if language in RTL else "ltr"
