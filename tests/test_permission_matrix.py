# ruff: noqa: E501  (the matrix is a table: one line per row, one column per caller)
"""The permission matrix: every /api/v1/ route, every method it answers, every kind of caller, with
an object in the caller's scope or outside it, and the status each combination must answer.

Anonymous callers get 401. An object outside the caller's scope (the same kind of object in another
helpline; for case data also a restricted case the caller is not on the need-to-know list of, and
for operators another team's case past intake) answers 404 — the one standard body, nothing of the
object in it — and stays out of lists. An object in scope answers the endpoint's 2xx, or 403 where
`helpline/policy.py` lets the role see the object but not take the action. A refused write changes
nothing stored; an accepted one changes something. HEAD answers as GET does; OPTIONS describes a
route alike for every object and never fails.

`TABLE` is the matrix: one line per (method, route, scope), one column per caller, routes named
under /api/v1/ with `{id}` for the object in the path. The last caller is the platform administrator
(an administrator of no helpline): across helplines for people, helplines and agencies, never case
content. `TARGETS` says which object each scope of a
route means. `test_matrix_covers_exactly_the_routes_and_methods_the_api_serves` fails when a route
has no rows."""

import csv
import io
import random
import re
from datetime import date, time, timedelta
from typing import Any, NamedTuple
from urllib.parse import urlencode

import pytest
from django.apps import apps
from django.db import connection, transaction
from django.db.models import Model
from django.urls import URLPattern, URLResolver, get_resolver
from django.utils import timezone
from django_otp.oath import totp
from django_otp.plugins.otp_totp.models import TOTPDevice
from knox.models import AuthToken

from cases.models import Case, CaseAccess, CaseLink, Category, Contact, Escalation
from channels_sms.chat import chat_session_create
from channels_sms.models import (
    Callback,
    CannedReply,
    ContacterFlag,
    InboundEvent,
    Message,
    PhoneNumber,
    VoiceRoute,
)
from channels_sms.voice import callback_request
from helpline.audit import audit_record
from helpline.models import Helpline, User
from helpline.services import token_id
from helpline.vocabulary import AuditAction
from notifications.models import Notification, OnCallShift
from referrals.models import Agency, Consent, Delivery, DeliveryAttempt, Referral, WebhookChange
from reports.models import Export

from . import factories

# --- the callers, the scopes, the answers ------------------------------------------------------------

ANON, OPERATOR, SUPERVISOR, ADMIN, AGENCY = "anonymous", "operator", "supervisor", "admin", "agency"
# The platform administrator: an administrator of no helpline, who manages people, helplines and
# agencies across helplines (policy's `is_in_admin_scope`), alone creates helplines, and, like every
# administrator, never reads case content.
PLATFORM_ADMIN = "platform admin"
ROLES = (ANON, OPERATOR, SUPERVISOR, ADMIN, AGENCY, PLATFORM_ADMIN)

NONE = "no object"
IN = "in scope"
IN_HIGH_RISK = "in scope, high risk"  # closing it is for supervisors only
IN_CLOSED = "in scope, closed"  # reopening it is for supervisors only
IN_RESTRICT = "in scope, setting restricted"  # PATCH {"restricted": true}: supervisors only
IN_OWN_GRANT = "in scope, own break-glass"  # reviewed by another supervisor only
OUT_HELPLINE = "out: other helpline"
OUT_RESTRICTED = "out: restricted, caller not on its list"
OUT_TEAM = "out: another team's case past intake"  # out of an operator's scope, in a supervisor's
OUT_AGENCY = "out: another agency"  # out of an agency user's scope only

SHOWN = "200, object listed"
HIDDEN = "200, object not listed"


class Line(NamedTuple):
    """One line of the table: what each caller gets for one request on one object."""

    method: str
    route: str
    scope: str
    anonymous: int
    operator: int | str
    supervisor: int | str
    admin: int | str
    agency: int | str
    platform: int | str  # the platform administrator


class Row(NamedTuple):
    method: str
    route: str
    role: str
    scope: str
    expected: int | str


