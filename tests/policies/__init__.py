"""The policy language (parser, linter, formatter, evaluator) and its SQL compilation; the SQL
suites draw records from `tests.policies.strategies` and compare with the Python evaluator."""
