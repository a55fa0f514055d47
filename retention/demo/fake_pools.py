"""Pools of realistic fake personal data per country, built once and drawn from at random.

Faker produces a few tens of thousands of values per second per core; a million candidates with
six personal fields each would spend minutes in it. Instead each country gets small pools (names
from the right Faker locale, real cities, phone numbers in the national mobile format, e-mail
domains) built once per seed, and the seeder draws from them with `random.Random`, which is two
orders of magnitude faster. Names keep their script and diacritics (Romanian ș/ț, Polish ł, Arabic
script for the Gulf states); e-mail local parts are ASCII transliterations of the chosen name.
"""

from __future__ import annotations

import random
import unicodedata
from dataclasses import dataclass
from functools import lru_cache

from faker import Faker

__all__ = ["COUNTRIES", "CountryProfile", "LocalePool", "build_pools"]


@dataclass(frozen=True)
class CountryProfile:
    """What makes a country's fake people look local."""

    code: str
    name_locale: str
    phone_prefix: str
    phone_pattern: str  # '#' is a random digit
    cities: tuple[str, ...]
    weight: int  # relative share of demo candidates


COUNTRIES: tuple[CountryProfile, ...] = (
    CountryProfile(
        "RO",
        "ro_RO",
        "+40",
        "7## ### ###",
        ("București", "Cluj-Napoca", "Timișoara", "Iași", "Constanța", "Brașov", "Craiova"),
        12,
    ),
    CountryProfile(
        "NL",
        "nl_NL",
        "+31",
        "6 #### ####",
        ("Amsterdam", "Rotterdam", "Den Haag", "Utrecht", "Eindhoven", "Groningen", "Tilburg"),
        10,
    ),
    CountryProfile(
        "DE",
        "de_DE",
        "+49",
        "15# #######",
        ("Berlin", "München", "Hamburg", "Köln", "Frankfurt am Main", "Stuttgart", "Düsseldorf"),
        14,
    ),
    CountryProfile(
        "FR",
        "fr_FR",
        "+33",
        "6 ## ## ## ##",
        ("Paris", "Lyon", "Marseille", "Toulouse", "Nantes", "Lille", "Montpellier"),
        12,
    ),
    CountryProfile(
        "IT",
        "it_IT",
        "+39",
        "3## ### ####",
        ("Roma", "Milano", "Napoli", "Torino", "Bologna", "Firenze", "Palermo"),
        9,
    ),
    CountryProfile(
        "ES",
        "es_ES",
        "+34",
        "6## ### ###",
        ("Madrid", "Barcelona", "Valencia", "Sevilla", "Zaragoza", "Málaga", "Bilbao"),
        9,
    ),
    CountryProfile(
        "PL",
        "pl_PL",
        "+48",
        "5## ### ###",
        ("Warszawa", "Kraków", "Łódź", "Wrocław", "Poznań", "Gdańsk", "Szczecin"),
        8,
    ),
    CountryProfile(
        "IE",
        "en_IE",
        "+353",
        "8# ### ####",
        ("Dublin", "Cork", "Limerick", "Galway", "Waterford", "Kilkenny"),
        5,
    ),
    CountryProfile(
        "GB",
        "en_GB",
        "+44",
        "7### ######",
        ("London", "Manchester", "Birmingham", "Leeds", "Glasgow", "Edinburgh", "Bristol"),
        9,
    ),
    CountryProfile(
        "AE",
        "ar_AA",
        "+971",
        "5# ### ####",
        ("دبي", "أبو ظبي", "الشارقة", "العين", "عجمان", "رأس الخيمة"),
        4,
    ),
    CountryProfile(
        "SA",
        "ar_SA",
        "+966",
        "5# ### ####",
        ("الرياض", "جدة", "مكة المكرمة", "المدينة المنورة", "الدمام", "الخبر"),
        4,
    ),
    CountryProfile(
        "CZ",
        "cs_CZ",
        "+420",
        "6## ### ###",
        ("Praha", "Brno", "Ostrava", "Plzeň", "Liberec", "Olomouc", "České Budějovice"),
        3,
    ),
    CountryProfile(
        "QA",
        "ar_AA",
        "+974",
        "#### ####",
        ("الدوحة", "الريان", "الوكرة", "الخور", "أم صلال"),
        2,
    ),
)

_NAMES_PER_POOL = 800
_PHONES_PER_POOL = 1000
_JOBS_PER_POOL = 120
_DOMAINS_PER_POOL = 12


@dataclass(frozen=True)
class LocalePool:
    """Drawable values for one country; names come paired with an ASCII form for e-mails."""

    country: str
    first_names: tuple[tuple[str, str], ...]  # (name, ascii for e-mail; may be empty)
    last_names: tuple[tuple[str, str], ...]
    user_names: tuple[str, ...]  # ASCII e-mail local parts for names without a Latin form
    domains: tuple[str, ...]
    phones: tuple[str, ...]
    cities: tuple[str, ...]
    positions: tuple[str, ...]


def ascii_fold(name: str) -> str:
    """Lower-case ASCII form of a Latin-script name for an e-mail local part ('' if none)."""
    decomposed = unicodedata.normalize("NFKD", name.replace("ł", "l").replace("Ł", "L"))
    kept = "".join(c for c in decomposed if c.isascii() and (c.isalnum() or c == "-"))
    return kept.lower().strip("-")


def _phones(profile: CountryProfile, rng: random.Random) -> tuple[str, ...]:
    out = []
    for _ in range(_PHONES_PER_POOL):
        digits = "".join(str(rng.randrange(10)) if c == "#" else c for c in profile.phone_pattern)
        out.append(f"{profile.phone_prefix} {digits}")
    return tuple(out)


def _pool(profile: CountryProfile, seed: int) -> LocalePool:
    fake = Faker(profile.name_locale)
    fake.seed_instance(seed)
    # Job titles come from the country's own locale where Faker has them (some fall back to English).
    jobs = Faker("en_GB" if profile.name_locale.startswith("ar") else profile.name_locale)
    jobs.seed_instance(seed)
    firsts = [fake.first_name() for _ in range(_NAMES_PER_POOL)]
    lasts = [fake.last_name() for _ in range(_NAMES_PER_POOL)]
    return LocalePool(
        country=profile.code,
        first_names=tuple((n, ascii_fold(n)) for n in firsts),
        last_names=tuple((n, ascii_fold(n)) for n in lasts),
        user_names=tuple(fake.user_name() for _ in range(_NAMES_PER_POOL // 4)),
        domains=tuple(fake.free_email_domain() for _ in range(_DOMAINS_PER_POOL)),
        phones=_phones(profile, random.Random(f"{seed}:{profile.code}:phones")),
        cities=profile.cities,
        positions=tuple(jobs.job()[:200] for _ in range(_JOBS_PER_POOL)),
    )


@lru_cache(maxsize=4)
def build_pools(seed: int) -> tuple[LocalePool, ...]:
    """One pool per country of `COUNTRIES`, in the same order; deterministic for a seed."""
    return tuple(_pool(profile, seed) for profile in COUNTRIES)