# fmt: off
# Auth: the sign-in row's callers sign in as themselves (supervisors and admins with their TOTP
# code); "anonymous" there is someone with a wrong password.
TABLE = [
    #    method    route                            scope           anon oper.   superv. admin   agency  platform
    Line("post",   "auth/token/",                   NONE,           401, 200,    200,    200,    200,    200),
    Line("post",   "auth/logout/",                  NONE,           401, 204,    204,    204,    204,    204),
    Line("get",    "auth/tokens/",                  NONE,           401, 200,    200,    200,    200,    200),
    Line("delete", "auth/tokens/{id}/",             IN,             401, 204,    204,    204,    204,    204),
    Line("delete", "auth/tokens/{id}/",             OUT_HELPLINE,   401, 404,    404,    404,    404,    404),
    Line("get",    "auth/me/",                      NONE,           401, 200,    200,    200,    200,    200),
    Line("patch",  "auth/me/",                      NONE,           401, 200,    200,    200,    200,    200),
    Line("get",    "auth/security-events/",         NONE,           401, 200,    200,    200,    200,    200),
    # Public: a set-password link's token, or the caller's own password, is what counts (here an
    # unknown token and a wrong password, whoever sends them).
    Line("post",   "auth/password/",                NONE,           400, 400,    400,    400,    400,    400),
    Line("post",   "auth/totp/",                    NONE,           401, 401,    401,    401,    401,    401),
    Line("post",   "auth/totp/confirm/",            NONE,           401, 401,    401,    401,    401,    401),

    # People and helplines are the administrators' endpoints: 403 for anyone else, whatever the id.
    # The platform administrator's scope is every helpline: "out: other helpline" is in it.
    Line("get",    "users/",                        IN,             401, 403,    403,    SHOWN,  403,    SHOWN),
    Line("get",    "users/",                        OUT_HELPLINE,   401, 403,    403,    HIDDEN, 403,    SHOWN),
    Line("post",   "users/",                        NONE,           401, 403,    403,    201,    403,    201),
    Line("get",    "users/{id}/",                   IN,             401, 403,    403,    200,    403,    200),
    Line("get",    "users/{id}/",                   OUT_HELPLINE,   401, 403,    403,    404,    403,    200),
    Line("patch",  "users/{id}/",                   IN,             401, 403,    403,    200,    403,    200),
    Line("patch",  "users/{id}/",                   OUT_HELPLINE,   401, 403,    403,    404,    403,    200),
    Line("post",   "users/{id}/password-link/",     IN,             401, 403,    403,    201,    403,    201),
    Line("post",   "users/{id}/password-link/",     OUT_HELPLINE,   401, 403,    403,    404,    403,    201),
    Line("delete", "users/{id}/totp/",              IN,             401, 403,    403,    204,    403,    204),
    Line("delete", "users/{id}/totp/",              OUT_HELPLINE,   401, 403,    403,    404,    403,    204),
    Line("get",    "users/{id}/activity/",          IN,             401, 404,    200,    404,    404,    404),
    Line("get",    "users/{id}/activity/",          OUT_HELPLINE,   401, 404,    404,    404,    404,    404),
    Line("get",    "helplines/",                    IN,             401, 403,    403,    SHOWN,  403,    SHOWN),
    Line("get",    "helplines/",                    OUT_HELPLINE,   401, 403,    403,    HIDDEN, 403,    SHOWN),
    Line("post",   "helplines/",                    NONE,           401, 403,    403,    403,    403,    201),
    Line("get",    "helplines/{id}/",               IN,             401, 403,    403,    200,    403,    200),
    Line("get",    "helplines/{id}/",               OUT_HELPLINE,   401, 403,    403,    404,    403,    200),
    Line("patch",  "helplines/{id}/",               IN,             401, 403,    403,    200,    403,    200),
    Line("patch",  "helplines/{id}/",               OUT_HELPLINE,   401, 403,    403,    404,    403,    200),

    # Teams: the helpline's staff read them (to hand cases over); administrators manage them.
    Line("get",    "teams/",                        IN,             401, SHOWN,  SHOWN,  SHOWN,  HIDDEN, SHOWN),
    Line("get",    "teams/",                        OUT_HELPLINE,   401, HIDDEN, HIDDEN, HIDDEN, HIDDEN, SHOWN),
    Line("post",   "teams/",                        NONE,           401, 403,    403,    201,    403,    201),
    Line("get",    "teams/{id}/",                   IN,             401, 200,    200,    200,    404,    200),
    Line("get",    "teams/{id}/",                   OUT_HELPLINE,   401, 404,    404,    404,    404,    200),
    Line("patch",  "teams/{id}/",                   IN,             401, 403,    403,    200,    404,    200),
    Line("patch",  "teams/{id}/",                   OUT_HELPLINE,   401, 404,    404,    404,    404,    200),

    # The audit log: supervisors read their helpline's; everyone else reads an empty log.
    Line("get",    "audit/",                        IN,             401, HIDDEN, SHOWN,  HIDDEN, HIDDEN, HIDDEN),
    Line("get",    "audit/",                        OUT_HELPLINE,   401, HIDDEN, HIDDEN, HIDDEN, HIDDEN, HIDDEN),
    Line("get",    "audit/export/",                 IN,             401, HIDDEN, SHOWN,  HIDDEN, HIDDEN, HIDDEN),
    Line("get",    "audit/export/",                 OUT_HELPLINE,   401, HIDDEN, HIDDEN, HIDDEN, HIDDEN, HIDDEN),
    Line("get",    "audit/verify/",                 NONE,           401, 404,    200,    404,    404,    404),

    # Cases.
    Line("get",    "cases/",                        IN,             401, SHOWN,  SHOWN,  HIDDEN, HIDDEN, HIDDEN),
    Line("get",    "cases/",                        OUT_HELPLINE,   401, HIDDEN, HIDDEN, HIDDEN, HIDDEN, HIDDEN),
    Line("get",    "cases/",                        OUT_RESTRICTED, 401, HIDDEN, HIDDEN, HIDDEN, HIDDEN, HIDDEN),
    Line("get",    "cases/",                        OUT_TEAM,       401, HIDDEN, SHOWN,  HIDDEN, HIDDEN, HIDDEN),
    Line("post",   "cases/",                        NONE,           401, 201,    201,    403,    403,    403),
    Line("get",    "cases/{id}/",                   IN,             401, 200,    200,    404,    404,    404),
    Line("get",    "cases/{id}/",                   OUT_HELPLINE,   401, 404,    404,    404,    404,    404),
    Line("get",    "cases/{id}/",                   OUT_RESTRICTED, 401, 404,    404,    404,    404,    404),
    Line("get",    "cases/{id}/",                   OUT_TEAM,       401, 404,    200,    404,    404,    404),
    Line("patch",  "cases/{id}/",                   IN,             401, 200,    200,    404,    404,    404),
    Line("patch",  "cases/{id}/",                   IN_RESTRICT,    401, 403,    200,    404,    404,    404),
    Line("patch",  "cases/{id}/",                   OUT_HELPLINE,   401, 404,    404,    404,    404,    404),
    Line("patch",  "cases/{id}/",                   OUT_RESTRICTED, 401, 404,    404,    404,    404,    404),
    Line("patch",  "cases/{id}/",                   OUT_TEAM,       401, 404,    200,    404,    404,    404),
    Line("post",   "cases/{id}/transitions/",       IN,             401, 200,    200,    404,    404,    404),
    Line("post",   "cases/{id}/transitions/",       IN_HIGH_RISK,   401, 403,    200,    404,    404,    404),
    Line("post",   "cases/{id}/transitions/",       IN_CLOSED,      401, 403,    200,    404,    404,    404),
    Line("post",   "cases/{id}/transitions/",       OUT_HELPLINE,   401, 404,    404,    404,    404,    404),
    Line("post",   "cases/{id}/transitions/",       OUT_RESTRICTED, 401, 404,    404,    404,    404,    404),
    Line("post",   "cases/{id}/transitions/",       OUT_TEAM,       401, 404,    200,    404,    404,    404),
    # Handover: the "in scope" case is the callers' team's, in intake and assigned to nobody, which
    # an operator of the team may hand over (to supervisor2).
    Line("post",   "cases/{id}/transfer/",          IN,             401, 200,    200,    404,    404,    404),
    Line("post",   "cases/{id}/transfer/",          OUT_HELPLINE,   401, 404,    404,    404,    404,    404),
    Line("post",   "cases/{id}/transfer/",          OUT_RESTRICTED, 401, 404,    404,    404,    404,    404),
    Line("post",   "cases/{id}/transfer/",          OUT_TEAM,       401, 404,    200,    404,    404,    404),
    Line("get",    "cases/{id}/notes/",             IN,             401, 200,    200,    404,    404,    404),
    Line("get",    "cases/{id}/notes/",             OUT_HELPLINE,   401, 404,    404,    404,    404,    404),
    Line("get",    "cases/{id}/notes/",             OUT_RESTRICTED, 401, 404,    404,    404,    404,    404),
    Line("get",    "cases/{id}/notes/",             OUT_TEAM,       401, 404,    200,    404,    404,    404),
    Line("post",   "cases/{id}/notes/",             IN,             401, 201,    201,    404,    404,    404),
    Line("post",   "cases/{id}/notes/",             OUT_HELPLINE,   401, 404,    404,    404,    404,    404),
    Line("post",   "cases/{id}/notes/",             OUT_RESTRICTED, 401, 404,    404,    404,    404,    404),
    Line("post",   "cases/{id}/notes/",             OUT_TEAM,       401, 404,    201,    404,    404,    404),
    Line("get",    "cases/{id}/messages/",          IN,             401, 200,    200,    404,    404,    404),
    Line("get",    "cases/{id}/messages/",          OUT_HELPLINE,   401, 404,    404,    404,    404,    404),
    Line("get",    "cases/{id}/messages/",          OUT_RESTRICTED, 401, 404,    404,    404,    404,    404),
    Line("get",    "cases/{id}/messages/",          OUT_TEAM,       401, 404,    200,    404,    404,    404),
    # A reply needs the case's SMS/WhatsApp sender; these cases have none: 409 where it may be sent.
    Line("post",   "cases/{id}/messages/",          IN,             401, 409,    409,    404,    404,    404),
    Line("post",   "cases/{id}/messages/",          OUT_HELPLINE,   401, 404,    404,    404,    404,    404),
    Line("post",   "cases/{id}/messages/",          OUT_RESTRICTED, 401, 404,    404,    404,    404,    404),
    Line("post",   "cases/{id}/messages/",          OUT_TEAM,       401, 404,    409,    404,    404,    404),
    # Supervisor-only reads of a case (history, need-to-know list) answer operators 404, as the
    # audit trail's tests have it: for them the resource does not exist.
    Line("get",    "cases/{id}/history/",           IN,             401, 404,    200,    404,    404,    404),
    Line("get",    "cases/{id}/history/",           OUT_HELPLINE,   401, 404,    404,    404,    404,    404),
    Line("get",    "cases/{id}/history/",           OUT_RESTRICTED, 401, 404,    404,    404,    404,    404),
    Line("get",    "cases/{id}/history/",           OUT_TEAM,       401, 404,    200,    404,    404,    404),
    # Links: staff who see both cases; merging a duplicate: supervisors (an operator who sees both: 403).
    Line("get",    "cases/{id}/links/",             IN,             401, 200,    200,    404,    404,    404),
    Line("get",    "cases/{id}/links/",             OUT_HELPLINE,   401, 404,    404,    404,    404,    404),
    Line("get",    "cases/{id}/links/",             OUT_RESTRICTED, 401, 404,    404,    404,    404,    404),
    Line("get",    "cases/{id}/links/",             OUT_TEAM,       401, 404,    200,    404,    404,    404),
    Line("post",   "cases/{id}/links/",             IN,             401, 201,    201,    404,    404,    404),
    Line("post",   "cases/{id}/links/",             OUT_HELPLINE,   401, 404,    404,    404,    404,    404),
    Line("post",   "cases/{id}/links/",             OUT_RESTRICTED, 401, 404,    404,    404,    404,    404),
    Line("post",   "cases/{id}/links/",             OUT_TEAM,       401, 404,    201,    404,    404,    404),
    Line("delete", "case-links/{id}/",              IN,             401, 204,    204,    404,    404,    404),
    Line("delete", "case-links/{id}/",              OUT_HELPLINE,   401, 404,    404,    404,    404,    404),
    Line("delete", "case-links/{id}/",              OUT_RESTRICTED, 401, 404,    404,    404,    404,    404),
    Line("delete", "case-links/{id}/",              OUT_TEAM,       401, 404,    204,    404,    404,    404),
    Line("post",   "cases/{id}/merge/",             IN,             401, 403,    200,    404,    404,    404),
    Line("post",   "cases/{id}/merge/",             OUT_HELPLINE,   401, 404,    404,    404,    404,    404),
    Line("post",   "cases/{id}/merge/",             OUT_RESTRICTED, 401, 404,    404,    404,    404,    404),
    Line("post",   "cases/{id}/merge/",             OUT_TEAM,       401, 404,    200,    404,    404,    404),
    Line("get",    "cases/{id}/access/",            IN,             401, 404,    200,    404,    404,    404),
    Line("get",    "cases/{id}/access/",            OUT_HELPLINE,   401, 404,    404,    404,    404,    404),
    Line("get",    "cases/{id}/access/",            OUT_RESTRICTED, 401, 404,    404,    404,    404,    404),
    Line("get",    "cases/{id}/access/",            OUT_TEAM,       401, 404,    200,    404,    404,    404),
    Line("put",    "cases/{id}/access/",            IN,             401, 403,    200,    404,    404,    404),
    Line("put",    "cases/{id}/access/",            OUT_HELPLINE,   401, 404,    404,    404,    404,    404),
    Line("put",    "cases/{id}/access/",            OUT_RESTRICTED, 401, 404,    404,    404,    404,    404),
    Line("put",    "cases/{id}/access/",            OUT_TEAM,       401, 404,    200,    404,    404,    404),
    # Break-glass is for restricted cases the caller is not on the list of: "in scope" here is such
    # a case of the caller's helpline (which an operator cannot see at all).
    Line("post",   "cases/{id}/break-glass/",       IN,             401, 404,    201,    404,    404,    404),
    Line("post",   "cases/{id}/break-glass/",       OUT_HELPLINE,   401, 404,    404,    404,    404,    404),
    Line("get",    "break-glass/",                  IN,             401, HIDDEN, SHOWN,  HIDDEN, HIDDEN, HIDDEN),
    Line("get",    "break-glass/",                  OUT_HELPLINE,   401, HIDDEN, HIDDEN, HIDDEN, HIDDEN, HIDDEN),
    Line("post",   "break-glass/{id}/review/",      IN,             401, 404,    200,    404,    404,    404),
    Line("post",   "break-glass/{id}/review/",      IN_OWN_GRANT,   401, 404,    403,    404,    404,    404),
    Line("post",   "break-glass/{id}/review/",      OUT_HELPLINE,   401, 404,    404,    404,    404,    404),

    # Contacts follow their case's scope; a contact in no case belongs to its helpline's staff.
    Line("get",    "contacts/",                     IN,             401, SHOWN,  SHOWN,  HIDDEN, HIDDEN, HIDDEN),
    Line("get",    "contacts/",                     OUT_HELPLINE,   401, HIDDEN, HIDDEN, HIDDEN, HIDDEN, HIDDEN),
    Line("get",    "contacts/",                     OUT_RESTRICTED, 401, HIDDEN, HIDDEN, HIDDEN, HIDDEN, HIDDEN),
    Line("get",    "contacts/",                     OUT_TEAM,       401, HIDDEN, SHOWN,  HIDDEN, HIDDEN, HIDDEN),
    Line("get",    "contacts/{id}/",                IN,             401, 200,    200,    404,    404,    404),
    Line("get",    "contacts/{id}/",                OUT_HELPLINE,   401, 404,    404,    404,    404,    404),
    Line("get",    "contacts/{id}/",                OUT_RESTRICTED, 401, 404,    404,    404,    404,    404),
    Line("get",    "contacts/{id}/",                OUT_TEAM,       401, 404,    200,    404,    404,    404),
    Line("patch",  "contacts/{id}/",                IN,             401, 200,    200,    404,    404,    404),
    Line("patch",  "contacts/{id}/",                OUT_HELPLINE,   401, 404,    404,    404,    404,    404),
    Line("patch",  "contacts/{id}/",                OUT_RESTRICTED, 401, 404,    404,    404,    404,    404),
    Line("patch",  "contacts/{id}/",                OUT_TEAM,       401, 404,    200,    404,    404,    404),
    # Attach: a contact in no case into a case; out of scope is the contact or the case.
    Line("post",   "contacts/{id}/attach/",         IN,             401, 200,    200,    404,    404,    404),
    Line("post",   "contacts/{id}/attach/",         OUT_HELPLINE,   401, 404,    404,    404,    404,    404),
    Line("post",   "contacts/{id}/attach/",         OUT_RESTRICTED, 401, 404,    404,    404,    404,    404),
    Line("post",   "contacts/{id}/attach/",         OUT_TEAM,       401, 404,    200,    404,    404,    404),

    # Escalations follow their case's scope; only supervisors acknowledge them.
    Line("get",    "escalations/",                  IN,             401, SHOWN,  SHOWN,  HIDDEN, HIDDEN, HIDDEN),
    Line("get",    "escalations/",                  OUT_HELPLINE,   401, HIDDEN, HIDDEN, HIDDEN, HIDDEN, HIDDEN),
    Line("get",    "escalations/",                  OUT_RESTRICTED, 401, HIDDEN, HIDDEN, HIDDEN, HIDDEN, HIDDEN),
    Line("get",    "escalations/",                  OUT_TEAM,       401, HIDDEN, SHOWN,  HIDDEN, HIDDEN, HIDDEN),
    Line("post",   "escalations/{id}/acknowledge/", IN,             401, 403,    200,    404,    404,    404),
    Line("post",   "escalations/{id}/acknowledge/", OUT_HELPLINE,   401, 404,    404,    404,    404,    404),
    Line("post",   "escalations/{id}/acknowledge/", OUT_RESTRICTED, 401, 404,    404,    404,    404,    404),
    Line("post",   "escalations/{id}/acknowledge/", OUT_TEAM,       401, 404,    200,    404,    404,    404),

    # Callbacks of abandoned calls follow their case's scope; staff mark them done.
    Line("get",    "callbacks/",                    IN,             401, SHOWN,  SHOWN,  HIDDEN, HIDDEN, HIDDEN),
    Line("get",    "callbacks/",                    OUT_HELPLINE,   401, HIDDEN, HIDDEN, HIDDEN, HIDDEN, HIDDEN),
    Line("get",    "callbacks/",                    OUT_RESTRICTED, 401, HIDDEN, HIDDEN, HIDDEN, HIDDEN, HIDDEN),
    Line("get",    "callbacks/",                    OUT_TEAM,       401, HIDDEN, SHOWN,  HIDDEN, HIDDEN, HIDDEN),
    Line("post",   "callbacks/{id}/done/",          IN,             401, 200,    200,    404,    404,    404),
    Line("post",   "callbacks/{id}/done/",          OUT_HELPLINE,   401, 404,    404,    404,    404,    404),
    Line("post",   "callbacks/{id}/done/",          OUT_RESTRICTED, 401, 404,    404,    404,    404,    404),
    Line("post",   "callbacks/{id}/done/",          OUT_TEAM,       401, 404,    200,    404,    404,    404),

    # Repeat contacters ({id}: a sender identifier's hash): staff see what they may of it (404 when
    # nothing); only supervisors flag it or lift the flag.
    Line("get",    "contacters/{id}/",              IN,             401, 200,    200,    404,    404,    404),
    Line("get",    "contacters/{id}/",              OUT_HELPLINE,   401, 404,    404,    404,    404,    404),
    Line("post",   "contacters/{id}/flag/",         IN,             401, 403,    201,    404,    404,    404),
    Line("post",   "contacters/{id}/flag/",         OUT_HELPLINE,   401, 404,    404,    404,    404,    404),
    Line("delete", "contacters/{id}/flag/",         IN,             401, 403,    204,    404,    404,    404),
    Line("delete", "contacters/{id}/flag/",         OUT_HELPLINE,   401, 404,    404,    404,    404,    404),

    # Web chat is anonymous (no login), so every caller gets the same answer. The table's callers
    # hold tokens, never a session's secret: a session is 404 to all of them, in scope or not
    # (tests/test_web_chat_sessions.py covers the secret's holder).
    Line("post",   "chat/sessions/",                NONE,           201, 201,    201,    201,    201,    201),
    Line("get",    "chat/sessions/{id}/messages/",  IN,             404, 404,    404,    404,    404,    404),
    Line("get",    "chat/sessions/{id}/messages/",  OUT_HELPLINE,   404, 404,    404,    404,    404,    404),
    Line("post",   "chat/sessions/{id}/messages/",  IN,             404, 404,    404,    404,    404,    404),
    Line("post",   "chat/sessions/{id}/messages/",  OUT_HELPLINE,   404, 404,    404,    404,    404,    404),
    Line("post",   "chat/sessions/{id}/end/",       IN,             404, 404,    404,    404,    404,    404),
    Line("post",   "chat/sessions/{id}/end/",       OUT_HELPLINE,   404, 404,    404,    404,    404,    404),

    # The caller's helpline's categories: not case data.
    Line("get",    "categories/",                   IN,             401, SHOWN,  SHOWN,  SHOWN,  SHOWN,  HIDDEN),
    Line("get",    "categories/",                   OUT_HELPLINE,   401, HIDDEN, HIDDEN, HIDDEN, HIDDEN, HIDDEN),

    # The labels of the API's codes, in the caller's language: anyone signed in.
    Line("get",    "vocabularies/",                 NONE,           401, 200,    200,    200,    200,    200),

    # Partner agencies: administrators manage them, staff see their helpline's, agency users their own.
    Line("get",    "agencies/",                     IN,             401, SHOWN,  SHOWN,  SHOWN,  SHOWN,  SHOWN),
    Line("get",    "agencies/",                     OUT_AGENCY,     401, SHOWN,  SHOWN,  SHOWN,  HIDDEN, SHOWN),
    Line("get",    "agencies/",                     OUT_HELPLINE,   401, HIDDEN, HIDDEN, HIDDEN, HIDDEN, SHOWN),
    Line("post",   "agencies/",                     NONE,           401, 403,    403,    201,    403,    201),
    Line("get",    "agencies/{id}/",                IN,             401, 200,    200,    200,    200,    200),
    Line("get",    "agencies/{id}/",                OUT_AGENCY,     401, 200,    200,    200,    404,    200),
    Line("get",    "agencies/{id}/",                OUT_HELPLINE,   401, 404,    404,    404,    404,    200),
    Line("patch",  "agencies/{id}/",                IN,             401, 403,    403,    200,    403,    200),
    Line("patch",  "agencies/{id}/",                OUT_AGENCY,     401, 403,    403,    200,    404,    200),
    Line("patch",  "agencies/{id}/",                OUT_HELPLINE,   401, 404,    404,    404,    404,    200),
    # A change of an agency's webhook (an administrator's proposal): its helpline's supervisors approve.
    Line("post",   "agencies/{id}/webhook/approve/", IN,            401, 403,    200,    403,    403,    403),
    Line("post",   "agencies/{id}/webhook/approve/", OUT_AGENCY,    401, 403,    200,    403,    404,    403),
    Line("post",   "agencies/{id}/webhook/approve/", OUT_HELPLINE,  401, 404,    404,    404,    404,    403),

    # Consent and referrals of a case: case data, scoped like the case.
    Line("get",    "cases/{id}/consent/",           IN,             401, 200,    200,    404,    404,    404),
    Line("get",    "cases/{id}/consent/",           OUT_HELPLINE,   401, 404,    404,    404,    404,    404),
    Line("get",    "cases/{id}/consent/",           OUT_RESTRICTED, 401, 404,    404,    404,    404,    404),
    Line("get",    "cases/{id}/consent/",           OUT_TEAM,       401, 404,    200,    404,    404,    404),
    Line("post",   "cases/{id}/consent/",           IN,             401, 201,    201,    404,    404,    404),
    Line("post",   "cases/{id}/consent/",           OUT_HELPLINE,   401, 404,    404,    404,    404,    404),
    Line("post",   "cases/{id}/consent/",           OUT_RESTRICTED, 401, 404,    404,    404,    404,    404),
    Line("post",   "cases/{id}/consent/",           OUT_TEAM,       401, 404,    201,    404,    404,    404),
    Line("get",    "cases/{id}/referrals/",         IN,             401, 200,    200,    404,    404,    404),
    Line("get",    "cases/{id}/referrals/",         OUT_HELPLINE,   401, 404,    404,    404,    404,    404),
    Line("get",    "cases/{id}/referrals/",         OUT_RESTRICTED, 401, 404,    404,    404,    404,    404),
    Line("get",    "cases/{id}/referrals/",         OUT_TEAM,       401, 404,    200,    404,    404,    404),
    Line("post",   "cases/{id}/referrals/",         IN,             401, 201,    201,    404,    404,    404),
    Line("post",   "cases/{id}/referrals/",         OUT_HELPLINE,   401, 404,    404,    404,    404,    404),
    Line("post",   "cases/{id}/referrals/",         OUT_RESTRICTED, 401, 404,    404,    404,    404,    404),
    Line("post",   "cases/{id}/referrals/",         OUT_TEAM,       401, 404,    201,    404,    404,    404),

    # Referrals: staff act within the case's scope, an agency on what was sent to it (a restricted
    # or another team's case included: it was referred to them), administrators never.
    Line("get",    "referrals/",                    IN,             401, SHOWN,  SHOWN,  HIDDEN, SHOWN,  HIDDEN),
    Line("get",    "referrals/",                    OUT_AGENCY,     401, SHOWN,  SHOWN,  HIDDEN, HIDDEN, HIDDEN),
    Line("get",    "referrals/",                    OUT_HELPLINE,   401, HIDDEN, HIDDEN, HIDDEN, HIDDEN, HIDDEN),
    Line("get",    "referrals/",                    OUT_RESTRICTED, 401, HIDDEN, HIDDEN, HIDDEN, SHOWN,  HIDDEN),
    Line("get",    "referrals/",                    OUT_TEAM,       401, HIDDEN, SHOWN,  HIDDEN, SHOWN,  HIDDEN),
    Line("get",    "referrals/{id}/",               IN,             401, 200,    200,    404,    200,    404),
    Line("get",    "referrals/{id}/",               OUT_AGENCY,     401, 200,    200,    404,    404,    404),
    Line("get",    "referrals/{id}/",               OUT_HELPLINE,   401, 404,    404,    404,    404,    404),
    Line("get",    "referrals/{id}/",               OUT_RESTRICTED, 401, 404,    404,    404,    200,    404),
    Line("get",    "referrals/{id}/",               OUT_TEAM,       401, 404,    200,    404,    200,    404),
    Line("post",   "referrals/{id}/accept/",        IN,             401, 403,    403,    404,    200,    404),
    Line("post",   "referrals/{id}/accept/",        OUT_AGENCY,     401, 403,    403,    404,    404,    404),
    Line("post",   "referrals/{id}/accept/",        OUT_HELPLINE,   401, 404,    404,    404,    404,    404),
    Line("post",   "referrals/{id}/accept/",        OUT_RESTRICTED, 401, 404,    404,    404,    200,    404),
    Line("post",   "referrals/{id}/accept/",        OUT_TEAM,       401, 404,    403,    404,    200,    404),
    Line("post",   "referrals/{id}/reject/",        IN,             401, 403,    403,    404,    200,    404),
    Line("post",   "referrals/{id}/reject/",        OUT_AGENCY,     401, 403,    403,    404,    404,    404),
    Line("post",   "referrals/{id}/reject/",        OUT_HELPLINE,   401, 404,    404,    404,    404,    404),
    Line("post",   "referrals/{id}/complete/",      IN,             401, 403,    403,    404,    200,    404),
    Line("post",   "referrals/{id}/complete/",      OUT_AGENCY,     401, 403,    403,    404,    404,    404),
    Line("post",   "referrals/{id}/complete/",      OUT_HELPLINE,   401, 404,    404,    404,    404,    404),
    Line("post",   "referrals/{id}/withdraw/",      IN,             401, 200,    200,    404,    403,    404),
    Line("post",   "referrals/{id}/withdraw/",      OUT_AGENCY,     401, 200,    200,    404,    404,    404),
    Line("post",   "referrals/{id}/withdraw/",      OUT_HELPLINE,   401, 404,    404,    404,    404,    404),
    Line("post",   "referrals/{id}/withdraw/",      OUT_RESTRICTED, 401, 404,    404,    404,    403,    404),
    Line("post",   "referrals/{id}/withdraw/",      OUT_TEAM,       401, 404,    200,    404,    403,    404),
    # Awaiting approval: not sent, so not there for any agency.
    Line("post",   "referrals/{id}/approve/",       IN,             401, 403,    200,    404,    404,    404),
    Line("post",   "referrals/{id}/approve/",       OUT_HELPLINE,   401, 404,    404,    404,    404,    404),
    Line("post",   "referrals/{id}/resend/",        IN,             401, 201,    201,    404,    403,    404),
    Line("post",   "referrals/{id}/resend/",        OUT_HELPLINE,   401, 404,    404,    404,    404,    404),
    Line("get",    "referrals/{id}/updates/",       IN,             401, 200,    200,    404,    200,    404),
    Line("get",    "referrals/{id}/updates/",       OUT_AGENCY,     401, 200,    200,    404,    404,    404),
    Line("get",    "referrals/{id}/updates/",       OUT_HELPLINE,   401, 404,    404,    404,    404,    404),
    Line("post",   "referrals/{id}/updates/",       IN,             401, 201,    201,    404,    201,    404),
    Line("post",   "referrals/{id}/updates/",       OUT_AGENCY,     401, 201,    201,    404,    404,    404),
    Line("post",   "referrals/{id}/updates/",       OUT_HELPLINE,   401, 404,    404,    404,    404,    404),
    Line("get",    "referrals/{id}/deliveries/",    IN,             401, 200,    200,    404,    200,    404),
    Line("get",    "referrals/{id}/deliveries/",    OUT_AGENCY,     401, 200,    200,    404,    404,    404),
    Line("get",    "referrals/{id}/deliveries/",    OUT_HELPLINE,   401, 404,    404,    404,    404,    404),

    # Notifications: each caller's own inbox, stream and preferences; the rota of their helpline.
    Line("get",    "notifications/",                IN,             401, SHOWN,  HIDDEN, HIDDEN, HIDDEN, HIDDEN),
    Line("get",    "notifications/",                OUT_HELPLINE,   401, HIDDEN, HIDDEN, HIDDEN, HIDDEN, HIDDEN),
    Line("get",    "notifications/unread-count/",   NONE,           401, 200,    200,    200,    200,    200),
    Line("post",   "notifications/{id}/read/",      IN,             401, 200,    404,    404,    404,    404),
    Line("post",   "notifications/{id}/read/",      OUT_HELPLINE,   401, 404,    404,    404,    404,    404),
    Line("post",   "notifications/read-all/",       NONE,           401, 200,    200,    200,    200,    200),
    Line("get",    "notifications/stream/",         NONE,           401, 200,    200,    200,    200,    200),
    Line("get",    "notifications/preferences/",    NONE,           401, 200,    200,    200,    200,    200),
    Line("put",    "notifications/preferences/",    NONE,           401, 200,    200,    200,    200,    200),
    Line("get",    "notifications/on-call/",        NONE,           401, 200,    200,    200,    404,    404),
    Line("put",    "notifications/on-call/",        NONE,           401, 403,    200,    200,    403,    404),
    Line("get",    "notifications/requirements/",   NONE,           401, 200,    200,    200,    404,    404),
    Line("put",    "notifications/requirements/",   NONE,           401, 403,    403,    200,    403,    404),

    # The helpline's numbers: its supervisors only; the report is of the caller's own helpline.
    Line("get",    "reports/contacts/",             NONE,           401, 404,    200,    404,    404,    404),
    Line("get",    "reports/cases/",                NONE,           401, 404,    200,    404,    404,    404),
    Line("get",    "reports/chi/",                  NONE,           401, 404,    200,    404,    404,    404),
    # Exports: asked for by supervisors; each sees their own, the helpline's administrators its full
    # ones (to review, never to download); only the requester downloads (a queued one: 409).
    Line("get",    "exports/",                      IN,             401, HIDDEN, SHOWN,  SHOWN,  HIDDEN, HIDDEN),
    Line("get",    "exports/",                      OUT_HELPLINE,   401, HIDDEN, HIDDEN, HIDDEN, HIDDEN, HIDDEN),
    Line("post",   "exports/",                      NONE,           401, 404,    202,    404,    404,    404),
    Line("get",    "exports/dictionary/",           NONE,           401, 404,    200,    404,    404,    404),
    Line("get",    "exports/{id}/",                 IN,             401, 404,    200,    200,    404,    404),
    Line("get",    "exports/{id}/",                 OUT_HELPLINE,   401, 404,    404,    404,    404,    404),
    Line("get",    "exports/{id}/file/",            IN,             401, 404,    409,    404,    404,    404),
    Line("get",    "exports/{id}/file/",            OUT_HELPLINE,   401, 404,    404,    404,    404,    404),
    Line("post",   "exports/{id}/review/",          IN,             401, 404,    404,    200,    404,    404),
    Line("post",   "exports/{id}/review/",          OUT_HELPLINE,   401, 404,    404,    404,    404,    404),

    # The helpline's Twilio numbers and voice routes: its administrators configure them, its
    # supervisors read them, everyone else is refused the whole endpoint (403, whatever the id).
    Line("get",    "phone-numbers/",                IN,             401, 403,    SHOWN,  SHOWN,  403,    SHOWN),
    Line("get",    "phone-numbers/",                OUT_HELPLINE,   401, 403,    HIDDEN, HIDDEN, 403,    SHOWN),
    Line("post",   "phone-numbers/",                NONE,           401, 403,    403,    201,    403,    201),
    Line("get",    "phone-numbers/{id}/",           IN,             401, 403,    200,    200,    403,    200),
    Line("get",    "phone-numbers/{id}/",           OUT_HELPLINE,   401, 403,    404,    404,    403,    200),
    Line("patch",  "phone-numbers/{id}/",           IN,             401, 403,    403,    200,    403,    200),
    Line("patch",  "phone-numbers/{id}/",           OUT_HELPLINE,   401, 403,    404,    404,    403,    200),
    Line("delete", "phone-numbers/{id}/",           IN,             401, 403,    403,    204,    403,    204),
    Line("delete", "phone-numbers/{id}/",           OUT_HELPLINE,   401, 403,    404,    404,    403,    204),
    Line("get",    "voice-routes/",                 IN,             401, 403,    SHOWN,  SHOWN,  403,    SHOWN),
    Line("get",    "voice-routes/",                 OUT_HELPLINE,   401, 403,    HIDDEN, HIDDEN, 403,    SHOWN),
    Line("post",   "voice-routes/",                 NONE,           401, 403,    403,    201,    403,    201),
    Line("get",    "voice-routes/{id}/",            IN,             401, 403,    200,    200,    403,    200),
    Line("get",    "voice-routes/{id}/",            OUT_HELPLINE,   401, 403,    404,    404,    403,    200),
    Line("patch",  "voice-routes/{id}/",            IN,             401, 403,    403,    200,    403,    200),
    Line("patch",  "voice-routes/{id}/",            OUT_HELPLINE,   401, 403,    404,    404,    403,    200),
    Line("delete", "voice-routes/{id}/",            IN,             401, 403,    403,    204,    403,    204),
    Line("delete", "voice-routes/{id}/",            OUT_HELPLINE,   401, 403,    404,    404,    403,    204),

    # Canned replies: the helpline's staff (and administrators) read them; supervisors and
    # administrators write and change them; agency users have none.
    Line("get",    "canned-replies/",               IN,             401, SHOWN,  SHOWN,  SHOWN,  HIDDEN, SHOWN),
    Line("get",    "canned-replies/",               OUT_HELPLINE,   401, HIDDEN, HIDDEN, HIDDEN, HIDDEN, SHOWN),
    Line("post",   "canned-replies/",               NONE,           401, 403,    201,    201,    403,    201),
    Line("get",    "canned-replies/{id}/",          IN,             401, 200,    200,    200,    404,    200),
    Line("get",    "canned-replies/{id}/",          OUT_HELPLINE,   401, 404,    404,    404,    404,    200),
    Line("patch",  "canned-replies/{id}/",          IN,             401, 403,    200,    200,    404,    200),
    Line("patch",  "canned-replies/{id}/",          OUT_HELPLINE,   401, 404,    404,    404,    404,    200),
]
# fmt: on

