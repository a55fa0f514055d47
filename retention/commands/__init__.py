"""The `gdpr` command groups, one module each; only `cli.py` imports them (it registers them on the root group)."""
