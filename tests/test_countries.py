"""Country spellings in exports map to the ISO codes the policies use."""

from __future__ import annotations

import pytest

from retention.countries import SUPPORTED_COUNTRIES, parse_country


class TestParseCountry:
    @pytest.mark.parametrize(
        ("spelling", "code"),
        [
            ("ro", "RO"),
            ("ROU", "RO"),
            ("România", "RO"),
            ("romania", "RO"),
            ("The Netherlands", "NL"),
            ("Deutschland", "DE"),
            ("España", "ES"),
            ("Espana", "ES"),
            ("Polska", "PL"),
            ("Éire", "IE"),
            ("U.K.", "GB"),
            ("United Kingdom", "GB"),
            ("UAE", "AE"),
            ("الإمارات العربية المتحدة", "AE"),
            ("المملكة العربية السعودية", "SA"),
            ("Česká republika", "CZ"),
            ("Qatar", "QA"),
        ],
    )
    def test_known_spellings(self, spelling: str, code: str) -> None:
        """Codes, English and local names, in any case and with or without accents, map to ISO."""
        assert parse_country(spelling) == code

    @pytest.mark.parametrize("spelling", ["", "  ", "US", "Narnia", "R O M"])
    def test_unknown_spellings(self, spelling: str) -> None:
        """Anything else is not guessed."""
        assert parse_country(spelling) is None

    def test_required_countries_are_supported(self) -> None:
        """The countries the issue names are all supported."""
        assert {
            "RO",
            "NL",
            "DE",
            "FR",
            "IT",
            "ES",
            "PL",
            "IE",
            "GB",
            "AE",
            "SA",
        } <= SUPPORTED_COUNTRIES