MATRIX: list[Row] = [
    Row(line.method, line.route, role, line.scope, expected)
    for line in TABLE
    for role, expected in zip(ROLES, line[3:], strict=True)
]

NOT_FOUND = {"type": "client_error", "errors": [{"code": "not_found", "detail": "Not found.", "attr": None}]}
API = "/api/v1/"
LOGIN = "auth/token/"
PASSWORD = factories.PASSWORD


# --- what each line points at ------------------------------------------------------------------------


class Spec(NamedTuple):
    """The object a line is about (a name in `World.objects`) and the body its write sends; "@name"
    in a body stands for that object's id."""

    obj: str | None = None
    body: Any = None
    query: dict | None = None  # a read's query string (a report's period)


NOTIFICATIONS = {IN: "notification", OUT_HELPLINE: "else_notification"}
PHONE_NUMBERS = {IN: "phone_number", OUT_HELPLINE: "else_phone_number"}
VOICE_ROUTES = {IN: "voice_route", OUT_HELPLINE: "else_voice_route"}
CANNED_REPLIES = {IN: "canned_reply", OUT_HELPLINE: "else_canned_reply"}
EXPORTS = {IN: "export", OUT_HELPLINE: "else_export"}
PREFERENCES = {
    "channels": {"critical_case": ["sms"], "emergency_referral": ["sms"]},
    "sms_number": "+254700000111",
}
CASE_SCOPES = {IN: "case", OUT_HELPLINE: "else_case", OUT_RESTRICTED: "restricted", OUT_TEAM: "other_team"}


