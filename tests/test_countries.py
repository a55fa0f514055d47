"""Country spellings in exports map to the ISO codes the policies use."""

from __future__ import annotations

import pytest

from policies import load_default_policy_set
from retention.countries import SUPPORTED_COUNTRIES, country_code, parse_country
from retention.errors import BadInput


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


class TestCountryCode:
    @pytest.mark.parametrize(
        ("text", "code"), [("de", "DE"), (" NL ", "NL"), ("UK", "GB"), ("EL", "GR"), ("AT", "AT")]
    )
    def test_codes_and_aliases(self, text: str, code: str) -> None:
        """Codes the packs cover, in any case, and the common aliases, give the ISO code."""
        assert country_code(text) == code

    @pytest.mark.parametrize("text", ["XX", "US", "Germany", "", "D E"])
    def test_anything_else_refused(self, text: str) -> None:
        """A name, an uncovered code or a typo is bad input, not an empty result."""
        with pytest.raises(BadInput, match="not a country code the engine covers"):
            country_code(text)

    def test_every_policy_country_is_covered(self) -> None:
        """Every country a shipped pack names is a code the engine accepts."""
        named = set(load_default_policy_set().by_country)
        assert named <= SUPPORTED_COUNTRIES
