"""Vendor profiles: tier, footprint and the communication protocol incident response follows.

Rows extend the foundation ``vendors`` table by foreign key; this module never alters a
foundation vendor row except to read it.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session

from ringfence.core.errors import NotFoundError
from ringfence.store.models import Vendor
from ringfence.vendors.models import Tier, VendorContact, VendorProfile
from ringfence.vendors.schemas import ContactIn, ProfileIn


def vendor_by_ref(session: Session, ref: str) -> Vendor | None:
    """The vendor ``ref`` names: its id first, then its (unique) name — as the inventory
    routes resolve a reference. One ``name = ref OR id = ref`` query took whichever row came
    first, so a vendor named after another's id drew that vendor's questionnaires, evidence
    and score (and two matches made the detail and score routes fail with a 500)."""
    vendor = session.get(Vendor, ref)
    if vendor is None:
        vendor = session.scalar(select(Vendor).where(Vendor.name == ref))
    return vendor


def find_vendor(session: Session, ref: str) -> Vendor:
    """A foundation vendor by id or name; NotFoundError naming the reference otherwise."""
    vendor = vendor_by_ref(session, ref)
    if vendor is None:
        raise NotFoundError(f"no vendor named {ref!r}")
    return vendor


def get_profile(session: Session, vendor_id: str) -> VendorProfile | None:
    return session.scalar(select(VendorProfile).where(VendorProfile.vendor_id == vendor_id))


def tier_of(session: Session, vendor_id: str) -> Tier:
    profile = get_profile(session, vendor_id)
    return profile.tier if profile else Tier.MEDIUM


def set_profile(session: Session, vendor: Vendor, data: ProfileIn) -> VendorProfile:
    """Create or replace the vendor's profile and contacts (the input is the whole truth)."""
    profile = get_profile(session, vendor.id)
    if profile is None:
        profile = VendorProfile(vendor_id=vendor.id)
        session.add(profile)
    profile.tier = data.tier
    profile.domains = list(data.domains)
    profile.services = list(data.services)
    profile.channel = data.channel
    profile.hours = data.hours
    profile.breach_notification_address = data.breach_notification_address
    profile.notes = data.notes
    profile.contacts = [
        VendorContact(
            name=c.name,
            email=c.email,
            phone=c.phone,
            role=c.role,
            escalation_order=c.escalation_order,
        )
        for c in sorted(data.contacts, key=lambda c: c.escalation_order)
    ]
    session.flush()
    return profile


def profile_as_input(profile: VendorProfile) -> ProfileIn:
    """The stored profile in its input shape, as stored: not validated again, so a row made
    before a rule was tightened (a control character in a note) still reads."""
    return ProfileIn.model_construct(
        tier=profile.tier,
        domains=list(profile.domains),
        services=list(profile.services),
        channel=profile.channel,
        hours=profile.hours,
        breach_notification_address=profile.breach_notification_address,
        contacts=[
            ContactIn.model_construct(
                name=c.name,
                email=c.email,
                phone=c.phone,
                role=c.role,
                escalation_order=c.escalation_order,
            )
            for c in profile.contacts
        ],
        notes=profile.notes,
    )


@dataclass(frozen=True)
class CommunicationProtocol:
    """How to reach a vendor's security team: what incident response reads."""

    vendor: str
    channel: str
    hours: str
    breach_notification_address: str | None
    escalation: list[ContactIn]


def communication_protocol(session: Session, vendor_ref: str) -> CommunicationProtocol:
    vendor = find_vendor(session, vendor_ref)
    profile = get_profile(session, vendor.id)
    if profile is None:
        raise NotFoundError(f"vendor {vendor.name!r} has no vendor-risk profile")
    data = profile_as_input(profile)
    return CommunicationProtocol(
        vendor=vendor.name,
        channel=data.channel,
        hours=data.hours,
        breach_notification_address=data.breach_notification_address,
        escalation=data.contacts,
    )
