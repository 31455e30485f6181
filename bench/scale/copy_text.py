"""PostgreSQL COPY's text format: escaping, timestamps, arrays, NULL, and the column list of every
seeded table in the order the generator writes its values."""

from datetime import UTC, datetime


def esc(text: str) -> str:
    """A value in COPY's text format (free text and JSON may hold backslashes or newlines)."""
    return text.replace("\\", "\\\\").replace("\t", "\\t").replace("\n", "\\n").replace("\r", "\\r")


_DAYS: dict[int, str] = {}


def ts(seconds: float) -> str:
    """A UTC timestamp for COPY, about twice as fast as datetime.isoformat (millions are written)."""
    micros = int(seconds * 1_000_000 + 0.5)
    day, rest = divmod(micros, 86_400_000_000)
    prefix = _DAYS.get(day)
    if prefix is None:
        prefix = _DAYS[day] = datetime.fromtimestamp(day * 86400, UTC).strftime("%Y-%m-%d ")
    return "%s%02d:%02d:%02d.%06d+00" % (  # noqa: UP031 - %-formatting is the fastest here
        prefix,
        rest // 3_600_000_000,
        rest // 60_000_000 % 60,
        rest // 1_000_000 % 60,
        rest % 1_000_000,
    )


def array(values: list[str]) -> str:
    return "{" + ",".join(values) + "}"


N = "\\N"

# COPY column lists, in the order the generator writes values.
COLUMNS = {
    "cases_case": (
        "id, helpline_id, reference, state, risk_level, categories, child_first_name, child_age, "
        "child_age_range, child_gender, child_area, child_location, child_language, child_details_note, "
        "vulnerability_flags, safe_contact, reporter_relation, reporter_name, reporter_phone, "
        "reporter_phone_hash, assigned_to_id, team_id, state_changed_at, next_action_due_at, "
        "overdue_since, restricted, closure_reason, closed_at, anonymised_at, created_by_id, created_at, "
        "updated_at, search_tokens"
    ),
    "cases_contact": (
        "id, helpline_id, case_id, channel, direction, call_type, summary, started_at, ended_at, "
        "created_by_id, created_at, language"
    ),
    "channels_sms_inboundevent": (
        "id, helpline_id, channel, kind, provider, external_id, sender, sender_hash, body, num_media, "
        "media, params, reply, received_at, dispatched_at, processed_at, attempts, contact_id, language"
    ),
    "channels_sms_message": (
        "id, helpline_id, case_id, contact_id, channel, direction, sender_hash, body, media, "
        "external_id, event_id, at, created_at, author_id, from_address, to_address, status, "
        "error_code, attempts, sent_at, status_at"
    ),
    "referrals_consent": "id, case_id, given_by, given_at, scope, recorded_by_id, recorded_at, withdrawn_at",
    "referrals_referral": (
        "id, helpline_id, case_id, agency_id, state, service_type, urgency, reason, summary, "
        "reported_urls, platform, consent_basis, consent_id, override_reason, packet_json, "
        "resent_from_id, created_by_id, created_at, approved_by_id, sent_at, respond_by, responded_at, "
        "responded_by_id, closed_at, closed_by_id, rejection_reason, withdrawal_reason, outcome, "
        "outcome_note"
    ),
    "cases_escalation": (
        "id, case_id, kind, referral_id, detail, helpline_id, team_id, due_at, state, risk_level, "
        "created_at, acknowledged_by_id, acknowledged_at"
    ),
    "helpline_auditentry": (
        "id, chain, chain_seq, prev_hash, hash, txid, at, actor_id, actor_username, actor_role, "
        "helpline_id, action, object_type, object_id, case_id, changes, outcome, request_id, client_ip, "
        "user_agent, extra"
    ),
}
TABLES = tuple(COLUMNS)

Batch = dict[str, tuple[str, int]]  # table -> (COPY text, rows)