def case_specs(body: Any = None) -> dict[str, Spec]:
    return {scope: Spec(name, body) for scope, name in CASE_SCOPES.items()}


def by_scope(names: dict[str, str], body: Any = None) -> dict[str, Spec]:
    return {scope: Spec(name, body) for scope, name in names.items()}


CONTACTS = {
    IN: "contact",
    OUT_HELPLINE: "else_contact",
    OUT_RESTRICTED: "restricted_contact",
    OUT_TEAM: "night_contact",
}
ESCALATIONS = {
    IN: "escalation",
    OUT_HELPLINE: "else_escalation",
    OUT_RESTRICTED: "restricted_escalation",
    OUT_TEAM: "night_escalation",
}
CALLBACKS = {
    IN: "callback",
    OUT_HELPLINE: "else_callback",
    OUT_RESTRICTED: "restricted_callback",
    OUT_TEAM: "night_callback",
}
CHAT_SESSIONS = {IN: "chat_session", OUT_HELPLINE: "else_chat_session"}
CONTACTERS = {IN: "contacter", OUT_HELPLINE: "else_contacter"}  # identifier hashes
AGENCIES = {IN: "agency", OUT_AGENCY: "other_agency", OUT_HELPLINE: "else_agency"}
CLOSE = {"name": "close", "reason": "Safe at home"}
REFERRALS = {
    IN: "referral",
    OUT_AGENCY: "referral_other_agency",
    OUT_HELPLINE: "else_referral",
    OUT_RESTRICTED: "restricted_referral",
    OUT_TEAM: "night_referral",
}
ACCEPTED_REFERRALS = {
    IN: "accepted_referral",
    OUT_AGENCY: "accepted_other_agency",
    OUT_HELPLINE: "else_accepted_referral",
}
CONSENT = {"given_by": "child", "given_at": "2026-01-01T10:00:00Z", "scope": ["referral"]}
# Emergency to the police (the callers' agency): it goes without consent, so it is about scope only.
EMERGENCY_REFERRAL = {
    "agency": "@agency",
    "service_type": "investigation",
    "urgency": "emergency",
    "reason": "Child in danger",
    "summary": "Child in danger tonight.",
}

