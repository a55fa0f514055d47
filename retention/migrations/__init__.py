"""The alembic environment and revisions, shipped in the package (`retention:migrations`).

alembic loads `env.py` and `versions/` by path; no module imports this package, so it exports
nothing.
"""

__all__: list[str] = []
