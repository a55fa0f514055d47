"""report.html of an evidence pack: one self-contained page a person reads, with inline SVG charts.

An auditor opens it offline, possibly on a locked-down machine, so the page carries everything in
itself: styles inline, charts as inline SVG drawn here from the figures, no script, no font, image
or link to fetch. Rendering is a pure function of `ReportData`, every value HTML-escaped; it holds
no personal data because its inputs hold none (UUIDs, countries, counts, principals' names).
"""

from __future__ import annotations

import statistics
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from html import escape
from typing import Any

from retention.evidence.pack import PackPeriod
from retention.evidence.sources import GRANTS_HEADER

__all__ = ["ACTION_COLORS", "ReportData", "bar_chart_svg", "render_report"]

ACTION_COLORS: Mapping[str, str] = {
    "anonymize": "#2b6cb0",
    "delete": "#c53030",
    "block": "#d69e2e",
    "review": "#38a169",
}


@dataclass(frozen=True)
class ReportData:
    """Every figure the report shows, gathered by the export."""

    origin: str
    period: PackPeriod
    created_at: str
    fingerprint: str
    verifier_key: str
    checkpoint_size: int
    checkpoint_root: str
    consistency_from: int | None
    policy_set_hash: str | None
    policy_files: tuple[tuple[str, str], ...]
    referenced_policy_hashes: tuple[str, ...]
    actions_by_month: Mapping[tuple[str, str, str], int]
    action_rows: int
    backlog: tuple[tuple[str, int | str, int, int, int, str, int], ...]
    backlog_at: str
    coverage: tuple[Any, ...] = ()
    consents: tuple[tuple[Any, ...], ...] = ()
    propagation: tuple[tuple[Any, ...], ...] = ()
    # consent-renewals.csv rows: country, purpose, expiring_30d, asked, reminded, renewed,
    # withdrawn, expired_unanswered, renewal_rate
    renewals: tuple[tuple[Any, ...], ...] = ()
    grants: tuple[tuple[Any, ...], ...] = ()
    activity: tuple[tuple[str, int, int], ...] = ()
    holds_count: int = 0
    reviews_count: int = 0
    requests: tuple[tuple[str, ...], ...] = ()  # the rows of requests.csv
    requests_overdue: int = 0  # open and past their deadline when the pack was made
    missing: tuple[str, ...] = field(default_factory=tuple)


def _e(value: object) -> str:
    return escape("" if value is None else str(value), quote=True)


def _table(header: Sequence[str], rows: Sequence[Sequence[object]], empty: str) -> str:
    if not rows:
        return f'<p class="empty">{_e(empty)}</p>'
    head = "".join(f"<th>{_e(h)}</th>" for h in header)
    body = "".join("<tr>" + "".join(f"<td>{_e(c)}</td>" for c in row) + "</tr>" for row in rows)
    return f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


def bar_chart_svg(
    groups: Sequence[str],
    series: Sequence[str],
    stacks: Sequence[str],
    value: Mapping[tuple[str, str, str], int],
    *,
    title: str,
    colors: Mapping[str, str] = ACTION_COLORS,
) -> str:
    """Grouped stacked bars: one group per `groups` item (months), one bar per `series` item
    (countries), each bar stacked by `stacks` (actions). Drawn as plain SVG shapes."""
    if not groups or not series:
        return f'<p class="empty">{_e(title)}: nothing to chart.</p>'
    totals = [sum(value.get((g, s, k), 0) for k in stacks) for g in groups for s in series]
    top = max(max(totals), 1)
    bar_w, gap, left, plot_h, top_pad = 18, 14, 48, 200, 24
    group_w = len(series) * bar_w + gap
    width = max(left + len(groups) * group_w + 20, left + 90 * len(stacks))
    height = top_pad + plot_h + 60
    parts = [
        f'<svg class="chart" role="img" aria-label="{_e(title)}" width="{width}" '
        f'height="{height}" viewBox="0 0 {width} {height}">',
        f"<title>{_e(title)}</title>",
    ]
    for tick in range(5):
        v = round(top * tick / 4)
        y = top_pad + plot_h - plot_h * v / top
        parts.append(
            f'<line x1="{left}" x2="{width - 10}" y1="{y:.1f}" y2="{y:.1f}" class="grid"/>'
            f'<text x="{left - 6}" y="{y + 4:.1f}" text-anchor="end" class="tick">{v}</text>'
        )
    for gi, group in enumerate(groups):
        gx = left + gi * group_w + gap / 2
        for si, s in enumerate(series):
            x = gx + si * bar_w
            y = top_pad + plot_h
            for k in stacks:
                n = value.get((group, s, k), 0)
                if not n:
                    continue
                h = plot_h * n / top
                y -= h
                parts.append(
                    f'<rect x="{x:.1f}" y="{y:.1f}" width="{bar_w - 2}" height="{h:.1f}" '
                    f'fill="{colors.get(k, "#718096")}">'
                    f"<title>{_e(group)} {_e(s)} {_e(k)}: {n}</title></rect>"
                )
            parts.append(
                f'<text x="{x + bar_w / 2 - 1:.1f}" y="{top_pad + plot_h + 14}" '
                f'text-anchor="middle" class="tick">{_e(s)}</text>'
            )
        parts.append(
            f'<text x="{gx + len(series) * bar_w / 2:.1f}" y="{top_pad + plot_h + 32}" '
            f'text-anchor="middle" class="label">{_e(group)}</text>'
        )
    lx = left
    for k in stacks:
        parts.append(
            f'<rect x="{lx}" y="{height - 16}" width="10" height="10" '
            f'fill="{colors.get(k, "#718096")}"/>'
            f'<text x="{lx + 14}" y="{height - 7}" class="tick">{_e(k)}</text>'
        )
        lx += 90
    parts.append("</svg>")
    return "".join(parts)


