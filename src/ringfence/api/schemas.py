"""Request and response models of the inventory REST API.

Request bodies are strict: unknown fields are refused (``extra="forbid"``), booleans and
numbers must be JSON booleans and numbers (no ``"yes"`` → ``True``), and PATCH bodies may set a
field to ``null`` only where the field is optional. References to other entities are given by
name (email for people) or id. Responses carry references and metadata only: a credential's
``ref`` is ``vault:NAME`` / ``${env:NAME}``, never a secret value.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, ClassVar, Generic, TypeVar

from pydantic import (
    AfterValidator,
    AwareDatetime,
    BaseModel,
    ConfigDict,
    Field,
    StrictBool,
    StrictInt,
    StrictStr,
    StringConstraints,
    ValidationInfo,
    computed_field,
    field_validator,
)
from pydantic.config import JsonDict

from ringfence.core.levels import DataClass
from ringfence.core.reserved import name_problem
from ringfence.inventory.repository import DataClassName
from ringfence.inventory.schema import check_name
from ringfence.store.models import CredentialKind, FlowOrigin, IntegrationKind, IntegrationStatus

_NO_CTRL = r"^[^\s\x00-\x1f\x7f](?:[^\x00-\x1f\x7f]*[^\s\x00-\x1f\x7f])?$"
# The estate file's rule too (inventory.schema): no C1 controls, line/paragraph separators,
# zero-width or direction marks — a name that reads as another in the console.
Name = Annotated[
    StrictStr,
    StringConstraints(min_length=1, max_length=200, pattern=_NO_CTRL),
    AfterValidator(check_name),
]
Ref = Annotated[
    StrictStr,
    StringConstraints(min_length=1, max_length=320),
    Field(description="Name (email for a person) or id of the referenced entity."),
]
Email = Annotated[
    StrictStr, StringConstraints(max_length=320, pattern=r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
]


def _no_userinfo(value: str) -> str:
    """Refuse ``user:password@`` / ``token@`` in a URL's authority (review 10 A6): a
    credential in a plain field would be stored, listed and exported. Never echoes it."""
    authority = value.split("://", 1)[-1]
    for end in "/?#":
        authority = authority.split(end, 1)[0]
    if "@" in authority:
        raise ValueError(
            "a URL must not carry a user name, password or token (user:password@host): keep "
            "credentials in the vault and reference them from a credential"
        )
    return value


Url = Annotated[
    StrictStr,
    StringConstraints(max_length=500, pattern=r"^https?://[^\s]+$"),
    AfterValidator(_no_userinfo),
    Field(description="An http(s) URL, without user:password@ (credentials go in the vault)."),
]
Domain = Annotated[
    StrictStr, StringConstraints(min_length=1, max_length=253, pattern=r"^[A-Za-z0-9.-]+$")
]
Text = Annotated[StrictStr, StringConstraints(max_length=10_000)]
Short = Annotated[StrictStr, StringConstraints(min_length=1, max_length=200, pattern=_NO_CTRL)]
Scope = Annotated[StrictStr, StringConstraints(min_length=1, max_length=200)]
SecretRef = Annotated[
    StrictStr,
    StringConstraints(min_length=1, max_length=300),
    Field(
        description="A reference, never the secret: `vault:NAME` or `${env:NAME}`.",
        examples=["vault:salesforce/api-key", "${env:HUBSPOT_TOKEN}"],
    ),
]
NonNegInt = Annotated[StrictInt, Field(ge=0, le=100_000)]
PosInt = Annotated[StrictInt, Field(ge=1, le=100_000)]
ClassList = Annotated[list[DataClassName], Field(max_length=4)]


def _has_nul(value: Any) -> bool:
    if isinstance(value, str):
        return "\x00" in value
    if isinstance(value, dict):
        return any(_has_nul(k) or _has_nul(v) for k, v in value.items())
    if isinstance(value, list):
        return any(_has_nul(v) for v in value)
    return False


class _Body(BaseModel):
    model_config = ConfigDict(extra="forbid")

    @field_validator("*", mode="before")
    @classmethod
    def _no_nul_characters(cls, value: Any) -> Any:
        # PostgreSQL cannot store U+0000 in text; refuse it here rather than fail in the store.
        if _has_nul(value):
            raise ValueError("must not contain NUL (U+0000) characters")
        return value


def _null_only_where_nullable(schema: JsonDict, model: type[Any]) -> None:
    """Document what ``_Patch`` enforces: no ``null`` branch on fields that refuse it."""
    nullable: frozenset[str] = getattr(model, "_nullable", frozenset())
    properties = schema.get("properties")
    if not isinstance(properties, dict):
        return
    for name, prop in properties.items():
        branches = prop.get("anyOf") if isinstance(prop, dict) else None
        if name in nullable or not isinstance(prop, dict) or not isinstance(branches, list):
            continue
        rest = [b for b in branches if not (isinstance(b, dict) and b.get("type") == "null")]
        if len(rest) == len(branches):
            continue
        del prop["anyOf"]
        prop.pop("default", None)  # absent means unchanged; a null default would mislead
        if len(rest) == 1 and isinstance(rest[0], dict):
            prop.update(rest[0])
        else:
            prop["anyOf"] = rest


class _Patch(_Body):
    """Only the fields present change; ``null`` clears a field only where ``_nullable`` says so."""

    model_config = ConfigDict(json_schema_extra=_null_only_where_nullable)
    _nullable: ClassVar[frozenset[str]] = frozenset()

    @field_validator("*", mode="before")
    @classmethod
    def _null_only_where_optional(cls, value: Any, info: ValidationInfo) -> Any:
        if value is None and info.field_name not in cls._nullable:
            raise ValueError("may not be null")
        return value


# -- references in responses ----------------------------------------------------------------


class _Out(BaseModel):
    model_config = ConfigDict(from_attributes=True)


class _NamedOut(_Out):
    """An entity a ``/{ref}`` route reaches by name: ``name_problem`` says why it cannot be
    (stored before such names were refused, core.reserved): rename it, reach it by id."""

    _kind: ClassVar[str] = ""
    name: str

    @computed_field  # type: ignore[prop-decorator]
    @property
    def name_problem(self) -> str | None:
        return name_problem(self._kind, self.name)


class EntityRef(_Out):
    id: str
    name: str


class PersonRef(_Out):
    id: str
    email: str
    name: str


class CredentialBrief(_Out):
    id: str
    name: str
    kind: CredentialKind


T = TypeVar("T")


class PageOut(BaseModel, Generic[T]):
    items: list[T]
    total: int = Field(description="Items matching the filters (all pages).")
    limit: int
    offset: int
    next: str | None = Field(description="URL of the next page, null on the last one.")


# -- vendors --------------------------------------------------------------------------------


def _addressable(kind: str) -> AfterValidator:
    """A name a ``/{ref}`` route can reach: no '/', not '.' / '..', not a literal route's
    segment beside it (core.reserved). Checked on create and rename only: names stored
    before are reported by the lists, never refused on read."""

    def check(value: str) -> str:
        problem = name_problem(kind, value)
        if problem is not None:
            raise ValueError(problem)
        return value

    return AfterValidator(check)


VendorName = Annotated[Name, _addressable("vendor")]
AppName = Annotated[Name, _addressable("app")]
IntegrationName = Annotated[Name, _addressable("integration")]
CredentialName = Annotated[Name, _addressable("credential")]
FlowName = Annotated[Name, _addressable("flow")]
PersonEmail = Annotated[Email, _addressable("person")]


class VendorCreate(_Body):
    name: VendorName
    website: Url | None = None
    domains: Annotated[list[Domain], Field(max_length=100)] = []
    description: Text = ""


class VendorPatch(_Patch):
    _nullable = frozenset({"website"})
    name: VendorName | None = None
    website: Url | None = None
    domains: Annotated[list[Domain], Field(max_length=100)] | None = None
    description: Text | None = None


class VendorOut(_NamedOut):
    _kind = "vendor"
    id: str
    name: str
    website: str | None
    domains: list[str]
    description: str
    created_at: datetime
    updated_at: datetime


# -- apps -----------------------------------------------------------------------------------


class AppCreate(_Body):
    name: AppName
    vendor: Ref
    category: Short = "other"
    base_urls: Annotated[list[Url], Field(max_length=50)] = []
    sanctioned: StrictBool = True
    owner: Ref | None = None
    clearance: DataClassName = "internal"
    data_classes: ClassList = []
    retention_days: dict[DataClassName, NonNegInt] = {}


class AppPatch(_Patch):
    _nullable = frozenset({"owner"})
    name: AppName | None = None
    vendor: Ref | None = None
    category: Short | None = None
    base_urls: Annotated[list[Url], Field(max_length=50)] | None = None
    sanctioned: StrictBool | None = None
    owner: Ref | None = None
    clearance: DataClassName | None = None
    data_classes: ClassList | None = None
    retention_days: dict[DataClassName, NonNegInt] | None = None


class AppOut(_NamedOut):
    _kind = "app"
    id: str
    name: str
    vendor: EntityRef
    category: str
    base_urls: list[str]
    sanctioned: bool
    owner: PersonRef | None
    clearance: DataClassName
    data_classes: list[str]
    retention_days: dict[str, int]
    created_at: datetime
    updated_at: datetime

    @field_validator("clearance", mode="before")
    @classmethod
    def _level_label(cls, value: Any) -> Any:
        return DataClass.parse(value).label if isinstance(value, int) else value


# -- integrations ---------------------------------------------------------------------------


class IntegrationCreate(_Body):
    name: IntegrationName
    kind: IntegrationKind = IntegrationKind.APP_TO_APP
    source_app: Ref | None = Field(None, description="Required for app_to_app integrations.")
    destination_app: Ref
    owner: Ref | None = None
    client_id: Short | None = Field(None, description="Machine identity / OAuth client id.")
    status: IntegrationStatus = IntegrationStatus.ACTIVE
    scopes: Annotated[list[Scope], Field(max_length=500)] = []
    data_classes: ClassList = []
    description: Text = ""


class IntegrationPatch(_Patch):
    """Status changes go through /quarantine, /revoke and /activate, not PATCH."""

    _nullable = frozenset({"source_app", "owner", "client_id"})
    name: IntegrationName | None = None
    kind: IntegrationKind | None = None
    source_app: Ref | None = None
    destination_app: Ref | None = None
    owner: Ref | None = None
    client_id: Short | None = None
    scopes: Annotated[list[Scope], Field(max_length=500)] | None = None
    data_classes: ClassList | None = None
    description: Text | None = None


class IntegrationOut(_NamedOut):
    _kind = "integration"
    id: str
    name: str
    kind: IntegrationKind
    source_app: EntityRef | None
    destination_app: EntityRef
    owner: PersonRef | None
    client_id: str | None
    status: IntegrationStatus
    scopes: list[str]
    data_classes: list[str]
    description: str
    credentials: list[CredentialBrief]
    created_at: datetime
    updated_at: datetime


class StatusChange(_Body):
    reason: Annotated[StrictStr, StringConstraints(max_length=1000)] | None = None


class StatusChangeOut(BaseModel):
    integration: IntegrationOut
    changed: bool = Field(description="False when the integration already had this status.")


class RevokeRequestOut(BaseModel):
    """A revoke waiting for a second person (``202``): revoked is final, so it is approved
    like a playbook's ``revoke_integration`` step (four eyes); the integration is quarantined
    meanwhile."""

    integration: IntegrationOut = Field(description="As it is now: quarantined.")
    changed: bool = Field(description="False when a request was already waiting (returned).")
    incident: str = Field(description="The request's incident (GET /api/v1/respond/incidents/…)")
    status: str = Field(description="The incident's status, awaiting_approval while it waits.")
    approve: str = Field(
        description="Where a person other than the requester (and, for a control-plane "
        "token, its creator) approves it; …/skip declines it."
    )


# -- credentials ----------------------------------------------------------------------------


class CredentialCreate(_Body):
    name: CredentialName
    kind: CredentialKind
    integration: Ref | None = None
    ref: SecretRef
    rotated_at: AwareDatetime | None = None
    expires_at: AwareDatetime | None = None
    rotation_days: PosInt | None = None


class CredentialPatch(_Patch):
    _nullable = frozenset({"integration", "rotated_at", "expires_at", "rotation_days"})
    name: CredentialName | None = None
    kind: CredentialKind | None = None
    integration: Ref | None = None
    ref: SecretRef | None = None
    rotated_at: AwareDatetime | None = None
    expires_at: AwareDatetime | None = None
    rotation_days: PosInt | None = None


class CredentialOut(_NamedOut):
    _kind = "credential"
    id: str
    name: str
    kind: CredentialKind
    integration: EntityRef | None
    ref: str = Field(description="Where the secret lives (`vault:NAME` / `${env:NAME}`).")
    rotated_at: datetime | None
    expires_at: datetime | None
    last_used_at: datetime | None
    rotation_days: int | None
    created_at: datetime
    updated_at: datetime


# -- data flows -----------------------------------------------------------------------------


class FlowCreate(_Body):
    name: FlowName
    source_app: Ref
    destination_app: Ref
    integration: Ref | None = None
    data_classes: ClassList = []
    origin: FlowOrigin = FlowOrigin.DECLARED
    first_seen: AwareDatetime | None = None
    last_seen: AwareDatetime | None = None


class FlowPatch(_Patch):
    _nullable = frozenset({"integration", "first_seen", "last_seen"})
    name: FlowName | None = None
    source_app: Ref | None = None
    destination_app: Ref | None = None
    integration: Ref | None = None
    data_classes: ClassList | None = None
    origin: FlowOrigin | None = None
    first_seen: AwareDatetime | None = None
    last_seen: AwareDatetime | None = None


class FlowOut(_NamedOut):
    _kind = "flow"
    id: str
    name: str
    source_app: EntityRef
    destination_app: EntityRef
    integration: EntityRef | None
    data_classes: list[str]
    origin: FlowOrigin
    first_seen: datetime | None
    last_seen: datetime | None
    created_at: datetime
    updated_at: datetime


# -- people ---------------------------------------------------------------------------------


class PersonCreate(_Body):
    email: PersonEmail
    name: Annotated[StrictStr, StringConstraints(max_length=200)] = ""
    department: Short | None = None
    active: StrictBool = True
    external_id: Short | None = None


class PersonPatch(_Patch):
    """``active`` is not patchable: deactivation goes through the identity lifecycle
    (``POST /api/v1/identity/people/{ref}/deactivate``), which reaches the person's integrations."""

    _nullable = frozenset({"department", "external_id"})
    email: PersonEmail | None = None
    name: Annotated[StrictStr, StringConstraints(max_length=200)] | None = None
    department: Short | None = None
    external_id: Short | None = None


