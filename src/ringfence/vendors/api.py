"""HTTP routes for vendor risk: the management API and the public questionnaire link.

``router`` bundles two parts so api/app.py includes it with one line:
- ``/api/v1/vendor-risk/...`` — management, every route behind the API auth dependency
  (``ringfence.api.deps.authorize``: read scope for GET, write scope otherwise);
- ``/vendor-assessments/{token}`` (HTML form) and ``/api/v1/vendor-assessments/{token}``
  (JSON) — public by token: the link is the credential, valid once and until it expires.
Errors are problem+json on the JSON routes and a plain HTML page with the same status on the
form. Routes never echo a token back except in the form's own action URL, and never return
document bytes except from the authenticated document download.
"""

from __future__ import annotations

import base64
import binascii
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Request, Response
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import HTMLResponse
from pydantic import BaseModel, ConfigDict, Field, field_validator
from sqlalchemy import func, select
from starlette.datastructures import UploadFile
from starlette.types import Scope

from ringfence.api.deps import CurrentPrincipal, authorize, get_runtime
from ringfence.core.errors import ConflictError, RingfenceError, ValidationError
from ringfence.runtime import Runtime
from ringfence.store import audit
from ringfence.vendors import assessments as asm
from ringfence.vendors import documents, evidence, page, service
from ringfence.vendors.bank import AnswerType, default_bank, validate_answers
from ringfence.vendors.models import Assessment, VendorDocument
from ringfence.vendors.profiles import find_vendor
from ringfence.vendors.schemas import (
    CertificationIn,
    ContractIn,
    PentestIn,
    ProfileIn,
    text_problem,
)

MAX_FORM_BYTES = 25 * 1024 * 1024
# Staff evidence uploads as the raw bytes of the file: the JSON route's base64 body is capped
# at the API's 1 MiB (about 750 KiB of file), far below a SOC 2 report; this prefix gets the
# document limit itself (api/app.py registers it with set_body_limit, any content type).
UPLOAD_PREFIX = "/api/v1/vendor-risk/document-uploads/"
MAX_UPLOAD_BYTES = documents.MAX_DOCUMENT_BYTES
# The public link's JSON routes: the API's body guard admits a body over its anonymous
# allowance there only while the link in the path is open (admit_link), as no header names
# the caller.
LINK_API_PREFIX = "/api/v1/vendor-assessments/"
# Evidence documents one public link may store (each up to the body cap, with a vault key).
MAX_LINK_DOCUMENTS = 50
_UPLOAD = "__upload__"

manage = APIRouter(
    prefix="/api/v1/vendor-risk", tags=["vendor-risk"], dependencies=[Depends(authorize)]
)
public = APIRouter(tags=["vendor-questionnaire"])
RuntimeDep = Annotated[Runtime, Depends(get_runtime)]


class SendIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    template: str | None = Field(default=None, pattern="^(lite|full)$")
    recipient: str | None = Field(default=None, max_length=320)
    days: int = Field(default=asm.DEFAULT_LINK_DAYS, ge=1, le=asm.MAX_LINK_DAYS)

    @field_validator("recipient")
    @classmethod
    def _recipient(cls, value: str | None) -> str | None:
        problem = text_problem(value) if value is not None else None
        if problem is not None:
            raise ValueError(problem)
        return value


class FileIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    filename: str = Field(min_length=1, max_length=255)
    content_base64: str = Field(min_length=1)
    content_type: str = Field(default="application/octet-stream", max_length=120)
    format: str | None = Field(default=None, pattern="^(xlsx|csv)$")

    def content(self) -> bytes:
        try:
            return base64.b64decode(self.content_base64, validate=True)
        except (binascii.Error, ValueError):
            raise ValidationError("content_base64 is not valid base64") from None


class AnswersIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    answers: dict[str, str | None] = Field(max_length=500)


class EvidenceIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    question_id: str = Field(max_length=20)
    filename: str = Field(min_length=1, max_length=255)
    content_base64: str = Field(min_length=1)
    content_type: str = Field(default="application/octet-stream", max_length=120)


# -- management ----------------------------------------------------------------------------


@manage.get("")
def list_vendor_risk(rt: RuntimeDep) -> list[dict[str, Any]]:
    """Every vendor's inherent/residual risk and evidence status, highest residual first."""
    return [service.risk_dict(r) for r in service.risk(rt)]


