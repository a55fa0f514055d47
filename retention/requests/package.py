"""What an access (Art. 15) or portability (Art. 20) answer holds, and the page a person reads.

`access_document` gathers, in the caller's transaction, everything Art. 15(1) and (2) list:
every personal field held (candidate, applications, consents, documents), the purposes and their
legal bases, the recipients, the source, the retention rule with its citation and end date (from
the policy explanation), the rights, and every access to the data from the audit log with proofs.
`portability_document` holds only what the candidate provided (Art. 20(1)). `access_html` renders
the access document as one self-contained page (no script, no external resource) to read offline.
"""

from __future__ import annotations

import csv
import html
import io
import json
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, select

from policies import PolicySet, RecordError
from retention.config import Config
from retention.requests.trail import TrailEntry, trail_json_text
from retention.store import Application, Consent, Document
from retention.subjects import candidate_dict, trace_subject

__all__ = [
    "ACCESS_FORMAT",
    "PORTABILITY_FORMAT",
    "PROVIDED_FIELDS",
    "RIGHTS",
    "access_document",
    "access_html",
    "access_package_json",
    "portability_csv",
    "portability_document",
    "rows_of",
]

ACCESS_FORMAT = "gdpr-access-package/1"
PORTABILITY_FORMAT = "gdpr-portability-package/1"

# What the candidate gave us (Art. 20(1) "provided by"): contact fields, not a recruiter's notes.
PROVIDED_FIELDS = ("external_ref", "first_name", "last_name", "email", "phone", "city")

RIGHTS = (
    ("Art. 15", "to access the personal data held about you and a copy of it"),
    ("Art. 16", "to have inaccurate data corrected and incomplete data completed"),
    ("Art. 17", "to have your data erased, unless it must be kept (for instance a legal claim)"),
    ("Art. 18", "to have the processing restricted while accuracy or an objection is checked"),
    ("Art. 20", "to receive the data you provided in a machine-readable format"),
    ("Art. 21", "to object to processing based on legitimate interests"),
    ("Art. 7(3)", "to withdraw a consent at any time, as easily as you gave it"),
    ("Art. 77", "to lodge a complaint with a supervisory authority"),
)

_RECRUITMENT = {
    "purpose": "recruitment (assessing your application)",
    "legal_basis": "Art. 6(1)(b): steps taken at your request before entering into a contract",
}


def rows_of(conn: Connection, model: Any, subject_id: Any, order: Any) -> list[dict[str, Any]]:
    found = conn.execute(select(model).where(model.candidate_id == subject_id).order_by(order))
    return [{c: getattr(r, c) for c in model.model_fields} for r in found]


def _retention(policy_set: PolicySet, conn: Connection, subject: Any, at: datetime) -> Any:
    trace = trace_subject(conn, policy_set, subject, at)
    outcome = trace.outcome
    if isinstance(outcome, RecordError):
        return {"error": outcome.message, "trace": list(trace.lines)}
    return {
        "policy": outcome.policy,
        "rule": outcome.rule,
        "action": outcome.action,
        "ends_at": None if outcome.due_at is None else outcome.due_at.isoformat(),
        "cite": outcome.cite,
        "next": None
        if outcome.next is None
        else {"action": outcome.next.action, "at": outcome.next.due_at.isoformat()},
        "held": outcome.held,
        "trace": list(trace.lines),
    }


def access_document(
    conn: Connection,
    config: Config,
    policy_set: PolicySet,
    subject: Any,
    request: dict[str, Any],
    at: datetime,
    checkpoint: dict[str, Any],
) -> dict[str, Any]:
    """The Art. 15 answer for `subject` (a candidate row) as of `at`, but for its accesses: the
    trail, with its proofs, is written beside it by `access_package_json` and `access_html`."""
    consents = rows_of(conn, Consent, subject.id, Consent.given_at)
    documents = rows_of(conn, Document, subject.id, Document.created_at)
    for d in documents:
        d["file"] = f"documents/{d['id']}"
    purposes = [dict(_RECRUITMENT)]
    for c in consents:
        purposes.append(
            {
                "purpose": c["purpose"],
                "legal_basis": "Art. 6(1)(a): your consent",
                "given_at": c["given_at"],
                "expires_at": c["expires_at"],
                "withdrawn_at": c["withdrawn_at"],
            }
        )
    purposes.append(
        {
            "purpose": "keeping the record after the decision, as the retention rule says",
            "legal_basis": "Art. 6(1)(c) and (f): legal obligations and defending legal claims",
        }
    )
    source = ["provided by you when you applied"]
    if subject.external_ref:
        source.append(f"our applicant tracking system (reference {subject.external_ref})")
    return {
        "format": ACCESS_FORMAT,
        "generated_at": at.isoformat(),
        "request": request,
        "subject": candidate_dict(subject),
        "applications": rows_of(conn, Application, subject.id, Application.id),
        "consents": consents,
        "documents": documents,
        "purposes": purposes,
        "recipients": {
            "processors": list(config.requests.processors),
            "connected_systems": [i.name for i in config.integrations],
        },
        "source": source,
        "retention": _retention(policy_set, conn, subject, at),
        "rights": [{"article": a, "right": r} for a, r in RIGHTS],
        "checkpoint": checkpoint,
    }


