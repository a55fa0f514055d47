"""Principals, grants, the guard, authorization and the access review, on the shared `world`
(tests/conftest.py, built by `tests.access_support`)."""