@manage.get("/reminders")
def reminders(rt: RuntimeDep) -> list[dict[str, Any]]:
    """Certificates inside their 60/30/7-day expiry windows today."""
    with rt.store.session() as s:
        due = evidence.due_reminders(s, rt.clock)
    return [
        {
            "key": r.key,
            "vendor": r.vendor,
            "certification": r.label,
            "valid_until": r.valid_until,
            "days_left": r.days_left,
            "stage": r.stage,
            "message": r.message,
        }
        for r in due
    ]


@manage.get("/renewals")
def renewals(
    rt: RuntimeDep, within_days: Annotated[int, Query(ge=1, le=730)] = 90
) -> list[dict[str, Any]]:
    """Contracts whose renewal (or end) date falls within ``within_days``."""
    with rt.store.session() as s:
        return service.renewals(s, rt.clock, within_days)


@manage.get("/questions")
def question_bank() -> dict[str, Any]:
    bank = default_bank()
    return {
        "version": bank.version,
        "domains": bank.domain_titles,
        "templates": {n: len(t.questions) for n, t in bank.templates.items()},
        "questions": [q.model_dump(mode="json") for q in bank.questions.values()],
    }


# The raw upload route comes before the /{vendor}/... routes: its literal prefix wins, as
# /reminders and /questions do.
class UploadTooLarge(RingfenceError):
    status = 413
    code = "payload_too_large"
    title = "Payload too large"


_RAW_BODY: dict[str, Any] = {
    "requestBody": {
        "required": True,
        "description": f"The file's bytes, at most {MAX_UPLOAD_BYTES} (413 above).",
        "content": {"application/octet-stream": {"schema": {"type": "string", "format": "binary"}}},
    }
}


@manage.post(
    UPLOAD_PREFIX.removeprefix(manage.prefix) + "{vendor}",
    status_code=201,
    openapi_extra=_RAW_BODY,
)
async def upload_document_raw(
    vendor: str,
    request: Request,
    rt: RuntimeDep,
    who: CurrentPrincipal,
    filename: Annotated[str, Query(min_length=1, max_length=255)],
) -> dict[str, Any]:
    """Upload an evidence document as the request body (up to 20 MiB), typed by Content-Type.

    Read in chunks and refused (413) as soon as it passes the limit, whatever Content-Length
    said; the body guard in front applies the same limit, and reads more than 64 KiB only
    from a caller its headers authenticate with the ``write`` scope (api/limits.py)."""
    declared = request.headers.get("content-length", "")
    too_large = UploadTooLarge(f"a document may be at most {MAX_UPLOAD_BYTES} bytes")
    if declared.isdigit() and int(declared) > MAX_UPLOAD_BYTES:
        raise too_large
    content = bytearray()
    async for chunk in request.stream():
        content += chunk
        if len(content) > MAX_UPLOAD_BYTES:
            raise too_large
    info = await run_in_threadpool(
        service.upload_document,
        rt,
        who.actor,
        vendor,
        filename=filename,
        content=bytes(content),
        content_type=request.headers.get("content-type", "application/octet-stream"),
    )
    return info.__dict__


@manage.get("/{vendor}")
def vendor_detail(vendor: str, rt: RuntimeDep) -> dict[str, Any]:
    return service.vendor_detail(rt, vendor)


@manage.get("/{vendor}/score")
def vendor_score(vendor: str, rt: RuntimeDep) -> dict[str, Any]:
    (r,) = service.risk(rt, vendor)
    return service.risk_dict(r)


@manage.put("/{vendor}/profile")
def put_profile(
    vendor: str, body: ProfileIn, rt: RuntimeDep, who: CurrentPrincipal
) -> dict[str, Any]:
    return service.set_profile(rt, who.actor, vendor, body)


@manage.post("/{vendor}/assessments", status_code=201)
def send_assessment(
    vendor: str, body: SendIn, request: Request, rt: RuntimeDep, who: CurrentPrincipal
) -> dict[str, Any]:
    """Create a questionnaire and its one-time link (the link is shown only in this answer)."""
    sent = service.send_assessment(
        rt,
        who.actor,
        vendor,
        base_url=str(request.base_url),
        template=body.template,
        recipient=body.recipient,
        days=body.days,
    )
    return {
        "id": sent.assessment_id,
        "vendor": sent.vendor,
        "template": sent.template,
        "template_version": sent.template_version,
        "questions": sent.questions,
        "expires_at": sent.expires_at,
        "link": sent.link,
    }


@manage.get("/{vendor}/assessments")
def vendor_assessments(vendor: str, rt: RuntimeDep) -> list[dict[str, Any]]:
    return service.list_assessments(rt, vendor)


@manage.post("/assessments/{assessment_id}/revoke")
def revoke(assessment_id: str, rt: RuntimeDep, who: CurrentPrincipal) -> dict[str, Any]:
    return service.revoke_assessment(rt, who.actor, assessment_id)