def coverage_svg(rows: Sequence[tuple[str, float]], *, title: str) -> str:
    """Horizontal percentage bars (consent coverage per country and purpose)."""
    if not rows:
        return f'<p class="empty">{_e(title)}: nothing to chart.</p>'
    left, bar_h, width = 150, 18, 520
    height = len(rows) * (bar_h + 6) + 10
    parts = [
        f'<svg class="chart" role="img" aria-label="{_e(title)}" width="{width}" '
        f'height="{height}" viewBox="0 0 {width} {height}"><title>{_e(title)}</title>'
    ]
    for i, (label, share) in enumerate(rows):
        y = 5 + i * (bar_h + 6)
        w = (width - left - 60) * share
        parts.append(
            f'<text x="{left - 6}" y="{y + 13}" text-anchor="end" class="tick">{_e(label)}</text>'
            f'<rect x="{left}" y="{y}" width="{width - left - 60}" height="{bar_h}" class="track"/>'
            f'<rect x="{left}" y="{y}" width="{w:.1f}" height="{bar_h}" fill="#2b6cb0"/>'
            f'<text x="{left + w + 4:.1f}" y="{y + 13}" class="tick">{share:.0%}</text>'
        )
    parts.append("</svg>")
    return "".join(parts)


_STYLE = """
body{font:14px/1.45 system-ui,-apple-system,"Segoe UI",sans-serif;margin:2rem auto;max-width:980px;
color:#1a202c;padding:0 1rem}
h1{font-size:1.6rem;margin-bottom:.2rem}h2{margin-top:2rem;border-bottom:1px solid #cbd5e0}
table{border-collapse:collapse;margin:.5rem 0;font-size:13px}
th,td{border:1px solid #cbd5e0;padding:3px 8px;text-align:left;vertical-align:top}
th{background:#edf2f7}code,.mono{font-family:ui-monospace,monospace;font-size:12px;word-break:break-all}
.ok{color:#276749;font-weight:600}.empty{color:#718096;font-style:italic}
.chart .grid{stroke:#e2e8f0}.chart .tick{font-size:10px;fill:#4a5568}
.chart .label{font-size:11px;fill:#1a202c}.chart .track{fill:#edf2f7}
.note{background:#fffaf0;border-left:4px solid #d69e2e;padding:.4rem .8rem}
"""


def _requests_section(d: ReportData) -> list[str]:
    """Data-subject requests: per type and month received, median days to close, the share
    answered on time (fulfilled or refused by the end of the due day), and overdue now."""
    per: dict[tuple[str, str], int] = {}
    for row in d.requests:
        per[(row[3][:7], row[1])] = per.get((row[3][:7], row[1]), 0) + 1
    days = sorted(int(r[8]) for r in d.requests if r[8])
    answered = [r for r in d.requests if r[7] in ("fulfilled", "refused")]
    on_time = sum(1 for r in answered if r[9] == "yes")
    median = "-" if not days else str(statistics.median(days))
    share = "-" if not answered else f"{on_time / len(answered):.0%}"
    return [
        "<h2>Data-subject requests</h2>",
        _table(
            ["month received", "type", "requests"],
            [[m, t, n] for (m, t), n in sorted(per.items())],
            "No data-subject request was open during the period.",
        ),
        f"<p>{len(days)} closed during the period, median {median} days to close; "
        f"{share} of {len(answered)} answered (fulfilled or refused) on time; "
        f"{d.requests_overdue} open and overdue when the pack was made (requests.csv).</p>",
    ]


