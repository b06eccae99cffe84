"""Render a posture report as JSON, SARIF 2.1.0, JUnit XML, Markdown or CSV.

Renderers are pure functions of the report (and the set of risk-accepted findings), so CI
output is reproducible. They print findings' messages and evidence, which never contain a
secret (checks only see references).
"""

from __future__ import annotations

import csv
import hashlib
import io
import json
import re
import xml.etree.ElementTree as ET
from collections.abc import Callable
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path
from typing import Any

from ringfence.posture.catalogue import CheckMeta, Severity
from ringfence.posture.engine import Finding, PostureReport

FORMATS = ("json", "sarif", "junit", "markdown", "csv")
SARIF_SCHEMA = "https://json.schemastore.org/sarif-2.1.0.json"
_SARIF_LEVEL = {
    Severity.CRITICAL: "error",
    Severity.HIGH: "error",
    Severity.MEDIUM: "warning",
    Severity.LOW: "note",
    Severity.INFO: "note",
}
_SECURITY_SEVERITY = {
    Severity.CRITICAL: "9.5",
    Severity.HIGH: "8.0",
    Severity.MEDIUM: "5.5",
    Severity.LOW: "3.0",
    Severity.INFO: "0.0",
}
Key = tuple[str, str, str]


def _version() -> str:
    try:
        return version("ringfence")
    except PackageNotFoundError:
        return "0.0.0"


def _key(f: Finding) -> Key:
    return (f.meta.id, f.failure.resource_type, f.failure.resource_id)


def _status(f: Finding, accepted: set[Key]) -> str:
    return "risk_accepted" if _key(f) in accepted else "open"


def render_json(report: PostureReport, accepted: set[Key] | None = None) -> str:
    accepted = accepted or set()
    return (
        json.dumps(
            {
                "generated_at": report.generated_at.isoformat(),
                "score": report.score(),
                "scores": {
                    "apps": report.resource_scores("app"),
                    "integrations": report.resource_scores("integration"),
                },
                "summary": report.counts(),
                "findings": [
                    {**f.to_dict(), "status": _status(f, accepted)} for f in report.findings
                ],
                "checks": [
                    {
                        "id": r.meta.id,
                        "title": r.meta.title,
                        "severity": r.meta.severity.label,
                        "status": r.status,
                        "reason": r.reason,
                        "failures": len(r.failures),
                    }
                    for r in report.results
                ],
            },
            indent=2,
            default=str,
        )
        + "\n"
    )


def _rule(meta: CheckMeta) -> dict[str, Any]:
    return {
        "id": meta.id,
        "name": "".join(w.capitalize() for w in meta.title.replace("-", " ").split()),
        "shortDescription": {"text": meta.title},
        "fullDescription": {"text": meta.rationale},
        "help": {"text": meta.remediation, "markdown": f"**Remediation:** {meta.remediation}"},
        "defaultConfiguration": {"level": _SARIF_LEVEL[meta.severity]},
        "properties": {
            "tags": ["security", meta.area],
            "problem.severity": _SARIF_LEVEL[meta.severity],
            "security-severity": _SECURITY_SEVERITY[meta.severity],
            **meta.mappings.as_dict(),
        },
    }


