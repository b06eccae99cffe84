"""The questionnaire page a vendor answers without an account: plain, accessible HTML.

No JavaScript and no third-party assets: one form, a fieldset per CCM domain, a labelled
control per question, hints tied with ``aria-describedby``, and an error summary that links to
each field. Every piece of text is HTML-escaped; the page is served with a strict CSP, no
referrer (the URL holds the token) and no caching. This module never renders a token into
anything but the form's own action URL.
"""

from __future__ import annotations

from html import escape

from ringfence.vendors.bank import AnswerType, Question

SECURITY_HEADERS = {
    "Content-Security-Policy": (
        "default-src 'none'; style-src 'unsafe-inline'; form-action 'self'; "
        "frame-ancestors 'none'; base-uri 'none'"
    ),
    "Referrer-Policy": "no-referrer",
    "Cache-Control": "no-store",
    "X-Frame-Options": "DENY",
    "X-Content-Type-Options": "nosniff",
}

_STYLE = """
body{font-family:system-ui,sans-serif;max-width:52rem;margin:0 auto;padding:1rem;line-height:1.5}
fieldset{border:1px solid #888;margin:1rem 0;padding:.5rem 1rem}
fieldset.q{border:none;padding:.25rem 0;margin:.75rem 0}
legend{font-weight:600}
.hint{color:#444;font-size:.9rem}
.error{color:#a00000;font-weight:600}
.summary{border:3px solid #a00000;padding:.5rem 1rem}
textarea{width:100%}
button{font-size:1.1rem;padding:.5rem 1.5rem}
:focus{outline:3px solid #1a5fb4}
"""


def _page(title: str, body: str) -> str:
    return (
        '<!doctype html><html lang="en"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f"<title>{escape(title)}</title><style>{_STYLE}</style></head>"
        f'<body><main id="main">{body}</main></body></html>'
    )


def message_page(title: str, text: str) -> str:
    return _page(title, f"<h1>{escape(title)}</h1><p>{escape(text)}</p>")


def _control(q: Question, value: str, error: str | None) -> str:
    qid = escape(q.id)
    name = f"q_{qid}"
    hint_parts = []
    if q.when is not None:
        hint_parts.append(
            f"Answer only if your answer to {escape(q.when.question)} was "
            f"“{escape(q.when.equals)}”."
        )
    if q.type is AnswerType.EVIDENCE:
        hint_parts.append("Upload a PDF, image or office document (up to 20 MB).")
    if q.type is AnswerType.TEXT:
        hint_parts.append("Optional.")
    described = []
    hint = ""
    if hint_parts:
        hint = f'<p class="hint" id="hint-{qid}">{" ".join(hint_parts)}</p>'
        described.append(f"hint-{qid}")
    err = ""
    if error:
        err = f'<p class="error" id="err-{qid}">Error: {escape(error)}</p>'
        described.append(f"err-{qid}")
    aria = f' aria-describedby="{" ".join(described)}"' if described else ""
    invalid = ' aria-invalid="true"' if error else ""
    label = f"{qid}. {escape(q.text)}"
    if q.type in (AnswerType.YESNO, AnswerType.CHOICE):
        required = " required" if q.when is None else ""
        opts = []
        for i, choice in enumerate(q.choices):
            checked = " checked" if choice == value else ""
            cid = f"{qid}-{i}"
            opts.append(
                f'<div><input type="radio" id="{cid}" name="{name}" value="{escape(choice)}"'
                f"{checked}{required}{aria}>"
                f' <label for="{cid}">{escape(choice)}</label></div>'
            )
        return (
            f'<fieldset class="q" id="{qid}"{invalid}><legend>{label}</legend>'
            f"{hint}{err}{''.join(opts)}</fieldset>"
        )
    if q.type is AnswerType.TEXT:
        return (
            f'<div class="q"><label for="{qid}">{label}</label>{hint}{err}'
            f'<textarea id="{qid}" name="{name}" rows="3" maxlength="4000"{aria}{invalid}>'
            f"{escape(value)}</textarea></div>"
        )
    return (
        f'<div class="q"><label for="{qid}">{label}</label>{hint}{err}'
        f'<input type="file" id="{qid}" name="f_{qid}"{aria}{invalid}></div>'
    )


def questionnaire_page(
    *,
    vendor: str,
    action: str,
    template: str,
    version: str,
    expires: str,
    questions: list[Question],
    domain_titles: dict[str, str],
    values: dict[str, str] | None = None,
    errors: dict[str, str] | None = None,
) -> str:
    values = values or {}
    errors = errors or {}
    parts = [
        f"<h1>Security questionnaire for {escape(vendor)}</h1>",
        f"<p>Template {escape(template)}, version {escape(version)}. "
        f"{len(questions)} questions. This link works once and until {escape(expires)}.</p>",
    ]
    if errors:
        items = "".join(
            f'<li><a href="#{escape(qid)}">{escape(qid)}: {escape(msg)}</a></li>'
            for qid, msg in errors.items()
        )
        parts.append(
            '<div class="summary" role="alert" tabindex="-1" id="errors">'
            f"<h2>There is a problem with {len(errors)} answer(s)</h2><ul>{items}</ul></div>"
        )
    parts.append(f'<form method="post" action="{escape(action)}" enctype="multipart/form-data">')
    by_domain: dict[str, list[Question]] = {}
    for q in questions:
        by_domain.setdefault(q.domain, []).append(q)
    for domain, qs in by_domain.items():
        parts.append(
            f"<fieldset><legend>{escape(domain)} — {escape(domain_titles.get(domain, ''))}</legend>"
        )
        parts.extend(_control(q, values.get(q.id, ""), errors.get(q.id)) for q in qs)
        parts.append("</fieldset>")
    parts.append('<button type="submit">Submit answers</button></form>')
    return _page(f"Security questionnaire — {vendor}", "".join(parts))