TARGETS: dict[str, dict[str, Spec]] = {
    "auth/token/": {NONE: Spec()},  # the body is the caller's own credentials
    "auth/logout/": {NONE: Spec()},
    "auth/tokens/": {NONE: Spec()},
    "auth/tokens/{id}/": {IN: Spec("own token"), OUT_HELPLINE: Spec("else_token")},
    "auth/me/": {NONE: Spec(body={"language": "es"})},
    "auth/security-events/": {NONE: Spec()},
    "auth/password/": {NONE: Spec(body={"token": "x" * 43, "password": "Their-own-passphrase-42"})},
    "auth/totp/": {NONE: Spec(body={"username": "supervisor1", "password": "Wrong-password-1"})},
    "auth/totp/confirm/": {
        NONE: Spec(body={"username": "supervisor1", "password": "Wrong-password-1", "otp": "123456"})
    },
    "users/": {
        **by_scope({IN: "operator", OUT_HELPLINE: "else_operator"}),
        # The helpline is named for the platform administrator (a helpline's own is always its own).
        NONE: Spec(body={"username": "newbie", "role": "operator", "helpline": "@helpline"}),
    },
    "users/{id}/": by_scope({IN: "operator", OUT_HELPLINE: "else_operator"}, {"first_name": "A"}),
    "users/{id}/password-link/": by_scope({IN: "operator", OUT_HELPLINE: "else_operator"}),
    # People with an authenticator, so that resetting it changes something.
    "users/{id}/totp/": by_scope({IN: "supervisor2", OUT_HELPLINE: "else_supervisor"}),
    "users/{id}/activity/": by_scope({IN: "operator", OUT_HELPLINE: "else_operator"}),
    "audit/": by_scope({IN: "audit_entry", OUT_HELPLINE: "else_audit_entry"}),
    "audit/export/": by_scope({IN: "audit_entry", OUT_HELPLINE: "else_audit_entry"}),
    "audit/verify/": {NONE: Spec()},
    "helplines/": {
        **by_scope({IN: "helpline", OUT_HELPLINE: "elsewhere"}),
        NONE: Spec(body={"code": "NEWHL", "name": "New helpline", "country": "UG"}),
    },
    "helplines/{id}/": by_scope({IN: "helpline", OUT_HELPLINE: "elsewhere"}, {"name": "X"}),
    "cases/": {**case_specs(), NONE: Spec(body={"call_type": "child"})},
    "cases/{id}/": {
        **case_specs({"risk_level": "medium"}),
        IN_RESTRICT: Spec("case", {"restricted": True}),
    },
    "cases/{id}/transitions/": {
        IN: Spec("case", {"name": "start_assessment"}),
        IN_HIGH_RISK: Spec("high_risk", CLOSE),
        IN_CLOSED: Spec("closed", {"name": "reopen", "reason": "Called again"}),
        OUT_HELPLINE: Spec("else_case", {"name": "start_assessment"}),
        OUT_RESTRICTED: Spec("restricted", CLOSE),
        OUT_TEAM: Spec("other_team", CLOSE),
    },
    "cases/{id}/notes/": case_specs({"body": "Called the school."}),
    "cases/{id}/transfer/": case_specs({"to_user": "@supervisor2", "note": "Over to you."}),
    "teams/": {
        **by_scope({IN: "team", OUT_HELPLINE: "else_team"}),
        # The helpline is named for the platform administrator (a helpline's own is always its own).
        NONE: Spec(body={"name": "Evening shift", "helpline": "@helpline"}),
    },
    "teams/{id}/": by_scope({IN: "team", OUT_HELPLINE: "else_team"}, {"name": "Renamed team"}),
    "cases/{id}/messages/": case_specs({"body": "We are here for you."}),
    "cases/{id}/history/": case_specs(),
    "cases/{id}/links/": case_specs({"case": "@high_risk", "kind": "sibling"}),
    # A link of the callers' case to a case in each scope (the other helpline's: between its cases).
    "case-links/{id}/": by_scope(
        {IN: "link", OUT_HELPLINE: "else_link", OUT_RESTRICTED: "restricted_link", OUT_TEAM: "night_link"}
    ),
    "cases/{id}/merge/": case_specs({"into": "@high_risk", "reason": "The same child twice"}),
    "cases/{id}/access/": case_specs({"users": ["@operator"]}),
    "cases/{id}/break-glass/": by_scope(
        {IN: "restricted", OUT_HELPLINE: "else_restricted"}, {"reason": "Child in danger"}
    ),
    "break-glass/": by_scope({IN: "grant", OUT_HELPLINE: "else_grant"}),
    "break-glass/{id}/review/": by_scope(
        {IN: "grant", IN_OWN_GRANT: "own_grant", OUT_HELPLINE: "else_grant"}
    ),
    "contacts/": by_scope(CONTACTS),
    "contacts/{id}/": by_scope(CONTACTS, {"summary": "Called back later"}),
    "contacts/{id}/attach/": {
        IN: Spec("loose", {"case": "@case"}),
        OUT_HELPLINE: Spec("else_loose", {"case": "@case"}),
        OUT_RESTRICTED: Spec("loose", {"case": "@restricted"}),
        OUT_TEAM: Spec("loose", {"case": "@other_team"}),
    },
    "escalations/": by_scope(ESCALATIONS),
    "escalations/{id}/acknowledge/": by_scope(ESCALATIONS),
    "callbacks/": by_scope(CALLBACKS),
    "callbacks/{id}/done/": by_scope(CALLBACKS),
    "contacters/{id}/": by_scope(CONTACTERS),
    "contacters/{id}/flag/": by_scope(
        CONTACTERS, {"flag": "blocked", "expires_at": "2099-01-01T00:00:00Z", "reason": "Prank calls"}
    ),
    "chat/sessions/": {NONE: Spec(body={"helpline": "DEMO", "language": "en"})},
    "chat/sessions/{id}/messages/": by_scope(CHAT_SESSIONS, {"body": "hello"}),
    "chat/sessions/{id}/end/": by_scope(CHAT_SESSIONS),
    "categories/": by_scope({IN: "category", OUT_HELPLINE: "else_category"}),
    "vocabularies/": {NONE: Spec()},
    "agencies/": {
        **by_scope(AGENCIES),
        NONE: Spec(
            body={"code": "shelter", "name": "Safe House", "sector": "shelter", "helpline": "@helpline"}
        ),
    },
    "agencies/{id}/": by_scope(AGENCIES, {"name": "Renamed agency"}),
    "agencies/{id}/webhook/approve/": {
        scope: Spec(name, {"change": f"@{name}_webhook_change"}) for scope, name in AGENCIES.items()
    },
    "cases/{id}/consent/": case_specs(CONSENT),
    "cases/{id}/referrals/": {
        IN: Spec("referred", EMERGENCY_REFERRAL),
        OUT_HELPLINE: Spec("else_case", EMERGENCY_REFERRAL),
        OUT_RESTRICTED: Spec("restricted", EMERGENCY_REFERRAL),
        OUT_TEAM: Spec("other_team", EMERGENCY_REFERRAL),
    },
    "referrals/": by_scope(REFERRALS),
    "referrals/{id}/": by_scope(REFERRALS),
    "referrals/{id}/accept/": by_scope(REFERRALS),
    "referrals/{id}/reject/": by_scope(REFERRALS, {"reason": "Not our district"}),
    "referrals/{id}/withdraw/": by_scope(REFERRALS, {"reason": "Family moved"}),
    "referrals/{id}/complete/": by_scope(ACCEPTED_REFERRALS, {"outcome": "child_safe"}),
    "referrals/{id}/updates/": by_scope(ACCEPTED_REFERRALS, {"body": "Visited the family."}),
    "referrals/{id}/deliveries/": by_scope(REFERRALS),
    "referrals/{id}/approve/": by_scope({IN: "awaiting_referral", OUT_HELPLINE: "else_awaiting_referral"}),
    "referrals/{id}/resend/": by_scope(
        {IN: "expired_referral", OUT_HELPLINE: "else_expired_referral"}, {"agency": "@other_agency"}
    ),
    "notifications/": by_scope(NOTIFICATIONS),
    "notifications/unread-count/": {NONE: Spec()},
    "notifications/{id}/read/": by_scope(NOTIFICATIONS),
    "notifications/read-all/": {NONE: Spec()},
    "notifications/stream/": {NONE: Spec()},
    "notifications/preferences/": {NONE: Spec(body=PREFERENCES)},
    # Clears the rota (the world has one slot), a change for whoever may make it.
    "notifications/on-call/": {NONE: Spec(body={"shifts": []})},
    "notifications/requirements/": {NONE: Spec(body={"requirements": {"overdue": "email"}})},
    "reports/contacts/": {NONE: Spec(query={"date_from": "2026-11-01", "date_to": "2026-11-30"})},
    "reports/cases/": {NONE: Spec(query={"date_from": "2026-11-01", "date_to": "2026-11-30"})},
    "reports/chi/": {NONE: Spec(query={"year": 2026})},
    "exports/": {
        **by_scope(EXPORTS),
        NONE: Spec(
            body={
                "dataset": "cases",
                "file_format": "csv",
                "date_from": "2026-11-01",
                "date_to": "2026-11-30",
            }
        ),
    },
    "exports/dictionary/": {NONE: Spec()},
    "exports/{id}/": by_scope(EXPORTS),
    "exports/{id}/file/": by_scope(EXPORTS),
    "exports/{id}/review/": by_scope(EXPORTS),
    # The helpline is named for the platform administrator (a helpline's own is always its own).
    "phone-numbers/": {
        **by_scope(PHONE_NUMBERS),
        NONE: Spec(body={"channel": "sms", "number": "+15005550010", "helpline": "@helpline"}),
    },
    "phone-numbers/{id}/": by_scope(PHONE_NUMBERS, {"acknowledgement": "We read every message."}),
    # A voice number of the callers' helpline without a route yet, routed by the write.
    "voice-routes/": {**by_scope(VOICE_ROUTES), NONE: Spec(body={"number": "@unrouted_voice"})},
    "voice-routes/{id}/": by_scope(VOICE_ROUTES, {"greeting": "You are through to the helpline."}),
    "canned-replies/": {
        **by_scope(CANNED_REPLIES),
        NONE: Spec(
            body={"language": "en", "title": "New reply", "body": "We are here.", "helpline": "@helpline"}
        ),
    },
    "canned-replies/{id}/": by_scope(CANNED_REPLIES, {"title": "Renamed reply"}),
}