RENEWAL_COLUMNS = (
    "country",
    "purpose",
    "expiring_30d",
    "asked",
    "reminded",
    "renewed",
    "withdrawn",
    "expired_unanswered",
    "renewal_rate",
)
RENEWAL_COLORS: Mapping[str, str] = {
    "renewed": "#38a169",
    "withdrawn": "#c53030",
    "expired unanswered": "#718096",
    "no answer yet": "#d69e2e",
}


def renewal_chart(rows: Sequence[Sequence[Any]]) -> str:
    """One bar per country and purpose: its asks, stacked by how they ended."""
    groups = [f"{r[0]} {r[1]}" for r in rows if int(r[3])]
    value: dict[tuple[str, str, str], int] = {}
    for r in rows:
        asked, renewed, withdrawn, expired = int(r[3]), int(r[5]), int(r[6]), int(r[7])
        if not asked:
            continue
        g = f"{r[0]} {r[1]}"
        value[(g, "asks", "renewed")] = renewed
        value[(g, "asks", "withdrawn")] = withdrawn
        value[(g, "asks", "expired unanswered")] = expired
        value[(g, "asks", "no answer yet")] = max(asked - renewed - withdrawn - expired, 0)
    return bar_chart_svg(
        groups,
        ["asks"],
        list(RENEWAL_COLORS),
        value,
        title="Renewal asks and how they ended",
        colors=RENEWAL_COLORS,
    )


