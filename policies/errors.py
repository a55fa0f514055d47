"""Errors of the policy language: one base class, and located errors that show the source.

A DPO fixing a policy needs the file, line and column, the offending line and a caret, the way
jinja's TemplateSyntaxError shows them; every parse and lint failure goes through `Diagnostic`.
"""

from __future__ import annotations

from dataclasses import dataclass


class PolicyError(Exception):
    """Base of every error the policies package raises."""


@dataclass(frozen=True, slots=True)
class Diagnostic:
    """One located problem in a policy file."""

    file: str
    line: int
    column: int
    message: str
    source_line: str

    def render(self) -> str:
        """`file:line:col: message`, then the source line and a caret under the column."""
        caret = " " * (max(self.column, 1) - 1) + "^"
        return f"{self.file}:{self.line}:{self.column}: {self.message}\n{self.source_line}\n{caret}"


def diagnostic_at(file: str, text: str, line: int, column: int, message: str) -> Diagnostic:
    """Build a diagnostic, cutting the source line out of `text`."""
    lines = text.splitlines()
    source = lines[line - 1] if 0 < line <= len(lines) else ""
    return Diagnostic(file, line, column, message, source.rstrip("\r\n"))


class PolicySyntaxError(PolicyError):
    """The text is not a policy: says where, and what was expected there."""

    def __init__(self, diagnostic: Diagnostic) -> None:
        super().__init__(diagnostic.render())
        self.diagnostic = diagnostic

    @property
    def file(self) -> str:
        return self.diagnostic.file

    @property
    def line(self) -> int:
        return self.diagnostic.line

    @property
    def column(self) -> int:
        return self.diagnostic.column

    @property
    def message(self) -> str:
        return self.diagnostic.message


class PolicyLintError(PolicyError):
    """Policies parse but break the schema or the rules of the language; holds every finding."""

    def __init__(self, diagnostics: tuple[Diagnostic, ...]) -> None:
        super().__init__("\n".join(d.render() for d in diagnostics))
        self.diagnostics = diagnostics


class PolicyTestError(PolicyError):
    """A policy test file cannot be read (not a failing expectation: those are results)."""


class PolicyFileError(PolicyError):
    """A policy, test or records file that cannot be read as text (not UTF-8)."""
