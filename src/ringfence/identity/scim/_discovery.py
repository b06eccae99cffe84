"""What the SCIM server serves and declares: resource models and the discovery documents.

Built once from scim2-models (``User[EnterpriseUser]``, ``Group``); never hand-written JSON, so
what ``/Schemas`` publishes is exactly what the server validates against.
"""

from __future__ import annotations

from functools import lru_cache
from typing import Any

from scim2_models import (
    AuthenticationScheme,
    Bulk,
    ChangePassword,
    Context,
    EnterpriseUser,
    ETag,
    Filter,
    Group,
    Meta,
    Patch,
    ResourceType,
    ScimPolicy,
    ServiceProviderConfig,
    Sort,
    User,
)

UserResource: Any = User[EnterpriseUser]
GroupResource: Any = Group
ENTERPRISE_URN = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"

# Microsoft Entra sends `remove` with a value selecting the entry, and PATCHes entries that do
# not exist yet by filter path (`emails[type eq "work"].value`); both are harmless to accept.
POLICY = ScimPolicy(
    remove_value_as_filter=ScimPolicy.RemoveValue.apply,
    unmatched_path_filter=ScimPolicy.UnmatchedPathFilter.create,
)


@lru_cache(maxsize=16)
def service_provider_config(base: str, max_results: int) -> dict[str, Any]:
    spc = ServiceProviderConfig(
        documentation_uri="https://ringfence.dev/docs/identity#scim",
        patch=Patch(supported=True),
        bulk=Bulk(supported=False, max_operations=0, max_payload_size=0),
        filter=Filter(supported=True, max_results=max_results),
        change_password=ChangePassword(supported=False),
        sort=Sort(supported=True),
        etag=ETag(supported=True),
        authentication_schemes=[
            AuthenticationScheme(
                type="oauthbearertoken",
                name="OAuth Bearer Token",
                description="Authentication with a SCIM bearer token (rf_scim_...)",
                primary=True,
            )
        ],
        meta=Meta(resource_type="ServiceProviderConfig", location=f"{base}/ServiceProviderConfig"),
    )
    dumped: dict[str, Any] = spc.model_dump(scim_ctx=Context.RESOURCE_QUERY_RESPONSE)
    return dumped


@lru_cache(maxsize=16)
def resource_types(base: str) -> list[dict[str, Any]]:
    out = []
    for model in (UserResource, GroupResource):
        rt = ResourceType.from_resource(model)
        rt.meta = Meta(resource_type="ResourceType", location=f"{base}/ResourceTypes/{rt.id}")
        out.append(rt.model_dump(scim_ctx=Context.RESOURCE_QUERY_RESPONSE))
    return out


@lru_cache(maxsize=16)
def schemas(base: str) -> list[dict[str, Any]]:
    out = []
    for model in (User, EnterpriseUser, Group):
        schema = model.to_schema()
        schema.meta = Meta(resource_type="Schema", location=f"{base}/Schemas/{schema.id}")
        out.append(schema.model_dump(scim_ctx=Context.RESOURCE_QUERY_RESPONSE))
    return out
