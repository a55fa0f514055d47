"""The policy language: parse, check, format, evaluate and compile per-country retention rules.

Pure: imports nothing of the project and no ORM models. `retention` hands the SQL compiler a
ColumnMap and records the PolicySet's content hash next to every decision it acts on.
"""

from .durations import add_duration
from .errors import (
    Diagnostic,
    PolicyError,
    PolicyFileError,
    PolicyLintError,
    PolicySyntaxError,
    PolicyTestError,
)
from .evaluator import (
    Decision,
    ErrorCause,
    Evaluator,
    NextStage,
    Outcome,
    RecordError,
    evaluate,
    evaluator_for,
)
from .explain import Explanation, explain
from .files import decode_utf8, read_utf8
from .formatter import format_file, format_text
from .linter import lint
from .model import (
    Policy,
    PolicySet,
    build_policy_set,
    check_paths,
    default_policy_dir,
    load_default_policy_set,
    load_policy_set,
    policy_files,
    purposes_used,
)
from .nodes import Reminder, Renewal
from .parser import parse
from .policy_tests import PolicyTestResult, run_policy_tests
from .records import (
    Consent,
    Hold,
    Record,
    RecordFormatError,
    format_instant,
    parse_instant,
    record_from_json,
)
from .renewals import RenewalDates, expiry_after, renewal_dates, renewal_text
from .sql_compiler import (
    ColumnMap,
    CompiledPolicies,
    RuleSlot,
    compile_policies,
    consent_needed,
    decision_select,
)
from .sql_consent import (
    ConsentColumns,
    join_latest_consents,
    latest_consent,
    outerjoin_latest_consents,
)
from .sql_time import NaiveUTC

__all__ = [
    "ColumnMap",
    "CompiledPolicies",
    "Consent",
    "ConsentColumns",
    "Decision",
    "Diagnostic",
    "ErrorCause",
    "Evaluator",
    "Explanation",
    "Hold",
    "NaiveUTC",
    "NextStage",
    "Outcome",
    "Policy",
    "PolicyError",
    "PolicyFileError",
    "PolicyLintError",
    "PolicySet",
    "PolicySyntaxError",
    "PolicyTestError",
    "PolicyTestResult",
    "Record",
    "RecordError",
    "RecordFormatError",
    "Reminder",
    "Renewal",
    "RenewalDates",
    "RuleSlot",
    "add_duration",
    "build_policy_set",
    "check_paths",
    "compile_policies",
    "consent_needed",
    "decision_select",
    "decode_utf8",
    "default_policy_dir",
    "evaluate",
    "evaluator_for",
    "expiry_after",
    "explain",
    "format_file",
    "format_instant",
    "format_text",
    "join_latest_consents",
    "latest_consent",
    "lint",
    "load_default_policy_set",
    "load_policy_set",
    "outerjoin_latest_consents",
    "parse",
    "parse_instant",
    "policy_files",
    "purposes_used",
    "read_utf8",
    "record_from_json",
    "renewal_dates",
    "renewal_text",
    "run_policy_tests",
]