def render_report(d: ReportData) -> str:
    """The whole report.html."""
    p = d.period
    months = sorted({m for m, _, _ in d.actions_by_month})
    countries = sorted({c for _, c, _ in d.actions_by_month})
    kinds = [k for k in ACTION_COLORS if any(a == k for _, _, a in d.actions_by_month)]
    kinds += sorted({a for _, _, a in d.actions_by_month} - set(kinds))
    action_rows = [
        [m, c, *[d.actions_by_month.get((m, c, k), 0) for k in kinds]]
        for m in months
        for c in countries
        if any(d.actions_by_month.get((m, c, k), 0) for k in kinds)
    ]
    coverage_rows = [
        [
            r.country,
            r.purpose,
            r.subjects,
            r.covered,
            f"{(r.covered / r.subjects if r.subjects else 0):.0%}",
        ]
        for r in d.coverage
    ]
    coverage_chart = coverage_svg(
        [
            (f"{r.country} {r.purpose}", r.covered / r.subjects if r.subjects else 0.0)
            for r in d.coverage
        ],
        title="Consent coverage at the end of the period",
    )
    span = f"entries {p.first_seq} to {p.last_seq} ({p.entries})" if p.entries else "no entries"
    consistency = (
        f"consistent with the checkpoint of size {d.consistency_from} signed before the period"
        if d.consistency_from is not None
        else "no checkpoint was signed before the period, so no consistency proof is included"
    )
    policy_rows = [[name, digest] for name, digest in d.policy_files]
    missing = (
        '<div class="note"><p>Not available in this installation, so not in the pack:</p><ul>'
        + "".join(f"<li>{_e(m)}</li>" for m in d.missing)
        + "</ul></div>"
        if d.missing
        else ""
    )
    scope = f" &middot; country {_e(p.country)}" if p.country else ""
    sections = [
        f"<h1>Evidence pack: {_e(p.start_date)} to {_e(p.end_date)}{scope}</h1>",
        f"<p>Log <code>{_e(d.origin)}</code> &middot; period [{_e(p.start)}, {_e(p.end)}) "
        f"({_e(p.timezone)}) &middot; {_e(span)} &middot; made {_e(d.created_at)}</p>",
        missing,
        "<h2>Verification status</h2>",
        f'<p class="ok">Checked when the pack was made: every entry of the period hashes to its '
        f"chain link; the first and last entries are included in the signed checkpoint of size "
        f"{d.checkpoint_size}; {_e(consistency)}.</p>",
        f"<p>Checkpoint root <code>{_e(d.checkpoint_root)}</code><br>Verifier key "
        f"<code>{_e(d.verifier_key)}</code><br>Fingerprint (SHA-256 of verifier-key.txt) "
        f"<code>{_e(d.fingerprint)}</code></p>",
        "<h2>Policies in force</h2>",
        f"<p>Policy set hash <code>{_e(d.policy_set_hash or 'not given')}</code>. Hashes named by "
        f"the period's actions: "
        + (", ".join(f"<code>{_e(h)}</code>" for h in d.referenced_policy_hashes) or "none")
        + "</p>",
        _table(["file", "SHA-256"], policy_rows, "No policy texts in this pack."),
        "<h2>Retention actions per month and country</h2>",
        bar_chart_svg(months, countries, kinds, d.actions_by_month, title="Retention actions"),
        _table(["month", "country", *kinds], action_rows, "No retention actions in the period."),
        f"<p>{d.action_rows} actions, one line each in retention-actions.csv.</p>",
        f"<h2>Overdue backlog when the pack was made ({_e(d.backlog_at)})</h2>",
        "<p>Records due but not acted on, and why: due and waiting for the next sweep, under a "
        "legal hold (every action suspended), undecidable by the policies (no policy for the "
        "country, a missing date), waiting for a person's review; and retention actions of the "
        "period that ended in error.</p>",
        _table(
            [
                "country",
                "due, waiting for the sweep",
                "held",
                "undecidable",
                "in review",
                "oldest review since",
                "actions in error",
            ],
            [list(r) for r in d.backlog],
            "No backlog: nothing due, held, undecidable, in review or in error.",
        ),
        f"<p>{d.holds_count} legal holds active during the period (holds.csv); "
        f"{d.reviews_count} review items open during the period (reviews.csv).</p>",
        "<h2>Consent coverage</h2>",
        coverage_chart,
        _table(
            ["country", "purpose", "subjects", "with consent in force", "coverage"],
            coverage_rows,
            "No consents recorded.",
        ),
        _table(
            ["purpose", "country", "given", "withdrawn", "expired"],
            [list(r) for r in d.consents],
            "No consent given, withdrawn or expired during the period.",
        ),
        "<h2>Propagation to the systems that hold a copy</h2>",
        "<p>Per target (an <code>[integration.NAME]</code> with a url), every country: the "
        "anonymizations, deletions, blocks and erasures of the period it was to be told "
        "(written), the confirmations the audit log holds for the period "
        "(<code>integration.delivered</code>: a 2xx, or a 404 from Greenhouse for a candidate "
        "no longer there), the dead letters (<code>integration.dead</code>), and what was still "
        "waiting when the pack was made, with the oldest (propagation.csv).</p>",
        _table(
            ["target", "kind", "written", "reached", "dead", "pending", "oldest pending"],
            [list(r) for r in d.propagation],
            "No integration targets configured.",
        ),
        *_requests_section(d),
        "<h2>Consent renewals</h2>",
        "<p>Renewal campaigns of the period per country and purpose: consents asked to renew, "
        "and how each ask ended (renewed, withdrawn, expired without an answer after being "
        "asked; silence never renews). Expiring within 30 days is as of when the pack was made. "
        "The same figures as <code>gdpr consent report</code>, in consent-renewals.csv.</p>",
        renewal_chart(d.renewals),
        _table(
            [h.replace("_", " ") for h in RENEWAL_COLUMNS],
            [list(r) for r in d.renewals],
            "No renewal campaign in the period.",
        ),
        "<h2>Access</h2>",
        _table(
            [h.replace("_", " ") for h in GRANTS_HEADER],
            [list(g) for g in d.grants],
            "No grant records in this pack.",
        ),
        _table(
            ["principal", "allowed", "denied"],
            [list(a) for a in d.activity],
            "No audited activity in the period.",
        ),
        "<h2>How to verify</h2>",
        "<ol><li>Compare the fingerprint above with the one the DPO gave you on another channel "
        "(<code>sha256sum verifier-key.txt</code>).</li>"
        "<li>Run <code>gdpr evidence verify &lt;this folder&gt; --key &lt;verifier key file&gt;"
        "</code>, or follow VERIFY.md with sha256sum, openssl and a few lines of Python.</li></ol>",
    ]
    return (
        '<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">'
        f"<title>Evidence pack {_e(p.start_date)} to {_e(p.end_date)}</title>"
        f"<style>{_STYLE}</style></head><body>\n"
        + "\n".join(s for s in sections if s)
        + "\n</body></html>\n"
    )