@manage.get("/assessments/{assessment_id}/export")
def export(
    assessment_id: str,
    rt: RuntimeDep,
    who: CurrentPrincipal,
    format: Annotated[str, Query(pattern="^(xlsx|csv)$")] = "xlsx",
) -> Response:
    data, vendor = service.export_assessment(rt, who.actor, assessment_id, format)
    media = (
        "text/csv; charset=utf-8"
        if format == "csv"
        else "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
    )
    name = documents.clean_filename(f"{vendor}-{assessment_id[:8]}.{format}").replace(" ", "_")
    return Response(
        data, media_type=media, headers={"Content-Disposition": f'attachment; filename="{name}"'}
    )


@manage.post("/assessments/{assessment_id}/import")
def import_file(
    assessment_id: str, body: FileIn, rt: RuntimeDep, who: CurrentPrincipal
) -> dict[str, Any]:
    """Import answers from XLSX/CSV: every row valid, or nothing imported (422 lists each)."""
    return service.import_assessment(
        rt, who.actor, assessment_id, body.content(), fmt=body.format, filename=body.filename
    )


@manage.post("/{vendor}/certifications", status_code=201)
def add_certification(
    vendor: str, body: CertificationIn, rt: RuntimeDep, who: CurrentPrincipal
) -> dict[str, str]:
    return {"id": service.add_certification(rt, who.actor, vendor, body)}


@manage.post("/{vendor}/contracts", status_code=201)
def add_contract(
    vendor: str, body: ContractIn, rt: RuntimeDep, who: CurrentPrincipal
) -> dict[str, str]:
    return {"id": service.add_contract(rt, who.actor, vendor, body)}


@manage.post("/{vendor}/pentests", status_code=201)
def add_pentest(
    vendor: str, body: PentestIn, rt: RuntimeDep, who: CurrentPrincipal
) -> dict[str, str]:
    return {"id": service.add_pentest(rt, who.actor, vendor, body)}


@manage.post("/{vendor}/documents", status_code=201)
def upload_document(
    vendor: str, body: FileIn, rt: RuntimeDep, who: CurrentPrincipal
) -> dict[str, Any]:
    info = service.upload_document(
        rt,
        who.actor,
        vendor,
        filename=body.filename,
        content=body.content(),
        content_type=body.content_type,
    )
    return info.__dict__


@manage.get("/documents/{document_id}")
def download_document(document_id: str, rt: RuntimeDep, who: CurrentPrincipal) -> Response:
    info, data = service.read_document(rt, document_id, who.actor)
    return Response(
        data,
        media_type="application/octet-stream",
        headers={
            "Content-Disposition": f'attachment; filename="{info.filename}"',
            "X-Content-SHA256": info.sha256,
            "X-Content-Type-Options": "nosniff",
        },
    )


# -- public, by token ----------------------------------------------------------------------


def _questionnaire(rt: Runtime, token: str) -> dict[str, Any]:
    bank = default_bank()
    with rt.store.session() as s:
        row = asm.open_by_token(s, token, rt.clock)
        vendor = find_vendor(s, row.vendor_id).name
        qs = asm.questions_of(row, bank)
        return {
            "vendor": vendor,
            "template": row.template,
            "template_version": row.template_version,
            "expires_at": row.expires_at,
            "questions": qs,
            "domain_titles": bank.domain_titles,
        }


def _open_link(rt: Runtime, token: str) -> None:
    with rt.store.session() as s:
        asm.open_by_token(s, token, rt.clock)


async def admit_link(scope: Scope) -> None:
    """The body guard's check on ``LINK_API_PREFIX``: the link must be open (else its 404 /
    409 / 410) before a body larger than a stranger may send is read."""
    token = str(scope["path"]).removeprefix(LINK_API_PREFIX).split("/", 1)[0]
    await run_in_threadpool(_open_link, get_runtime(Request(scope)), token)


def _reserve_link_documents(s: Any, assessment_id: str, adding: int) -> None:
    """Refuse ``adding`` documents that would take a link past MAX_LINK_DOCUMENTS.

    Counted in the transaction that stores them, after the audit chain lock (the lock every
    document's vault key takes first, so it is the lock order, not a new one): two uploads
    at 49 cannot both see room, as they did when the count ran in a transaction of its own.
    """
    audit.lock_chain(s)
    stored = s.scalar(
        select(func.count())
        .select_from(VendorDocument)
        .where(VendorDocument.assessment_id == assessment_id)
    )
    if (stored or 0) + adding > MAX_LINK_DOCUMENTS:
        raise ConflictError(
            f"this questionnaire already holds {stored or 0} uploaded documents and takes at "
            f"most {MAX_LINK_DOCUMENTS}; answer with the ones uploaded or ask your contact "
            "for a new link",
            code="too_many_documents",
        )


