"""Baseline vendor records (shaped like each vendor's documentation) for rule test cases.

A rule's ``x_tests`` give only the fields that matter; ``sample(source, patch)`` deep-merges
them onto the baseline, so each case is a complete, realistic record. Test data only: nothing
here is a credential.
"""

from __future__ import annotations

import copy
from typing import Any

TEMPLATES: dict[str, dict[str, Any]] = {
    "okta": {
        "actor": {
            "id": "00u1qw1mqitPHM8AJ0g7",
            "type": "User",
            "alternateId": "admin@example.com",
            "displayName": "Alex Admin",
            "detailEntry": None,
        },
        "client": {
            "userAgent": {
                "rawUserAgent": "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) Chrome/120.0",
                "os": "Mac OS X",
                "browser": "CHROME",
            },
            "zone": "null",
            "device": "Computer",
            "id": None,
            "ipAddress": "198.51.100.23",
            "geographicalContext": {
                "city": "Berlin",
                "state": "Land Berlin",
                "country": "Germany",
                "postalCode": "10115",
                "geolocation": {"lat": 52.52, "lon": 13.405},
            },
        },
        "device": None,
        "authenticationContext": {
            "authenticationProvider": None,
            "credentialProvider": None,
            "credentialType": None,
            "issuer": None,
            "interface": None,
            "authenticationStep": 0,
            "externalSessionId": "102bZDNFfWaQSyEZQuDgWt-uQ",
        },
        "displayMessage": "User login to Okta",
        "eventType": "user.session.start",
        "outcome": {"result": "SUCCESS", "reason": None},
        "published": "2026-01-05T09:12:43.213Z",
        "securityContext": {
            "asNumber": 3320,
            "asOrg": "deutsche telekom ag",
            "isp": "deutsche telekom ag",
            "domain": "t-ipconnect.de",
            "isProxy": False,
        },
        "severity": "INFO",
        "debugContext": {"debugData": {"requestId": "ab609228fe84ce59cdcbfa690bcce016"}},
        "legacyEventType": "core.user_auth.login_success",
        "transaction": {"type": "WEB", "id": "ab609228fe84ce59cdcbfa690bcce016", "detail": {}},
        "uuid": "dc9fd3c0-598c-11ef-8478-2b7584bf8d5a",
        "version": "0",
        "request": {"ipChain": [{"ip": "198.51.100.23", "version": "V4"}]},
        "target": [
            {
                "id": "00u1qw1mqitPHM8AJ0g7",
                "type": "User",
                "alternateId": "bob@example.com",
                "displayName": "Bob Builder",
            }
        ],
    },
    "github": {
        "@timestamp": 1767604363000,
        "_document_id": "xJJFlFOhQ6b-5vaAFy9Rjw",
        "action": "org.add_member",
        "actor": "octocat",
        "actor_id": 583231,
        "actor_location": {"country_code": "US"},
        "created_at": 1767604363000,
        "operation_type": "create",
        "org": "octo-corp",
        "org_id": 9919,
        "user": "monalisa",
        "user_agent": "Mozilla/5.0",
    },
    "google_workspace": {
        "kind": "admin#reports#activity",
        "id": {
            "time": "2026-01-05T09:12:43.213Z",
            "uniqueQualifier": "-4002873813067783265",
            "applicationName": "admin",
            "customerId": "C03az79cb",
        },
        "etag": '"JDMC8884sebSctZ17CIssbQ/Y0-1RBJLvjRQHgTsyGLkGlaWpdE"',
        "actor": {"callerType": "USER", "email": "admin@example.com", "profileId": "1234567890"},
        "ipAddress": "203.0.113.10",
        "events": [
            {
                "type": "DELEGATED_ADMIN_SETTINGS",
                "name": "ASSIGN_ROLE",
                "parameters": [
                    {"name": "ROLE_NAME", "value": "_SEED_ADMIN_ROLE"},
                    {"name": "USER_EMAIL", "value": "bob@example.com"},
                ],
            }
        ],
    },
    "m365": {
        "CreationTime": "2026-01-05T09:12:43",
        "Id": "80c76bd2-9d81-4c57-a362-a6b2c9ba5b23",
        "Operation": "Add member to role.",
        "OrganizationId": "d1f2e3a4-5b6c-7d8e-9f00-112233445566",
        "RecordType": 8,
        "ResultStatus": "Success",
        "UserKey": "10032001C8A2D1C4@example.com",
        "UserType": 0,
        "Version": 1,
        "Workload": "AzureActiveDirectory",
        "ClientIP": "203.0.113.44",
        "ObjectId": "bob@example.com",
        "UserId": "admin@example.com",
        "AzureActiveDirectoryEventType": 1,
        "ExtendedProperties": [{"Name": "additionalDetails", "Value": "{}"}],
        "ModifiedProperties": [
            {"Name": "Role.DisplayName", "NewValue": "Global Administrator", "OldValue": ""}
        ],
        "Actor": [{"ID": "admin@example.com", "Type": 5}],
        "Target": [{"ID": "bob@example.com", "Type": 5}],
    },
    "entra_audit": {
        "id": "Directory_ce6b3eb6-1ed5-4e3b-9a0a-5b4d7a1c2b3d_ABC12_123456",
        "category": "ApplicationManagement",
        "correlationId": "ce6b3eb6-1ed5-4e3b-9a0a-5b4d7a1c2b3d",
        "result": "success",
        "resultReason": "",
        "activityDisplayName": "Consent to application",
        "activityDateTime": "2026-01-05T09:12:43.2134567Z",
        "loggedByService": "Core Directory",
        "operationType": "Assign",
        "initiatedBy": {
            "app": None,
            "user": {
                "id": "29f270bb-4d23-4f68-8a57-dc73dc0d4caf",
                "displayName": None,
                "userPrincipalName": "admin@example.com",
                "ipAddress": "203.0.113.8",
            },
        },
        "targetResources": [
            {
                "id": "ef7e527d-6c92-4234-8c6d-cf6fdfb57f95",
                "displayName": "Shady Mail Reader",
                "type": "ServicePrincipal",
                "modifiedProperties": [
                    {
                        "displayName": "ConsentAction.Permissions",
                        "oldValue": None,
                        "newValue": '"Mail.Read Files.ReadWrite.All offline_access"',
                    }
                ],
            }
        ],
        "additionalDetails": [{"key": "User-Agent", "value": "Mozilla/5.0"}],
    },
    "entra_signin": {
        "id": "66ea54eb-6301-4ee5-be62-ff5a759b0100",
        "createdDateTime": "2026-01-05T09:12:43Z",
        "userDisplayName": "Bob Builder",
        "userPrincipalName": "bob@example.com",
        "userId": "d7cc485d-2c1b-422c-98fd-5ce52859a4a3",
        "appId": "de8bc8b5-d9f9-48b1-a8ad-b748da725064",
        "appDisplayName": "Graph Explorer",
        "ipAddress": "131.107.159.37",
        "clientAppUsed": "Browser",
        "conditionalAccessStatus": "notApplied",
        "isInteractive": True,
        "riskDetail": "none",
        "riskLevelAggregated": "none",
        "riskState": "none",
        "status": {"errorCode": 0, "failureReason": None, "additionalDetails": None},
        "location": {
            "city": "Redmond",
            "state": "Washington",
            "countryOrRegion": "US",
            "geoCoordinates": {"latitude": 47.68, "longitude": -122.12},
        },
    },
    "slack": {
        "id": "0123a45b-6c7d-8900-e12f-3456789gh0i1",
        "date_create": 1767604363,
        "action": "app_installed",
        "actor": {
            "type": "user",
            "user": {"id": "W123AB456", "name": "Charlie Parker", "email": "bird@example.com"},
        },
        "entity": {
            "type": "app",
            "app": {
                "id": "A079XLNNHGY",
                "name": "Data Exporter",
                "is_distributed": False,
                "is_directory_approved": False,
                "is_workflow_app": False,
                "scopes": ["channels:history", "admin", "files:read"],
            },
        },
        "context": {
            "location": {
                "type": "enterprise",
                "id": "E1701NCCA",
                "name": "Example",
                "domain": "ex",
            },
            "ua": "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7)",
            "ip_address": "1.23.45.678",
            "session_id": "847288190092",
        },
        "details": {},
    },
    "ringfence": {
        "time": "2026-01-05T09:12:43.213000+00:00",
        "request_id": "01J9Z8Q6W0RZ4T3S2Y1X0V9U8T",
        "method": "GET",
        "status": 200,
        "decision": "allow",
        "reason": "ok",
        "latency_ms": 12.5,
        "client_ip": "10.1.2.3",
        "user_agent": "crm-sync/2.1",
        "integration": "crm-sync",
        "integration_id": "0193c3f2-0000-7000-8000-000000000001",
        "client_id": "crm-sync-client",
        "auth": "jwt",
        "route": "hubspot-contacts",
        "path_template": "/crm/v3/objects/contacts",
        "upstream": "api.hubapi.com",
        "bytes_in": 0,
        "bytes_out": 48213,
        "dlp": {"request": {}, "response": {"email": 40}, "action": "redact"},
        "class_uid": 4002,
        "category_uid": 4,
    },
}

# test-case source name → parser source name
PARSER_SOURCE = {"entra_audit": "entra", "entra_signin": "entra"}


def merge(base: Any, patch: Any) -> Any:
    """Deep merge: mappings merge key by key, anything else (incl. lists) replaces."""
    if isinstance(base, dict) and isinstance(patch, dict):
        out = dict(base)
        for k, v in patch.items():
            out[k] = merge(base.get(k), v) if k in base else copy.deepcopy(v)
        return out
    return copy.deepcopy(patch)


def sample(source: str, patch: dict[str, Any] | None = None) -> dict[str, Any]:
    if source not in TEMPLATES:
        raise KeyError(f"no sample record for source {source!r}; use one of {sorted(TEMPLATES)}")
    merged: dict[str, Any] = merge(copy.deepcopy(TEMPLATES[source]), patch or {})
    return merged
