"""Vendor profile and the communication protocol incident response follows."""

from __future__ import annotations

import pytest
from pydantic import ValidationError as PydanticValidationError

from ringfence.core.errors import NotFoundError
from ringfence.runtime import Runtime
from ringfence.store.models import Vendor
from ringfence.vendors import communication_protocol
from ringfence.vendors.profiles import set_profile
from ringfence.vendors.schemas import ProfileIn
from tests.vendors.conftest import Estate


def test_protocol_lists_contacts_in_escalation_order(runtime: Runtime, estate: Estate) -> None:
    data = ProfileIn.model_validate(
        {
            "tier": "high",
            "domains": ["Acme.Example"],
            "services": ["payroll"],
            "channel": "phone",
            "hours": "Mon-Fri 09:00-17:00 CET",
            "breach_notification_address": "Breach@Acme.Example",
            "contacts": [
                {"name": "Deputy", "email": "deputy@acme.example", "escalation_order": 3},
                {"name": "SOC", "email": "soc@acme.example", "escalation_order": 1},
            ],
        }
    )
    with runtime.store.session() as s:
        set_profile(s, s.get_one(Vendor, estate.vendor_id), data)
    with runtime.store.session() as s:
        proto = communication_protocol(s, "Acme Payroll")
    assert proto.channel == "phone" and proto.breach_notification_address == "breach@acme.example"
    assert [c.name for c in proto.escalation] == ["SOC", "Deputy"]
    # Setting the profile again replaces contacts instead of appending.
    with runtime.store.session() as s:
        set_profile(s, s.get_one(Vendor, estate.vendor_id), ProfileIn(channel="email"))
    with runtime.store.session() as s:
        assert communication_protocol(s, "Acme Payroll").escalation == []


def test_protocol_of_a_vendor_without_profile_is_not_found(
    runtime: Runtime, estate: Estate
) -> None:
    with pytest.raises(NotFoundError, match="no vendor-risk profile"), runtime.store.session() as s:
        communication_protocol(s, "Acme Payroll")
    with pytest.raises(NotFoundError, match="no vendor named"), runtime.store.session() as s:
        communication_protocol(s, "Nobody")


@pytest.mark.parametrize(
    "data",
    [
        {"channel": "fax"},
        {"tier": "extreme"},
        {"domains": ["not a domain"]},
        {"breach_notification_address": "not-an-email"},
        {
            "contacts": [
                {"name": "A", "email": "a@x.example", "escalation_order": 1},
                {"name": "B", "email": "b@x.example", "escalation_order": 1},
            ]
        },
        {"contacts": [{"name": "A", "email": "a@x.example", "escalation_order": 0}]},
        {"unknown_field": True},
    ],
)
def test_bad_profile_input_is_refused(data: dict[str, object]) -> None:
    with pytest.raises(PydanticValidationError):
        ProfileIn.model_validate(data)