# --- the world the table is about ------------------------------------------------------------------


def make_case(helpline, reference: str, **fields) -> Case:
    return factories.CaseFactory(
        helpline=helpline, reference=reference, child_location=f"{reference} location", **fields
    )


def make_link(one: Case, other: Case, by: User) -> CaseLink:
    low, high = sorted((one, other), key=lambda c: c.pk)
    return CaseLink.objects.create(
        helpline=one.helpline, case_low=low, case_high=high, kind="same_family", created_by=by
    )


def make_callback(contact: Contact) -> Callback:
    return callback_request(contact=contact, reason="no-answer", at=contact.started_at)


def make_escalation(case: Case) -> Escalation:
    return Escalation.objects.create(
        case=case,
        helpline_id=case.helpline_id,
        team=case.team,
        due_at=timezone.now() - timedelta(minutes=5),
        state=case.state,
        risk_level=case.risk_level,
    )


def make_grant(case: Case, user: User, reason: str, expires_in: timedelta) -> CaseAccess:
    return CaseAccess.objects.create(
        case=case,
        user=user,
        kind="break_glass",
        reason=reason,
        granted_by=user,
        expires_at=timezone.now() + expires_in,
    )


class World:
    """Helpline DEMO (the callers' own) and helpline ELSE, with objects of every kind in both."""

    def __init__(self, api, helpline, team, operator, supervisor, admin_user, agency_user):
        self.api = api
        platform_admin = factories.AdminFactory(username="root", helpline=None)
        self.users = {
            OPERATOR: operator,
            SUPERVISOR: supervisor,
            ADMIN: admin_user,
            AGENCY: agency_user,
            PLATFORM_ADMIN: platform_admin,
        }
        self.devices = {
            user.pk: TOTPDevice.objects.create(user=user, name="phone", confirmed=True)
            for user in (supervisor, admin_user, platform_admin)
        }
        night = factories.TeamFactory(helpline=helpline, name="Night shift")
        night_operator = factories.OperatorFactory(username="night1", helpline=helpline, team=night)
        supervisor2 = factories.SupervisorFactory(username="supervisor2", helpline=helpline, team=team)
        elsewhere = factories.HelplineFactory(code="ELSE", name="HELPLINE-ELSEWHERE")
        else_team = factories.TeamFactory(helpline=elsewhere, name="Elsewhere")
        else_operator = factories.OperatorFactory(
            username="else-operator", helpline=elsewhere, team=else_team
        )
        else_supervisor = factories.SupervisorFactory(
            username="else-supervisor", helpline=elsewhere, team=else_team
        )

        o: dict[str, Any] = {
            "helpline": helpline,
            "elsewhere": elsewhere,
            "team": team,
            "else_team": else_team,
            "operator": operator,
            "else_operator": else_operator,
            "supervisor2": supervisor2,
            "else_supervisor": else_supervisor,
            "agency": agency_user.agency_membership.agency,
            "other_agency": factories.AgencyFactory(helpline=helpline, code="health", name="AGENCY-HEALTH"),
            "else_agency": factories.AgencyFactory(
                helpline=elsewhere, code="police2", name="AGENCY-ELSEWHERE"
            ),
            "else_token": AuthToken.objects.create(user=else_operator)[0],
            "category": Category.objects.create(helpline=helpline, code="matrix-here", label="Matrix here"),
            "else_category": Category.objects.create(
                helpline=elsewhere, code="matrix-elsewhere", label="CATEGORY-ELSEWHERE"
            ),
            # Cases: in the callers' team; restricted to a list without them; the night team's, past
            # intake; and the other helpline's.
            "case": make_case(helpline, "CASE-IN", team=team, state="intake", risk_level="low"),
            "high_risk": make_case(helpline, "CASE-HIGH", team=team, state="assessment", risk_level="high"),
            "closed": make_case(
                helpline,
                "CASE-CLOSED",
                team=team,
                state="closed",
                closed_at=timezone.now(),
                closure_reason="Safe",
            ),
            "restricted": make_case(
                helpline, "CASE-RESTRICTED", team=team, state="assessment", restricted=True
            ),
            "other_team": make_case(
                helpline, "CASE-NIGHT", team=night, state="assessment", assigned_to=night_operator
            ),
            "else_case": make_case(elsewhere, "CASE-ELSEWHERE", team=else_team, state="intake"),
            "else_restricted": make_case(
                elsewhere, "CASE-ELSEWHERE-RESTRICTED", team=else_team, state="assessment", restricted=True
            ),
        }
        CaseAccess.objects.create(
            case=o["restricted"], user=night_operator, kind="need_to_know", granted_by=supervisor2
        )
        o["else_case2"] = make_case(elsewhere, "CASE-ELSEWHERE-2", team=else_team, state="intake")
        o |= {
            "link": make_link(o["case"], o["closed"], supervisor2),
            "else_link": make_link(o["else_case"], o["else_case2"], else_supervisor),
            "restricted_link": make_link(o["case"], o["restricted"], supervisor2),
            "night_link": make_link(o["case"], o["other_team"], supervisor2),
        }
        for holder in (supervisor2, else_supervisor):
            TOTPDevice.objects.create(user=holder, name="phone", confirmed=True)
        # A webhook change waiting for approval on each agency (a name that never resolves: the
        # approval's verification challenge fails fast, and the approval stands).
        for name in AGENCIES.values():
            o[f"{name}_webhook_change"] = WebhookChange.objects.create(
                agency=o[name],
                url=f"https://{name.replace('_', '-')}.hooks.invalid/lifeline",
                secret="a-webhook-secret-of-the-matrix",
                proposed_by=platform_admin,
            )
        contact = factories.ContactFactory
        o |= {
            "contact": contact(case=o["case"], summary="CONTACT-IN"),
            "restricted_contact": contact(case=o["restricted"], summary="CONTACT-RESTRICTED"),
            "night_contact": contact(case=o["other_team"], summary="CONTACT-NIGHT"),
            "else_contact": contact(case=o["else_case"], summary="CONTACT-ELSEWHERE"),
            "loose": contact(helpline=helpline, case=None, summary="CONTACT-LOOSE"),
            "else_loose": contact(helpline=elsewhere, case=None, summary="CONTACT-LOOSE-ELSEWHERE"),
            "escalation": make_escalation(o["case"]),
            "restricted_escalation": make_escalation(o["restricted"]),
            "night_escalation": make_escalation(o["other_team"]),
            "else_escalation": make_escalation(o["else_case"]),
            "grant": make_grant(o["restricted"], supervisor2, "GRANT-IN", timedelta(hours=1)),
            # Expired, so it does not open the restricted case to `supervisor`.
            "own_grant": make_grant(o["restricted"], supervisor, "GRANT-OWN", -timedelta(minutes=1)),
            "else_grant": make_grant(
                o["else_restricted"], else_supervisor, "GRANT-ELSEWHERE", timedelta(hours=1)
            ),
            "audit_entry": audit_record(
                actor=operator, action=AuditAction.CASE_READ, obj=o["case"], case_id=o["case"].pk
            ),
            "else_audit_entry": audit_record(
                actor=else_operator,
                action=AuditAction.CASE_READ,
                obj=o["else_case"],
                case_id=o["else_case"].pk,
            ),
        }
        o |= {
            "callback": make_callback(o["contact"]),
            "restricted_callback": make_callback(o["restricted_contact"]),
            "night_callback": make_callback(o["night_contact"]),
            "else_callback": make_callback(o["else_contact"]),
        }
        o |= {
            "chat_session": chat_session_create(helpline_code="DEMO", language="en").session,
            "else_chat_session": chat_session_create(helpline_code="ELSE", language="en").session,
        }
        # Repeat contacters: an identifier with a case in each helpline, each flagged.
        o |= {"contacter": "c" * 64, "else_contacter": "e" * 64}
        make_case(helpline, "CASE-CONTACTER", team=team, state="intake", reporter_phone_hash=o["contacter"])
        make_case(elsewhere, "CASE-ELSE-CONTACTER", team=else_team, reporter_phone_hash=o["else_contacter"])
        for name, hl, by in (
            ("contacter", helpline, supervisor2),
            ("else_contacter", elsewhere, else_supervisor),
        ):
            ContacterFlag.objects.create(
                helpline=hl,
                identifier_hash=o[name],
                flag="abusive",
                reason="Shouting",
                expires_at=timezone.now() + timedelta(days=1),
                set_by=by,
                set_at=timezone.now(),
            )
        # Referrals: sent ones to the callers' agency from a case in each scope, and to another
        # agency; accepted, awaiting approval and expired ones; the other helpline's alike.
        o["referred"] = make_case(helpline, "CASE-REFERRED", team=team, state="referral", risk_level="medium")

        def referral(name: str, case: str, agency: str, state: str = "sent") -> None:
            by = else_operator if case.startswith("else") else operator
            o[name] = factories.ReferralFactory(
                case=o[case], agency=o[agency], created_by=by, state=state, summary=f"REFERRAL-{name}"
            )

        Consent.objects.create(
            case=o["referred"],
            given_by="child",
            given_at=timezone.now(),
            scope=["referral"],
            recorded_by=operator,
        )
        referral("referral", "referred", "agency")
        referral("referral_other_agency", "referred", "other_agency")
        referral("else_referral", "else_case", "else_agency")
        referral("restricted_referral", "restricted", "agency")
        o["night_referred"] = make_case(
            helpline,
            "CASE-NIGHT-REFERRED",
            team=o["other_team"].team,
            state="referral",
            assigned_to=o["other_team"].assigned_to,
        )
        referral("night_referral", "night_referred", "agency")
        referral("accepted_referral", "referred", "agency", "accepted")
        referral("accepted_other_agency", "referred", "other_agency", "accepted")
        referral("else_accepted_referral", "else_case", "else_agency", "accepted")
        referral("awaiting_referral", "referred", "agency", "awaiting_approval")
        referral("else_awaiting_referral", "else_case", "else_agency", "awaiting_approval")
        referral("expired_referral", "referred", "agency", "expired")
        referral("else_expired_referral", "else_case", "else_agency", "expired")
        for name in ("restricted", "other_team", "else_case"):
            factories.NoteFactory(case=o[name], author=supervisor2, body=f"NOTE-OF-{o[name].reference}")
        # Rows in the other tables a refused write must leave alone: the helpline's numbers and
        # voice route, an SMS conversation (its inbound event and message) in a case no message
        # line is about (CASE-IN has no sender: a reply there is 409), a delivered delivery. The
        # numbers and voice routes are also the phone-numbers and voice-routes lines' objects (with
        # the other helpline's and a voice number without a route), beside a canned reply in each.
        now = timezone.now()
        number = PhoneNumber.objects.create
        o["phone_number"] = number(helpline=helpline, channel="sms", number="+15005550006")
        o["else_phone_number"] = number(helpline=elsewhere, channel="sms", number="+15005550016")
        voice = number(helpline=helpline, channel="voice", number="+15005550007")
        else_voice = number(helpline=elsewhere, channel="voice", number="+15005550017")
        o["unrouted_voice"] = number(helpline=helpline, channel="voice", number="+15005550008")
        o["voice_route"] = VoiceRoute.objects.create(number=voice, greeting="GREETING-IN")
        o["else_voice_route"] = VoiceRoute.objects.create(number=else_voice, greeting="GREETING-ELSEWHERE")
        o["canned_reply"] = CannedReply.objects.create(
            helpline=helpline, language="en", title="REPLY-IN", body="Are you safe?", created_by=supervisor2
        )
        o["else_canned_reply"] = CannedReply.objects.create(
            helpline=elsewhere,
            language="en",
            title="REPLY-ELSEWHERE",
            body="Are you safe?",
            created_by=else_supervisor,
        )
        # A full export each helpline's supervisor asked for, queued (its file not written yet).
        for name, where, who in (
            ("export", helpline, supervisor),
            ("else_export", elsewhere, else_supervisor),
        ):
            o[name] = Export.objects.create(
                helpline=where,
                requested_by=who,
                dataset="cases",
                file_format="csv",
                mode="full",
                reason=f"REASON-{name}",
                date_from=date(2026, 11, 1),
                date_to=date(2026, 11, 30),
                review="pending",
            )
        texted = factories.ContactFactory(case=o["high_risk"], channel="sms", summary="CONTACT-SMS")
        event = InboundEvent.objects.create(
            helpline=helpline,
            channel="sms",
            external_id="SM" + "m" * 32,
            sender="+254700000001",
            body="MESSAGE-IN",
            params="{}",
            received_at=now,
            processed_at=now,
            contact=texted,
        )
        Message.objects.create(
            helpline=helpline,
            case=o["high_risk"],
            contact=texted,
            channel="sms",
            direction="inbound",
            body="MESSAGE-IN",
            event=event,
            at=now,
        )
        delivery = Delivery.objects.create(
            referral=o["referral"],
            agency=o["agency"],
            event="referral.sent",
            url="https://police.example.org/lifeline",
            body="{}",
            state="delivered",
            attempts=1,
            delivered_at=now,
        )
        DeliveryAttempt.objects.create(
            delivery=delivery, number=1, at=now, outcome="delivered", status_code=204
        )
        # Notifications: an unread one in every caller's inbox (so marking all read changes
        # something for each), the operator's about CASE-IN, and one in the other helpline's.
        for user in self.users.values():
            mine = Notification.objects.create(
                user=user,
                helpline=user.helpline or helpline,
                kind="case_transferred",
                case_id=o["case"].pk,
                reference=o["case"].reference,
            )
            if user == operator:
                o["notification"] = mine
        OnCallShift.objects.create(
            helpline=helpline, user=operator, weekdays=[6, 7], starts=time(18), ends=time(8)
        )
        o["else_notification"] = Notification.objects.create(
            user=else_operator,
            helpline=elsewhere,
            kind="case_transferred",
            case_id=o["else_case"].pk,
            reference=o["else_case"].reference,
        )
        self.objects = o

    def client(self, role: str | None):
        client = self.api(self.users.get(role))
        client.raise_request_exception = False  # a crash is a 500 to report, not a traceback
        return client

    def credentials(self, user: User | None) -> dict[str, str]:
        """A sign-in body: the user's own password (and current TOTP code); for nobody, a wrong one."""
        if user is None:
            return {"username": "nobody", "password": "Wrong-password-1"}
        body = {"username": user.username, "password": PASSWORD}
        device = self.devices.get(user.pk)
        if device is not None:
            device.refresh_from_db()
            body["otp"] = f"{totp(device.bin_key, step=device.step, t0=device.t0, digits=device.digits):06d}"
        return body

    def get(self, name: str, me: User | None) -> Any:
        if name == "own token":  # a second token of the caller's (anonymous: the operator's)
            key = AuthToken.objects.create(user=me or self.users[OPERATOR])[1]
            return AuthToken.objects.get(token_key=key[:15])
        return self.objects[name]


