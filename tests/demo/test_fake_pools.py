"""Per-country pools of fake personal data: local scripts, ASCII e-mail forms, determinism."""

from __future__ import annotations

from retention.demo.fake_pools import COUNTRIES, ascii_fold, build_pools


class TestPools:
    def test_one_pool_per_country_in_order(self) -> None:
        """Pools line up with COUNTRIES so a drawn index names the pool's country."""
        assert [p.country for p in build_pools(11)] == [c.code for c in COUNTRIES]

    def test_pools_are_deterministic_per_seed(self) -> None:
        """The same seed builds the same pools (from a fresh cache too)."""
        first = build_pools(12)
        build_pools.cache_clear()
        assert build_pools(12) == first

    def test_romanian_pool_keeps_diacritics(self) -> None:
        """Romanian names keep comma-below ș/ț and breve/circumflex letters."""
        ro = next(p for p in build_pools(11) if p.country == "RO")
        names = "".join(n for n, _ in ro.first_names + ro.last_names)
        assert set("șțăâî") & set(names.lower())


class TestAsciiFold:
    def test_latin_names_fold_to_ascii(self) -> None:
        """Accented Latin names become lower-case ASCII for e-mail local parts."""
        assert ascii_fold("Ștefănescu") == "stefanescu"
        assert ascii_fold("Łukasz") == "lukasz"
        assert ascii_fold("Hans-Günter") == "hans-gunter"

    def test_arabic_names_have_no_ascii_form(self) -> None:
        """A name in Arabic script has no ASCII fold; the seeder uses a user name instead."""
        assert ascii_fold("زيد") == ""