def render_sarif(
    report: PostureReport, accepted: set[Key] | None = None, artifact: str | None = None
) -> str:
    accepted = accepted or set()
    metas = [r.meta for r in report.results]
    index = {m.id: i for i, m in enumerate(metas)}
    lines = estate_lines(artifact) if artifact else {}
    results = []
    for f in report.findings:
        location: dict[str, Any] = {
            "logicalLocations": [
                {
                    "name": f.failure.resource_id,
                    "kind": "resource",
                    "fullyQualifiedName": f"{f.failure.resource_type}/{f.failure.resource_id}",
                }
            ]
        }
        if artifact:
            line = lines.get((f.failure.resource_type, f.failure.resource_id), 1)
            location["physicalLocation"] = {
                "artifactLocation": {"uri": artifact},
                "region": {"startLine": line},
            }

        result: dict[str, Any] = {
            "ruleId": f.meta.id,
            "ruleIndex": index[f.meta.id],
            "level": _SARIF_LEVEL[f.severity],
            "message": {"text": f.failure.message},
            "locations": [location],
            "partialFingerprints": {
                "ringfenceFinding/v1": hashlib.sha256("\x1f".join(_key(f)).encode()).hexdigest()
            },
            "properties": {"severity": f.severity.label, "evidence": f.failure.evidence},
        }
        if _key(f) in accepted:
            result["suppressions"] = [
                {
                    "kind": "external",
                    "status": "accepted",
                    "justification": "risk accepted in Ringfence",
                }
            ]
        results.append(result)
    doc = {
        "$schema": SARIF_SCHEMA,
        "version": "2.1.0",
        "runs": [
            {
                "tool": {
                    "driver": {
                        "name": "Ringfence",
                        "version": _version(),
                        "informationUri": "https://ringfence.dev/docs/posture",
                        "rules": [_rule(m) for m in metas],
                    }
                },
                "invocations": [
                    {
                        "executionSuccessful": all(r.status != "error" for r in report.results),
                        "endTimeUtc": report.generated_at.strftime("%Y-%m-%dT%H:%M:%SZ"),
                    }
                ],
                "results": results,
            }
        ],
    }
    return json.dumps(doc, indent=2, default=str) + "\n"


# Estate sections holding each resource type (for SARIF locations in ringfence.yaml).
_SECTIONS = {
    "apps": "app",
    "integrations": "integration",
    "credentials": "credential",
    "flows": "data_flow",
    "vendors": "vendor",
    "routes": "route",
}


def estate_lines(path: str) -> dict[tuple[str, str], int]:
    """(resource type, name) → 1-based line of its entry in the estate file ({} if unreadable)."""
    from ruamel.yaml import YAML
    from ruamel.yaml.error import YAMLError

    try:
        doc = YAML().load(Path(path).read_text(encoding="utf-8"))
    except (OSError, YAMLError, UnicodeDecodeError):
        return {}
    out: dict[tuple[str, str], int] = {}
    if not isinstance(doc, dict):
        return out
    for section, rtype in _SECTIONS.items():
        for item in doc.get(section) or []:
            if isinstance(item, dict) and "name" in item and hasattr(item, "lc"):
                out[(rtype, str(item["name"]))] = int(item.lc.line) + 1
    return out


# Characters XML 1.0 cannot carry (C0 controls but tab / LF / CR, lone surrogates, U+FFFE/F):
# a SaaS-supplied name holding one would make the whole JUnit file unreadable to CI.
_XML_ILLEGAL = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ud800-\udfff\ufffe\uffff]")


def _xml_text(value: str) -> str:
    return _XML_ILLEGAL.sub("\ufffd", value)


def render_junit(report: PostureReport, accepted: set[Key] | None = None) -> str:
    accepted = accepted or set()
    c = report.counts()
    suites = ET.Element(
        "testsuites",
        name="ringfence-posture",
        tests=str(c["checks"]),
        failures=str(c["failed"]),
        errors=str(c["errors"]),
        skipped=str(c["skipped"]),
    )
    suite = ET.SubElement(
        suites,
        "testsuite",
        name="ringfence-posture",
        tests=str(c["checks"]),
        failures=str(c["failed"]),
        errors=str(c["errors"]),
        skipped=str(c["skipped"]),
        timestamp=report.generated_at.strftime("%Y-%m-%dT%H:%M:%S"),
    )
    for r in report.results:
        case = ET.SubElement(
            suite,
            "testcase",
            classname=f"posture.{r.meta.area}",
            name=f"{r.meta.id} {r.meta.title}",
        )
        if r.status == "skip":
            ET.SubElement(case, "skipped", message=_xml_text(r.reason or ""))
        elif r.status == "error":
            ET.SubElement(case, "error", message=_xml_text(r.reason or ""), type="CheckError")
        elif r.status == "fail":
            lines = [
                f"[{r.meta.severity.label}] {f.resource_type}/{f.resource_id}: {f.message}"
                + (
                    " (risk accepted)"
                    if (r.meta.id, f.resource_type, f.resource_id) in accepted
                    else ""
                )
                for f in r.failures
            ]
            fail = ET.SubElement(
                case, "failure", message=f"{len(r.failures)} finding(s)", type=r.meta.severity.label
            )
            fail.text = _xml_text("\n".join(lines) + f"\nRemediation: {r.meta.remediation}")
    ET.indent(suites)
    return '<?xml version="1.0" encoding="UTF-8"?>\n' + ET.tostring(suites, "unicode") + "\n"


