"""Evidence documents, encrypted at rest: one data key per document, kept in the vault.

A document's bytes are sealed with AES-256-GCM under a fresh 256-bit data key; the data key is
stored as a vault secret (``vendors/documents/<id>``), so the vault's master key wraps it and
master-key rotation re-wraps it. The table keeps ciphertext, size and the SHA-256 of the
plaintext. This module never stores, logs or returns a document's plaintext except to a caller
that explicitly reads it, and never puts key material into a message.
"""

from __future__ import annotations

import base64
import hashlib
import os
import re
from dataclasses import dataclass
from datetime import datetime

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from sqlalchemy.orm import Session

from ringfence.core.clock import Clock
from ringfence.core.errors import IntegrityError, NotFoundError, ValidationError
from ringfence.core.ids import new_id
from ringfence.store.vault import Vault
from ringfence.vendors.models import VendorDocument

MAX_DOCUMENT_BYTES = 20 * 1024 * 1024
_NONCE = 12
_SAFE_NAME = re.compile(r"[^A-Za-z0-9._ -]")
# What a stored content type may look like (it is only shown, never served): anything else —
# a NUL PostgreSQL cannot store, markup, a header's worth of text — is kept as octet-stream.
_MEDIA_TYPE = re.compile(r"[A-Za-z0-9!#$&^_.+-]{1,60}/[A-Za-z0-9!#$&^_.+-]{1,60}")


@dataclass(frozen=True)
class DocumentInfo:
    id: str
    vendor_id: str
    filename: str
    content_type: str
    size: int
    sha256: str
    uploaded_at: datetime


def _aad(doc_id: str) -> bytes:
    return b"ringfence/vendor-document/" + doc_id.encode()


def _key_ref(doc_id: str) -> str:
    return f"vendors/documents/{doc_id}"


def clean_filename(name: str) -> str:
    base = os.path.basename(name.replace("\\", "/")).strip()
    if not base.strip("."):  # "", "." and "..": no name to keep
        base = "document"
    return _SAFE_NAME.sub("_", base)[:200]


def clean_content_type(value: str | None) -> str:
    media = (value or "").split(";", 1)[0].strip().lower()
    return media if _MEDIA_TYPE.fullmatch(media) else "application/octet-stream"


def store_document(
    session: Session,
    vault: Vault,
    clock: Clock,
    *,
    vendor_id: str,
    filename: str,
    content: bytes,
    content_type: str = "application/octet-stream",
    assessment_id: str | None = None,
    question_id: str | None = None,
    actor: str = "ringfence",
) -> VendorDocument:
    """Encrypt and add a document to ``session``; its data key is sealed in the vault in the
    same transaction (audited as ``actor``), so the row and its key commit or roll back
    together: no orphaned key, no row whose key is missing.

    The vault takes the audit chain lock first (the one lock order of every writer): call
    this before the session locks other rows.
    """
    if not content:
        raise ValidationError(f"document {filename!r} is empty")
    if len(content) > MAX_DOCUMENT_BYTES:
        raise ValidationError(
            f"document {filename!r} is {len(content)} bytes; the limit is {MAX_DOCUMENT_BYTES}"
        )
    doc_id = new_id()
    data_key = AESGCM.generate_key(bit_length=256)
    nonce = os.urandom(_NONCE)
    ciphertext = nonce + AESGCM(data_key).encrypt(nonce, content, _aad(doc_id))
    vault.put(
        _key_ref(doc_id),
        base64.b64encode(data_key).decode(),
        description="data key of a vendor evidence document",
        actor=actor,
        session=session,
    )
    row = VendorDocument(
        id=doc_id,
        vendor_id=vendor_id,
        filename=clean_filename(filename),
        content_type=clean_content_type(content_type),
        size=len(content),
        sha256=hashlib.sha256(content).hexdigest(),
        key_ref=_key_ref(doc_id),
        ciphertext=ciphertext,
        uploaded_at=clock.now(),
        assessment_id=assessment_id,
        question_id=question_id,
    )
    session.add(row)
    return row


def read_document(session: Session, vault: Vault, doc_id: str) -> tuple[DocumentInfo, bytes]:
    """Decrypt a document and check its SHA-256; IntegrityError if either fails."""
    row = session.get(VendorDocument, doc_id)
    if row is None:
        raise NotFoundError(f"no vendor document {doc_id!r}")
    data_key = base64.b64decode(vault.get(row.key_ref).get_secret_value())
    try:
        blob = row.ciphertext
        plain = AESGCM(data_key).decrypt(blob[:_NONCE], blob[_NONCE:], _aad(row.id))
    except InvalidTag:
        raise IntegrityError(f"document {doc_id} failed authentication: tampered row") from None
    if hashlib.sha256(plain).hexdigest() != row.sha256:
        raise IntegrityError(f"document {doc_id} does not match its recorded SHA-256")
    return info(row), plain


def info(row: VendorDocument) -> DocumentInfo:
    return DocumentInfo(
        id=row.id,
        vendor_id=row.vendor_id,
        filename=row.filename,
        content_type=row.content_type,
        size=row.size,
        sha256=row.sha256,
        uploaded_at=row.uploaded_at,
    )