@pytest.fixture
def world(api, helpline, team, operator, supervisor, admin_user, agency_user):
    return World(api, helpline, team, operator, supervisor, admin_user, agency_user)


def key_of(obj: Any) -> Any:
    """How the API names an object: in its path and in the lists it appears in."""
    if isinstance(obj, AuthToken):
        return token_id(obj)
    if isinstance(obj, Category):
        return obj.code
    if isinstance(obj, str):  # a repeat contacter's identifier hash
        return obj
    return obj.pk


def marks_of(obj: Any) -> tuple[str, ...]:
    """Text of the object that a refusal, or a list leaving it out, must not contain."""
    if isinstance(obj, Case):
        return (obj.reference, f"{obj.reference} location", f"NOTE-OF-{obj.reference}")
    if isinstance(obj, Contact):
        return (obj.summary, *(marks_of(obj.case) if obj.case else ()))
    if isinstance(obj, Escalation | Callback):
        return marks_of(obj.case)
    if isinstance(obj, Referral):
        return (obj.summary, *marks_of(obj.case))
    if isinstance(obj, CaseAccess):
        return (obj.reason, *marks_of(obj.case))
    if isinstance(obj, User):
        return (obj.username,)
    if isinstance(obj, Helpline | Agency):
        return (obj.name,)
    if isinstance(obj, Category):
        return (obj.code, obj.label)
    if isinstance(obj, AuthToken):
        return (token_id(obj),)
    if isinstance(obj, PhoneNumber):
        return (obj.number,)
    if isinstance(obj, VoiceRoute):
        return (obj.greeting, obj.number.number)
    if isinstance(obj, CannedReply):
        return (obj.title,)
    if isinstance(obj, Export):
        return (obj.reason,)
    return ()


class Target(NamedTuple):
    url: str
    key: Any
    body: Any
    marks: tuple[str, ...]


def resolve(w: World, route: str, scope: str, me: User | None) -> Target:
    spec = TARGETS[route][scope]
    obj = w.get(spec.obj, me) if spec.obj else None
    marks = marks_of(obj)
    body = spec.body
    if route == LOGIN:
        body = w.credentials(me)
    elif isinstance(body, dict):
        filled = {}
        for field, value in body.items():
            if isinstance(value, str) and value.startswith("@"):
                referred = w.get(value[1:], me)
                filled[field] = referred.pk
                marks += marks_of(referred) if isinstance(referred, Case) else ()
            elif isinstance(value, list):
                filled[field] = [
                    w.get(v[1:], me).pk if isinstance(v, str) and v.startswith("@") else v for v in value
                ]
            else:
                filled[field] = value
        body = filled
    url = API + (route.format(id=key_of(obj)) if "{id}" in route else route)
    if spec.query:
        url += "?" + urlencode(spec.query, doseq=True)
    return Target(url, key_of(obj) if obj is not None else None, body, marks)


# --- running a row -----------------------------------------------------------------------------------

# What a request may write, as every model of our apps: a model added later is in the snapshot
# without anyone remembering it. Left out, each for its reason:
NOT_SNAPSHOT = {
    # A refusal is audited (an entry, its chain's head moving): tests/test_audit_completeness.py.
    "helpline.AuditEntry": "a refused request writes its audit entry",
    "helpline.AuditChainHead": "moves with every audit entry",
    "helpline.ReconciledRowEvent": "written by the reconciler beside audit entries, never by a request",
}
THIRD_PARTY_MODELS = (TOTPDevice,)  # our users' second factors; knox's tokens: see stored()


def snapshot_models() -> list[type[Model]]:
    """Every model of helpline, notifications, cases, referrals, channels_sms and reports (row history events and
    many-to-many tables included) but those NOT_SNAPSHOT, and the third-party ones we write."""
    ours = [
        model
        for app in ("helpline", "notifications", "cases", "referrals", "channels_sms", "reports")
        for model in apps.get_app_config(app).get_models(include_auto_created=True)
        if model._meta.label not in NOT_SNAPSHOT
    ]
    return [*ours, *THIRD_PARTY_MODELS]