def access_package_json(document: dict[str, Any], trail: Sequence[TrailEntry]) -> bytes:
    """The package's JSON file: the document with its "accesses" (each entry with its proof),
    compact with sorted keys, exactly as `json.dumps` writes the whole (`{**document,
    "accesses": [t.to_json() for t in trail]}`, sort_keys, compact separators, `str` for
    instants).

    The accesses, most of the file, are written as text by `trail_json_text`; the rest by
    `json.dumps`, with "accesses" (first of the sorted keys) put in its place. Compact: an
    indent falls back to the Python encoder, ten times slower; people read the HTML page."""
    if "accesses" in document:
        raise ValueError("the document's accesses come from the trail")
    rest = json.dumps(
        {**document, "accesses": []}, sort_keys=True, default=str, separators=(",", ":")
    )
    empty = '{"accesses":[]'
    if not rest.startswith(empty):  # another key sorts first: not this format
        raise ValueError("the access document's first key must be accesses")
    return f'{{"accesses":{trail_json_text(trail)}{rest[len(empty) :]}\n'.encode()


def portability_document(
    conn: Connection, subject: Any, request: dict[str, Any], at: datetime
) -> dict[str, Any]:
    """The Art. 20 answer: the data the candidate provided, structured."""
    record = candidate_dict(subject)
    applications = [
        {k: a[k] for k in ("position", "applied_at")}
        for a in rows_of(conn, Application, subject.id, Application.id)
    ]
    consents = [
        {k: c[k] for k in ("purpose", "notice_version", "channel", "given_at", "withdrawn_at")}
        for c in rows_of(conn, Consent, subject.id, Consent.given_at)
    ]
    documents = rows_of(conn, Document, subject.id, Document.created_at)
    return {
        "format": PORTABILITY_FORMAT,
        "generated_at": at.isoformat(),
        "request": request,
        "candidate": {k: record[k] for k in PROVIDED_FIELDS},
        "applications": applications,
        "consents": consents,
        "documents": [
            {
                "file": f"documents/{d['id']}",
                "kind": d["kind"],
                "media_type": d["media_type"],
                "sha256": d["sha256"],
            }
            for d in documents
        ],
    }


def portability_csv(rows: Sequence[dict[str, Any]]) -> str:
    """One CSV table (header row first) of flat rows."""
    out = io.StringIO()
    if rows:
        writer = csv.DictWriter(out, fieldnames=list(rows[0]), lineterminator="\n")
        writer.writeheader()
        for row in rows:
            writer.writerow({k: _cell(v) for k, v in row.items()})
    return out.getvalue()


def _cell(value: Any) -> str:
    if value is None:
        return ""
    return value.isoformat() if isinstance(value, datetime) else str(value)


_CSS = (
    "body{font:15px/1.5 system-ui,sans-serif;max-width:60rem;margin:2rem auto;padding:0 1rem}"
    "table{border-collapse:collapse;width:100%;margin:.5rem 0 1.5rem}"
    "th,td{border:1px solid #ccc;padding:.25rem .5rem;text-align:left;vertical-align:top}"
    "th{background:#f3f3f3}code,pre{font-size:12px;word-break:break-all;white-space:pre-wrap}"
)


def _text(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, dict | list):
        return json.dumps(value, default=str, sort_keys=True)
    return str(value)


def _table(rows: Sequence[dict[str, Any]], columns: Sequence[str] | None = None) -> str:
    if not rows:
        return "<p>None.</p>"
    cols = list(columns or rows[0])
    head = "".join(f"<th>{html.escape(c)}</th>" for c in cols)
    body = "".join(
        "<tr>" + "".join(f"<td>{html.escape(_text(r.get(c)))}</td>" for c in cols) + "</tr>"
        for r in rows
    )
    return f"<table><tr>{head}</tr>{body}</table>"


_ACCESS_COLUMNS = ("at", "operation", "role", "reason", "outcome", "seq")