def _submit(
    rt: Runtime, token: str, raw: dict[str, Any], uploads: dict[str, tuple[str, str, bytes]]
) -> Assessment:
    """Validate first, then store uploads, then record: a bad answer stores no document."""
    with rt.store.session() as s:
        row = asm.open_by_token(s, token, rt.clock)
        qs = asm.questions_of(row)
        vendor_id, assessment_id = row.vendor_id, row.id
    staged = {**raw, **{qid: _UPLOAD for qid in uploads}}
    _, errors = validate_answers(qs, staged)
    # A file answers an evidence question only (a text answer would become a document id).
    kinds = {q.id: q.type for q in qs}
    errors += [
        {"question": qid, "problem": "this question takes no file"}
        for qid in uploads
        if qid in kinds and kinds[qid] is not AnswerType.EVIDENCE
    ]
    if errors:
        raise ValidationError(
            f"{len(errors)} answer(s) need attention", errors=errors, code="invalid_answers"
        )
    # One transaction: the documents, their data keys (the vault writes in it) and the answers
    # commit together, so a refused submission leaves no document and no key behind.
    with rt.store.session() as s:
        if uploads:
            _reserve_link_documents(s, assessment_id, len(uploads))
        actor = f"vendor-link:{find_vendor(s, vendor_id).name}"
        for qid, (filename, ctype, content) in uploads.items():
            doc = documents.store_document(
                s,
                rt.vault,
                rt.clock,
                vendor_id=vendor_id,
                filename=filename,
                content=content,
                content_type=ctype,
                assessment_id=assessment_id,
                question_id=qid,
                actor=actor,
            )
            raw[qid] = doc.id
        s.flush()
        row = asm.open_by_token(s, token, rt.clock)
        done = asm.record_answers(s, row, raw, rt.clock, source="link")
        audit.append(
            s,
            actor=actor,
            action="vendor_risk.assessment.submit",
            entity_type="vendor_assessment",
            entity_id=done.id,
            after={"score": done.score, "documents": len(uploads)},
            clock=rt.clock,
        )
        return done


def _html_error(exc: RingfenceError) -> HTMLResponse:
    titles = {404: "Link not valid", 409: "Already submitted", 410: "Link no longer valid"}
    title = titles.get(exc.status, exc.title)
    if exc.code == "too_many_documents":
        title = "Too many documents"
    return HTMLResponse(
        page.message_page(title, exc.message), status_code=exc.status, headers=page.SECURITY_HEADERS
    )


_PAGE = {"content": {"text/html": {"schema": {"type": "string"}}}}
# The form's own errors are pages too (the app-wide default documents problem+json).
_FORM_ERRORS: dict[int | str, dict[str, Any]] = {
    s: {**_PAGE, "description": d}
    for s, d in (
        (400, "The form could not be read"),
        (404, "Link not valid"),
        (409, "Already submitted"),
        (410, "Link no longer valid"),
        (411, "No Content-Length"),
        (413, "Form too large"),
        (422, "Answers to correct, shown on the form"),
    )
}


def _form_page(rt: Runtime, token: str, request: Request, **extra: Any) -> str:
    q = _questionnaire(rt, token)
    return page.questionnaire_page(
        vendor=q["vendor"],
        action=str(request.url.path),
        template=q["template"],
        version=q["template_version"],
        expires=f"{q['expires_at']:%Y-%m-%d %H:%M} UTC",
        questions=q["questions"],
        domain_titles=q["domain_titles"],
        **extra,
    )


@public.get("/vendor-assessments/{token}", response_class=HTMLResponse, responses=_FORM_ERRORS)
def questionnaire_form(token: str, request: Request, rt: RuntimeDep) -> HTMLResponse:
    try:
        html = _form_page(rt, token, request)
    except RingfenceError as exc:
        return _html_error(exc)
    return HTMLResponse(html, headers=page.SECURITY_HEADERS)