class PersonOut(_Out):
    id: str
    email: str
    name: str
    department: str | None
    active: bool
    external_id: str | None
    deactivated_at: datetime | None
    created_at: datetime
    updated_at: datetime


# -- audit ----------------------------------------------------------------------------------


class AuditRecordOut(_Out):
    seq: int
    id: str
    ts: datetime
    actor: str
    action: str
    entity_type: str
    entity_id: str | None
    before: dict[str, Any] | None
    after: dict[str, Any] | None
    prev_hash: str
    hash: str


class ChainProblemOut(BaseModel):
    seq: int
    record_id: str | None
    problem: str


class UncheckedRecordsOut(BaseModel):
    """Keyed records whose links were not checked: their master key is not available here."""

    key_id: str = Field(description="The master key the records are linked with.")
    first: int
    last: int
    count: int


class AuditVerifyOut(BaseModel):
    ok: bool = Field(description="No record found edited, deleted, reordered or forged.")
    complete: bool = Field(
        description="`ok`, and every keyed record's link was checked with its key: false when "
        "`unchecked` is not empty (what `ringfence audit verify` exits 3 for)."
    )
    records: int
    head: str
    keyed_from: int | None = Field(
        description="The first keyed (HMAC) record; the records before it are unkeyed SHA-256 "
        "links from before keyed links. null: no record is keyed."
    )
    unkeyed_records: int
    keys_checked: list[str] = Field(description="Master-key ids whose records were checked.")
    unchecked: list[UncheckedRecordsOut] = Field(
        description="Keyed records NOT checked, per master key the server does not hold (a "
        "record forged there would not be found)."
    )
    coverage: list[str] = Field(description="What was and was not checked, one sentence each.")
    problems: list[ChainProblemOut]


class Problem(BaseModel):
    """RFC 9457 problem details, as every error of this API is returned."""

    type: str
    title: str
    status: int
    detail: str
    code: str = Field(description="Stable machine-readable error code.")
    instance: str | None = None
    errors: list[dict[str, Any]] | None = None