def _accesses_table(trail: Sequence[TrailEntry]) -> str:
    """The table of accesses, as `_table` renders their rows, made for thousands of rows: each
    distinct value escaped once (a trail repeats its operations, roles, reasons and outcomes),
    the sequence number (an integer) not escaped at all, one join for the page."""
    if not trail:
        return "<p>None.</p>"
    escaped: dict[Any, str] = {}

    def cell(value: Any) -> str:
        found = escaped.get(value)
        if found is None:
            found = escaped[value] = html.escape(_text(value))
        return found

    head = "".join(f"<th>{c}</th>" for c in _ACCESS_COLUMNS)
    body = "".join([
        f"<tr><td>{cell(t.at)}</td><td>{cell(t.operation)}</td><td>{cell(t.role)}</td>"
        f"<td>{cell(t.reason)}</td><td>{cell(t.outcome)}</td><td>{int(t.seq)}</td></tr>"
        for t in trail
    ])  # fmt: skip
    return f"<table><tr>{head}</tr>{body}</table>"


def access_html(document: dict[str, Any], trail: Sequence[TrailEntry]) -> str:
    """The access document and its trail as a page a person reads offline (every value
    escaped; each access's proof is in the JSON file, as the page says)."""
    e = html.escape
    subject = [{"field": k, "value": v} for k, v in document["subject"].items()]
    documents = [{**d, "file": d["file"]} for d in document["documents"]]
    doc_rows = "".join(
        f'<tr><td><a href="{e(d["file"])}">{e(d["kind"])}</a></td><td>{e(d["media_type"])}</td>'
        f"<td>{e(str(d['size']))}</td><td><code>{e(d['sha256'])}</code></td></tr>"
        for d in documents
    )
    retention = document["retention"]
    recipients = document["recipients"]
    recipient_rows = [{"recipient": p, "kind": "processor"} for p in recipients["processors"]] + [
        {"recipient": s, "kind": "connected system"} for s in recipients["connected_systems"]
    ]
    parts = [
        "<!doctype html><html lang=en><meta charset=utf-8>",
        "<title>The personal data we hold about you</title>",
        f"<style>{_CSS}</style>",
        "<h1>The personal data we hold about you</h1>",
        f"<p>Answer to request <code>{e(document['request']['id'])}</code>, received "
        f"{e(document['request']['received_at'])}, prepared {e(document['generated_at'])}.</p>",
        "<h2>Your record</h2>",
        _table(subject),
        "<h2>Applications</h2>",
        _table(document["applications"]),
        "<h2>Consents</h2>",
        _table(document["consents"]),
        "<h2>Documents</h2>",
        "<p>The files are in the <code>documents</code> folder next to this page.</p>",
        f"<table><tr><th>kind</th><th>type</th><th>bytes</th><th>sha256</th></tr>{doc_rows}</table>"
        if documents
        else "<p>None.</p>",
        "<h2>Why we hold it (purposes and legal bases)</h2>",
        _table(document["purposes"], ["purpose", "legal_basis", "given_at", "withdrawn_at"]),
        "<h2>Who receives it</h2>",
        _table(recipient_rows),
        "<h2>Where it came from</h2>",
        "<ul>" + "".join(f"<li>{e(s)}</li>" for s in document["source"]) + "</ul>",
        "<h2>How long we keep it</h2>",
        f"<p>{e(_retention_sentence(retention))}</p>",
        "<h2>Your rights</h2>",
        _table(document["rights"]),
        "<h2>Every access to your data</h2>",
        "<p>From our tamper-evident audit log: the role of the person or system, never their "
        "name. Each line has a proof (in <code>package.json</code>) that it is in the log "
        f"whose signed checkpoint of {e(str(document['checkpoint']['size']))} entries is "
        "below.</p>",
        _accesses_table(trail),
        "<h2>Signed checkpoint</h2>",
        f"<pre>{e(document['checkpoint']['note'])}</pre>",
        f"<p>Verifier key: <code>{e(document['checkpoint']['verifier_key'])}</code></p>",
        "</html>",
    ]
    return "\n".join(parts) + "\n"


def _retention_sentence(retention: dict[str, Any]) -> str:
    if "error" in retention:
        return f"No retention rule decides your record yet ({retention['error']})."
    when = retention["ends_at"] or "no fixed date"
    held = " A legal hold currently suspends it." if retention["held"] else ""
    return (
        f"Rule {retention['rule']} of policy {retention['policy']}: {retention['action']} on "
        f"{when} (source: {retention['cite']}).{held}"
    )