def stored() -> dict[str, str]:
    """Everything a request may write but the audit log (and a token's sliding expiry): a digest of
    each table's rows as stored, every column, in one round trip (no decryption: it is what is
    stored that must not change)."""
    labels, parts = [], []
    for model in snapshot_models():
        labels.append(model._meta.label)
        table = connection.ops.quote_name(model._meta.db_table)
        parts.append(
            f"SELECT %s, md5(coalesce(string_agg(t::text, '|' ORDER BY t::text), '')) FROM {table} t"
        )
    labels.append("knox.AuthToken")
    table = connection.ops.quote_name(AuthToken._meta.db_table)
    parts.append(
        f"SELECT %s, md5(coalesce(string_agg(digest || ':' || user_id, '|' ORDER BY digest), '')) FROM {table}"
    )
    with connection.cursor() as cursor:
        cursor.execute(" UNION ALL ".join(parts), labels)
        return dict(cursor.fetchall())


def test_the_snapshot_sees_a_row_written_to_any_of_its_tables(helpline, operator):
    before = stored()
    PhoneNumber.objects.create(helpline=helpline, channel="sms", number="+15005550006")
    after = stored()
    assert sorted(name for name in before if before[name] != after[name]) == ["channels_sms.PhoneNumber"]
    operator.first_name = "Renamed"
    operator.save(update_fields=["first_name"])
    AuthToken.objects.create(user=operator)
    changed = sorted(name for name in after if after[name] != stored()[name])
    assert changed == ["helpline.User", "knox.AuthToken"]


def test_the_snapshot_holds_every_model_of_our_apps_but_the_audit_log():
    labels = {model._meta.label for model in snapshot_models()}
    for expected in (
        "channels_sms.Message",
        "channels_sms.InboundEvent",
        "channels_sms.ContacterFlag",
        "channels_sms.PhoneNumber",
        "channels_sms.VoiceRoute",
        "referrals.Delivery",
        "referrals.DeliveryAttempt",
        "cases.Case",
        "helpline.User",
    ):
        assert expected in labels
    assert not labels & set(NOT_SNAPSHOT)
    assert set(NOT_SNAPSHOT) <= {m._meta.label for m in apps.get_app_config("helpline").get_models()}


def send(client, method: str, url: str, body: Any):
    # Sign-in is throttled per client address in the shared cache: each request from its own.
    address = f"10.{random.randrange(256)}.{random.randrange(256)}.{random.randrange(1, 255)}"
    if body is None:
        return getattr(client, method)(url, REMOTE_ADDR=address)
    return getattr(client, method)(url, body, format="json", REMOTE_ADDR=address)


def listed_keys(response) -> set:
    if response["Content-Type"].startswith("text/csv"):
        return {int(row["id"]) for row in csv.DictReader(io.StringIO(response.content.decode()))}
    body = response.json()
    rows = body["results"] if isinstance(body, dict) else body
    return {row["id"] if "id" in row else row["code"] for row in rows}


def check(w: World, row: Row) -> list[str]:
    """Sends the row's request; returns what is wrong with the answer (nothing, if it is right)."""
    me = w.users.get(row.role)
    target = resolve(w, row.route, row.scope, me)
    client = w.client(None if row.route == LOGIN else row.role)
    before = stored() if row.method != "get" else None
    # The route's body is its write's: a read (or a delete) sends none.
    body = target.body if row.method in ("post", "put", "patch") else None
    response = send(client, row.method, target.url, body)
    where = f"{row.method.upper()} {target.url} as {row.role} [{row.scope}]"
    status = 200 if row.expected in (SHOWN, HIDDEN) else row.expected
    if response.status_code != status:
        return [f"{where}: expected {row.expected}, got {response.status_code} {response.content[:300]!r}"]
    problems = []
    # The live stream (server-sent events) is read to its end (2 s under the test settings).
    content = (b"".join(response.streaming_content) if response.streaming else response.content).decode()
    if status == 404 and response.json() != NOT_FOUND:
        problems.append(f"{where}: 404 is not the standard answer: {content[:300]}")
    if row.expected == HIDDEN or status >= 400:
        leaked = [mark for mark in target.marks if mark in content]
        if leaked:
            problems.append(f"{where}: the answer shows {leaked}")
    if row.expected in (SHOWN, HIDDEN) and (target.key in listed_keys(response)) != (row.expected == SHOWN):
        problems.append(f"{where}: expected {row.expected}, listed {sorted(listed_keys(response), key=str)}")
    if before is not None:
        after = stored()
        changed = sorted(name for name in before if before[name] != after[name])
        if status >= 400 and changed:
            problems.append(f"{where}: refused, yet changed {changed}")
        if status < 400 and not changed:
            problems.append(f"{where}: answered {status}, yet changed nothing")
    if row.method == "get":
        head = send(client, "head", target.url, None)
        body_sent = any(head.streaming_content) if head.streaming else head.content
        if head.status_code != status or body_sent:
            problems.append(f"HEAD {target.url} as {row.role}: {head.status_code}, GET answers {status}")
    return problems


LINES: dict[tuple[str, str, str], list[Row]] = {}
for _row in MATRIX:
    LINES.setdefault((_row.method, _row.route, _row.scope), []).append(_row)


@pytest.mark.parametrize(
    "rows", LINES.values(), ids=[f"{m.upper()} {API}{route} [{scope}]" for m, route, scope in LINES]
)
def test_each_caller_gets_the_answer_the_matrix_gives(world, rows):
    problems = []
    for row in rows:
        # Each caller on the same world: whatever a request changed is rolled back after it.
        with transaction.atomic():
            problems += check(world, row)
            transaction.set_rollback(True)
    assert not problems, "\n".join(problems)


# --- the table covers the API ------------------------------------------------------------------------

HTTP_METHODS = ("get", "post", "put", "patch", "delete")


def served_operations() -> set[tuple[str, str]]:
    """(method, route) for every method the view of every route under /api/v1/ implements."""
    found = set()

    def walk(patterns, prefix: str) -> None:
        for entry in patterns:
            route = prefix + str(entry.pattern)
            if isinstance(entry, URLResolver):
                walk(entry.url_patterns, route)
            elif isinstance(entry, URLPattern) and route.startswith("api/v1/"):
                path = re.sub(r"<(?:\w+:)?\w+>", "{id}", route.removeprefix("api/v1/"))
                found.update((m, path) for m in HTTP_METHODS if hasattr(entry.callback.cls, m))

    walk(get_resolver().url_patterns, "")
    return found


def is_case_data(method: str, route: str) -> bool:
    """Routes about cases, their contacts or escalations, whose scope has restricted cases and
    teams in it (break-glass is *for* restricted cases: its in-scope object is one)."""
    about_cases = route.startswith(("cases/", "case-links/", "contacts/", "escalations/"))
    return about_cases and (method, route) not in {
        ("post", "cases/"),
        ("post", "cases/{id}/break-glass/"),
    }


def test_matrix_covers_exactly_the_routes_and_methods_the_api_serves():
    served = served_operations()
    assert ("get", "cases/{id}/") in served  # the walk found the API
    tabled = {(row.method, row.route) for row in MATRIX}
    assert sorted(served - tabled) == [], "routes without rows in the matrix"
    assert sorted(tabled - served) == [], "rows for routes the API does not serve"


def test_matrix_gives_every_caller_and_every_scope_a_row():
    scopes: dict[tuple[str, str], set[str]] = {}
    for row in MATRIX:
        scopes.setdefault((row.method, row.route), set()).add(row.scope)
    missing = []
    for (method, route), seen in sorted(scopes.items()):
        roles = {row.role for row in MATRIX if (row.method, row.route) == (method, route)}
        if not set(ROLES) <= roles:
            missing.append(f"{method} {route}: callers {sorted(set(ROLES) - roles)}")
        needed = {NONE} if seen == {NONE} else {IN, OUT_HELPLINE}
        if is_case_data(method, route):
            needed |= {OUT_RESTRICTED, OUT_TEAM}
        if not needed <= seen:
            missing.append(f"{method} {route}: scopes {sorted(needed - seen)}")
        if not all(scope in TARGETS[route] for scope in seen):
            missing.append(f"{method} {route}: no target for {sorted(seen - set(TARGETS[route]))}")
    assert not missing, "\n".join(missing)


# --- OPTIONS -----------------------------------------------------------------------------------------

# Routes whose every method is the administrators' (403 to anyone else): OPTIONS is refused alike.
ADMINISTRATORS_ONLY = {
    "users/",
    "users/{id}/",
    "users/{id}/totp/",
    "users/{id}/password-link/",
    "helplines/",
    "helplines/{id}/",
}
# Routes whose every method is the helpline's administrators' and supervisors' (a helpline's Twilio
# numbers and voice routes): OPTIONS is refused to anyone else alike.
ADMINISTRATORS_AND_SUPERVISORS_ONLY = {
    "phone-numbers/",
    "phone-numbers/{id}/",
    "voice-routes/",
    "voice-routes/{id}/",
}
# Routes anyone may call: what counts is the body (credentials, a set-password link), not a token.
PUBLIC = {LOGIN, "auth/password/", "auth/totp/", "auth/totp/confirm/"}


@pytest.mark.parametrize("route", sorted({route for _, route in served_operations()}))
def test_options_describes_a_route_alike_for_any_object_and_never_fails(world, route):
    """Every route answers OPTIONS (DRF's description of the endpoint): 401 to anonymous callers (but
    on the public sign-in), 403 to non-administrators on the administrators' routes (and to operators
    and agency users on the administrators' and supervisors'), otherwise 200 —
    and the same answer for an object in scope, one outside it and one that does not exist."""
    scopes = TARGETS[route]
    probes = [IN, OUT_HELPLINE, "unknown"] if "{id}" in route else [NONE if NONE in scopes else IN]
    problems = []
    for role in ROLES:
        expected = 200 if role in (ADMIN, PLATFORM_ADMIN) or route not in ADMINISTRATORS_ONLY else 403
        if route in ADMINISTRATORS_AND_SUPERVISORS_ONLY and role in (OPERATOR, AGENCY):
            expected = 403
        if role == ANON:
            expected = 200 if route in PUBLIC or route.startswith("chat/") else 401  # public routes
        answers = set()
        for probe in probes:
            with transaction.atomic():
                me = world.users.get(role)
                if probe == "unknown":
                    target = Target(API + route.format(id="987654321"), None, None, ())
                else:
                    target = resolve(world, route, probe, me)
                response = send(world.client(role), "options", target.url, None)
                transaction.set_rollback(True)
            answers.add((response.status_code, response.content))
            where = f"OPTIONS {target.url} as {role} [{probe}]"
            if response.status_code != expected:
                problems.append(
                    f"{where}: expected {expected}, got {response.status_code} {response.content[:200]!r}"
                )
            leaked = [mark for mark in target.marks if mark in response.content.decode()]
            if probe != IN and leaked:
                problems.append(f"{where}: the answer shows {leaked}")
        if len(answers) > 1:
            problems.append(f"OPTIONS {API}{route} as {role}: the answer tells the objects apart")
    assert not problems, "\n".join(problems)