@public.post("/vendor-assessments/{token}", response_class=HTMLResponse, responses=_FORM_ERRORS)
async def questionnaire_submit(token: str, request: Request) -> HTMLResponse:
    rt: Runtime = get_runtime(request)
    declared = request.headers.get("content-length")
    if declared is None or not declared.isdigit():
        return HTMLResponse(
            page.message_page("Length required", "send the form with a Content-Length"),
            status_code=411,
            headers=page.SECURITY_HEADERS,
        )
    if int(declared) > MAX_FORM_BYTES:
        return HTMLResponse(
            page.message_page("Too large", f"the form may carry at most {MAX_FORM_BYTES} bytes"),
            status_code=413,
            headers=page.SECURITY_HEADERS,
        )
    try:
        # The link is the credential: checked before a byte of the (up to 25 MiB) form is
        # read, so a request without an open link costs the server nothing.
        await run_in_threadpool(_open_link, rt, token)
    except RingfenceError as exc:
        return _html_error(exc)
    try:
        form = await request.form(max_files=50, max_fields=600)
    except Exception:  # malformed multipart / urlencoded body
        return HTMLResponse(
            page.message_page("Bad request", "the form could not be read"),
            status_code=400,
            headers=page.SECURITY_HEADERS,
        )
    raw: dict[str, Any] = {}
    uploads: dict[str, tuple[str, str, bytes]] = {}
    for key, value in form.multi_items():
        if key.startswith("q_") and isinstance(value, str):
            raw[key[2:]] = value
        elif key.startswith("f_") and isinstance(value, UploadFile) and value.filename:
            content = await value.read()
            if content:
                uploads[key[2:]] = (value.filename, value.content_type or "", content)
    try:
        row = await run_in_threadpool(_submit, rt, token, raw, uploads)
    except ValidationError as exc:
        if not exc.errors:
            return _html_error(exc)
        errors = {str(e.get("question")): str(e.get("problem")) for e in exc.errors}
        try:
            html = await run_in_threadpool(
                lambda: _form_page(rt, token, request, values=raw, errors=errors)
            )
        except RingfenceError as inner:
            return _html_error(inner)
        return HTMLResponse(html, status_code=422, headers=page.SECURITY_HEADERS)
    except RingfenceError as exc:
        return _html_error(exc)
    return HTMLResponse(
        page.message_page(
            "Thank you",
            f"Your answers were recorded on {row.submitted_at:%Y-%m-%d %H:%M} UTC. "
            "This link is now closed.",
        ),
        headers=page.SECURITY_HEADERS,
    )


@public.get("/api/v1/vendor-assessments/{token}")
def questionnaire_json(token: str, rt: RuntimeDep, response: Response) -> dict[str, Any]:
    q = _questionnaire(rt, token)
    response.headers.update({"Cache-Control": "no-store", "Referrer-Policy": "no-referrer"})
    return {
        "vendor": q["vendor"],
        "template": q["template"],
        "template_version": q["template_version"],
        "expires_at": q["expires_at"],
        "questions": [qq.model_dump(mode="json") for qq in q["questions"]],
    }


@public.post("/api/v1/vendor-assessments/{token}")
def submit_json(token: str, body: AnswersIn, rt: RuntimeDep) -> dict[str, Any]:
    row = _submit(rt, token, dict(body.answers), {})
    return {"status": row.status.value, "submitted_at": row.submitted_at}


@public.post("/api/v1/vendor-assessments/{token}/documents", status_code=201)
def upload_evidence(token: str, body: EvidenceIn, rt: RuntimeDep) -> dict[str, Any]:
    """Upload one evidence file; answer the evidence question with the returned id."""
    content = FileIn(filename=body.filename, content_base64=body.content_base64).content()
    with rt.store.session() as s:
        row = asm.open_by_token(s, token, rt.clock)
        q = next((x for x in asm.questions_of(row) if x.id == body.question_id), None)
        if q is None or q.type is not AnswerType.EVIDENCE:
            raise ValidationError(f"{body.question_id!r} is not an evidence question here")
        vendor_id, assessment_id = row.vendor_id, row.id
    with rt.store.session() as s:
        _reserve_link_documents(s, assessment_id, 1)
        asm.open_by_token(s, token, rt.clock)  # still open now that this upload holds the lock
        actor = f"vendor-link:{find_vendor(s, vendor_id).name}"
        doc = documents.store_document(
            s,
            rt.vault,
            rt.clock,
            vendor_id=vendor_id,
            filename=body.filename,
            content=content,
            content_type=body.content_type,
            assessment_id=assessment_id,
            question_id=body.question_id,
            actor=actor,
        )
        s.flush()
        audit.append(
            s,
            actor=actor,
            action="vendor_risk.document.upload",
            entity_type="vendor_document",
            entity_id=doc.id,
            after={"filename": doc.filename, "sha256": doc.sha256, "size": doc.size},
            clock=rt.clock,
        )
        return {"document_id": doc.id, "sha256": doc.sha256, "size": doc.size}


router = APIRouter()
router.include_router(manage)
router.include_router(public)
