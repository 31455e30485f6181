"""The referral packet: the only case data an agency ever sees, frozen when the referral is sent.

Each sector's profile lists what it gets. A field not in the profile is absent from the packet
(not blank), so an agency's integration cannot come to rely on it. The child's identity (first
name, precise location, how to reach them) goes only where the profile allows it AND the legal
basis covers sharing it; the reporter's identity only with the reporter's consent."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any

from django.utils.translation import gettext as _

from .models import AgencySector, ConsentBasis, ConsentScope

if TYPE_CHECKING:
    from .models import Referral


@dataclass(frozen=True)
class SectorProfile:
    # "first_name", "initials" or None
    child_name: str | None
    # "precise" (the place), "area" (district or town) or None
    location: str | None
    safe_contact: bool
    vulnerability_flags: bool
    reporter: bool
    reported_content: bool = False


PROFILES: dict[str, SectorProfile] = {
    AgencySector.POLICE: SectorProfile("first_name", "precise", True, True, True),
    AgencySector.HEALTH: SectorProfile("first_name", "precise", True, True, False),
    AgencySector.SOCIAL_SERVICES: SectorProfile("first_name", "precise", True, True, True),
    AgencySector.SHELTER: SectorProfile("first_name", "area", True, True, False),
    AgencySector.LEGAL_AID: SectorProfile("initials", "area", True, False, False),
    AgencySector.EDUCATION: SectorProfile("initials", "area", False, False, False),
    # What was reported online, never who the child is or where.
    AgencySector.ONLINE_ABUSE_HOTLINE: SectorProfile(None, None, False, False, False, reported_content=True),
    AgencySector.OTHER: SectorProfile("initials", "area", False, False, False),
}


def initials(name: str) -> str:
    return "".join(f"{part[0].upper()}." for part in name.split() if part)


def _identity_allowed(referral: Referral) -> bool:
    """Sharing who and where the child is: consent covering information sharing, or the
    emergency / supervisor-override basis that let the referral go without consent."""
    if referral.consent_basis != ConsentBasis.CONSENT:
        return True
    return referral.consent is not None and ConsentScope.INFORMATION_SHARING in referral.consent.scope


def _reporter_allowed(referral: Referral) -> bool:
    return referral.consent is not None and ConsentScope.REPORTER_IDENTITY in referral.consent.scope


def _iso(value: datetime | None) -> str | None:
    return value.isoformat() if value else None


def packet_build(referral: Referral) -> dict[str, Any]:
    """The packet for `referral` as of now (call at send time and store it)."""
    case = referral.case
    profile = PROFILES[referral.agency.sector]
    identity = _identity_allowed(referral)
    packet: dict[str, Any] = {
        "referral_id": referral.pk,
        "reference": case.reference,
        "helpline": {"code": case.helpline.code, "name": case.helpline.name},
        "urgency": referral.urgency,
        "service_type": referral.service_type,
        "category_codes": list(case.categories),
        "risk_level": case.risk_level,
        "child": {
            "age": case.child_age,
            "age_range": case.child_age_range,
            "gender": case.child_gender,
            "language": case.child_language,
        },
        "summary": referral.summary,
        "sent_at": _iso(referral.sent_at),
        "respond_by": _iso(referral.respond_by),
        "legal_basis": referral.consent_basis,
    }
    child = packet["child"]
    if profile.child_name and case.child_first_name:
        use_name = profile.child_name == "first_name" and identity
        child["first_name" if use_name else "initials"] = (
            case.child_first_name if use_name else initials(case.child_first_name)
        )
    if profile.location == "precise" and identity and case.child_location:
        child["location"] = case.child_location
        child["area"] = case.child_area
    elif profile.location in ("precise", "area"):
        child["area"] = case.child_area
    if profile.safe_contact and identity:
        child["safe_contact"] = case.safe_contact
    if profile.vulnerability_flags:
        child["vulnerability_flags"] = list(case.vulnerability_flags)
    if profile.reporter and _reporter_allowed(referral):
        packet["reporter"] = {
            "name": case.reporter_name,
            "relation": case.reporter_relation,
            "phone": case.reporter_phone,
        }
    if profile.reported_content:
        packet["reported_content"] = {"urls": list(referral.reported_urls), "platform": referral.platform}
    return packet


# What a sector needs in a packet to act at all: at least one of these, present and not empty.
# Services that go out to a child (police, health, social services, shelters) need to find or reach
# them (or, for police and social services, the reporter who can); legal aid needs a way to reach
# them; an online-abuse hotline the reported content. Education and "other" agencies act on what
# they are always given (initials and area), so they need no more.
NEEDS: dict[str, tuple[str, ...]] = {
    AgencySector.POLICE: ("child.first_name", "child.location", "child.safe_contact", "reporter.phone"),
    AgencySector.HEALTH: ("child.location", "child.safe_contact"),
    AgencySector.SOCIAL_SERVICES: (
        "child.first_name",
        "child.location",
        "child.safe_contact",
        "reporter.phone",
    ),
    AgencySector.SHELTER: ("child.first_name", "child.safe_contact"),
    AgencySector.LEGAL_AID: ("child.safe_contact",),
    AgencySector.ONLINE_ABUSE_HOTLINE: ("reported_content.urls",),
    AgencySector.EDUCATION: (),
    AgencySector.OTHER: (),
}
NOT_ACTIONABLE = "packet_not_actionable"


def _present(packet: dict[str, Any], path: str) -> bool:
    node: Any = packet
    for key in path.split("."):
        if not isinstance(node, dict) or key not in node:
            return False
        node = node[key]
    return bool(node)


def packet_warnings(referral: Referral, packet: dict[str, Any]) -> list[dict[str, Any]]:
    """Warnings for the operator when `packet` leaves the agency nothing its sector needs to act
    on (NEEDS): usually the consent's scope withheld the child's identity or the reporter's. The
    referral goes all the same (the agency can still call the helpline back with the reference);
    the operator decides whether to record a wider consent and re-send, or withdraw it."""
    needs = NEEDS.get(referral.agency.sector, ())
    if not needs or any(_present(packet, path) for path in needs):
        return []
    no_identity = not _identity_allowed(referral)
    no_reporter = any(path.startswith("reporter.") for path in needs) and not _reporter_allowed(referral)
    if no_identity and no_reporter:
        # Translators: %(sector)s: the agency's sector in lower case; %(needs)s: field paths (codes);
        # information_sharing and reporter_identity are consent scopes' codes: keep them as they are.
        detail = _(
            "The packet gives this %(sector)s agency nothing it needs to act on (none of %(needs)s): "
            "the consent covers neither information_sharing (the child's name, place and contact) "
            "nor reporter_identity (the reporter's number)."
        )
    elif no_identity:
        # Translators: %(sector)s: the agency's sector in lower case; %(needs)s: field paths (codes);
        # information_sharing is a consent scope's code: keep it as it is.
        detail = _(
            "The packet gives this %(sector)s agency nothing it needs to act on (none of %(needs)s): "
            "the consent does not cover information_sharing (the child's name, place and contact)."
        )
    elif no_reporter:
        # Translators: %(sector)s: the agency's sector in lower case; %(needs)s: field paths (codes);
        # reporter_identity is a consent scope's code: keep it as it is.
        detail = _(
            "The packet gives this %(sector)s agency nothing it needs to act on (none of %(needs)s): "
            "the consent does not cover reporter_identity (the reporter's number)."
        )
    else:
        # Translators: %(sector)s: the agency's sector in lower case; %(needs)s: field paths (codes).
        detail = _(
            "The packet gives this %(sector)s agency nothing it needs to act on (none of %(needs)s): "
            "the case has none of these details recorded."
        )
    return [
        {
            "code": NOT_ACTIONABLE,
            "detail": detail
            % {"sector": referral.agency.get_sector_display().lower(), "needs": ", ".join(needs)},
            "missing": list(needs),
        }
    ]


def packet_preview(
    *, case: Any, agency: Any, service_type: str, urgency: str, summary: str
) -> dict[str, Any]:
    """The packet `agency` would be sent if the case were referred now on its recorded consent
    (the console's preview before sending): packet_build's own rules on a referral not yet made, so
    the preview cannot differ from what is sent; its id and times are not known yet."""
    from .models import Consent, Referral

    consent = (
        Consent.objects.filter(case=case, withdrawn_at__isnull=True).order_by("-recorded_at", "-id").first()
    )
    referral = Referral(
        case=case,
        agency=agency,
        service_type=service_type,
        urgency=urgency,
        summary=summary,
        consent=consent,
        consent_basis=ConsentBasis.CONSENT,
    )
    return packet_build(referral)


def packet_for_reader(packet: dict[str, Any], *, user: Any, case: Any) -> dict[str, Any]:
    """A packet as helpline staff read it: the reporter's number masked for those who may not see
    it in full (as on the case itself); the agency reads its packet as it was sent."""
    from cases.selectors import phone_as_seen_by

    reporter = packet.get("reporter")
    if not isinstance(reporter, dict) or not reporter.get("phone"):
        return packet
    seen = phone_as_seen_by(user=user, case=case, number=str(reporter["phone"]))
    return {**packet, "reporter": {**reporter, "phone": seen}}