# Inline Markdown / HTML a name from a SaaS tenant could carry into a CI summary or a PR
# comment: links and images ([..](..), <a>, <img>), autolinks, emphasis, code spans, entities.
_MD_SPECIAL = re.compile(r"([\\`*_\[\]<>|~&])")
_MD_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f\u2028\u2029]")


def _md(text: str) -> str:
    """``text`` as literal Markdown on one line (a table cell or a list item): every character
    that would start inline markup or raw HTML is backslash-escaped, controls become spaces."""
    return _MD_SPECIAL.sub(r"\\\1", _MD_CONTROL.sub(" ", text))


def render_markdown(report: PostureReport, accepted: set[Key] | None = None) -> str:
    accepted = accepted or set()
    c = report.counts()
    out = [
        f"# Ringfence posture report — {report.generated_at:%Y-%m-%d %H:%M} UTC",
        "",
        f"Score **{report.score()}** / 100 · {c['checks']} checks: {c['passed']} passed, "
        f"{c['failed']} failed, {c['skipped']} skipped, {c['errors']} errors · "
        f"{c['findings']} findings",
        "",
        "| severity | count |",
        "|---|---|",
    ]
    out += [f"| {s.label} | {c['findings_' + s.label]} |" for s in reversed(Severity)]
    out += ["", "## Findings", ""]
    if not report.findings:
        out.append("No findings.")
    else:
        out += ["| severity | check | resource | finding | status |", "|---|---|---|---|---|"]
        out += [
            f"| {f.severity.label} | {f.meta.id} {_md(f.meta.title)} | "
            f"{_md(f.failure.resource_type)}/{_md(f.failure.resource_id)} | "
            f"{_md(f.failure.message)} | {_status(f, accepted)} |"
            for f in report.findings
        ]
    skipped = [r for r in report.results if r.status == "skip"]
    if skipped:
        out += ["", "## Skipped checks", ""]
        out += [f"- {r.meta.id} {_md(r.meta.title)}: {_md(r.reason or '')}" for r in skipped]
    return "\n".join(out) + "\n"


def render_csv(report: PostureReport, accepted: set[Key] | None = None) -> str:
    accepted = accepted or set()
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    w.writerow(
        ["check_id", "severity", "title", "resource_type", "resource_id", "message", "status"]
    )
    for f in report.findings:
        row = (
            f.meta.id,
            f.severity.label,
            f.meta.title,
            f.failure.resource_type,
            f.failure.resource_id,
            f.failure.message,
            _status(f, accepted),
        )
        w.writerow([_csv_safe(v) for v in row])
    return buf.getvalue()


# What a CSV cell keeps of a SaaS name's controls: TAB, LF, CR (quoted, they are data); the
# rest (ESC sequences, C1, bidi overrides) become U+FFFD - the report is often printed to a
# terminal ('ringfence check -f csv' without --output-file).
_CSV_CONTROL = re.compile(
    r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f\u200e\u200f\u202a-\u202e\u2066-\u2069]"
)


def _csv_safe(value: str) -> str:
    """Neutralise spreadsheet formula injection and terminal controls in values that come
    from SaaS data."""
    value = _CSV_CONTROL.sub("\ufffd", value)
    return "'" + value if value[:1] in {"=", "+", "-", "@", "\t", "\r"} else value


RENDERERS: dict[str, Callable[..., str]] = {
    "json": render_json,
    "sarif": render_sarif,
    "junit": render_junit,
    "markdown": render_markdown,
    "csv": render_csv,
}
