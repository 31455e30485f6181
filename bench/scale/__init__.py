"""Scale data: several helplines with years of synthetic cases, contacts, messages, referrals and a
valid audit chain, loaded with PostgreSQL COPY so a million cases take minutes, not days.

    DJANGO_SETTINGS_MODULE=bench.settings python manage.py seed_scale --cases 1000000 --contacts-per-case 10

(bench.settings installs the `bench` app, whose command it is; `make bench` and `make soak` run it so.)
The package, by concern: `shapes` (distributions and texts), `reference` (ORM reference data and
token pools), `generator` (cases, their life and audit entries) with `conversations` (contacts,
messages, inbound events) and `referrals` (referrals and consent), `copy_text` (COPY's text format
and column lists), `load` (the threaded COPY, indexes, counters and sequences); the command is
bench/management/commands/seed_scale.py.

What it writes (all synthetic; see the module constants for the distributions):

* Reference data, through the ORM (a few hundred rows): --helplines helplines in different
  countries and timezones with the default category list, three teams each, operators,
  supervisors and an administrator per helpline, one agency of every sector (with service types)
  and one agency user each, and the helpline's SMS/WhatsApp/voice numbers. Every user gets the
  same password (--password), hashed once. Supervisors and administrators have no authenticator:
  they enrol their own at their first sign-in (POST /api/v1/auth/totp/, then .../totp/confirm/).
* N cases over ten years (volume growing with time), ids and creation times in the same order.
  A case's state follows its age: new cases are mostly open, cases older than a year mostly
  closed, with a stale backlog (at the default size: 1,500-3,400 cases in intake and 7,000-19,000
  open per helpline, most of them past their due date, as a neglected backlog would be). The
  newest 5 x helplines cases take every state in every helpline, so even a tiny seed has each.
  Closed cases older than the retention (7 years) are anonymised, as the retention job would.
* About K contacts per case (the first at the case's creation, the rest within its life), and
  messages for SMS, WhatsApp and chat contacts: 1 to 5 each, about 1 message per contact
  overall. Inbound SMS/WhatsApp messages of the last year have their raw InboundEvent.
* Referrals for cases in referral and some cases in follow-up or closed, in states consistent
  with the case (an open referral case has an active referral; a closed case none), each with
  the consent row it relies on (a few emergency referrals rely on the child's vital interests
  and have none). Escalations for open cases past their due date.
* Audit entries, one hash chain per helpline: `case.create` for every case, `case.transition.*`
  for each transition of the open cases, `case.anonymise` for anonymised cases, in time order,
  hashed with helpline.audit.entry_hash exactly as audit_record does (txid: the seeding
  transaction's; no request id, client address or user agent; extra carries "seeded": true).
  Other seeded rows (contacts, closures of closed cases, referrals...) have no audit entry.
  The chain heads and the case reference counters are set to match.

Choices a reader must know:

* Encrypted columns reuse a small pool of Fernet tokens made once per run (encrypting every value
  would dominate the run): equal tokens repeat across rows, which real data never does. The
  tokens are real, so every value decrypts. Phone hashes come from the same small pool.
* Everything is written in one transaction with `session_replication_role = replica`
  (superuser): the row-history triggers (helpline.history) would write one event row per
  inserted row, doubling the load, and the foreign-key triggers would check every reference,
  which the generator guarantees by construction. So seeded rows have no row history. Unique
  and check constraints still apply. A failure rolls everything back.
* Ids are written explicitly (from max(id) + 1) and every sequence is advanced past them, so
  the application's own inserts continue after the seed. ANALYZE runs at the end.
* The seeded tables' secondary indexes (those behind no constraint) are dropped before the load
  and built once after it, in the same transaction (--keep-indexes keeps them instead).
  Rows are generated in a second thread while the main thread COPYs the previous batch.
* Measured (2 cores shared with other work, load average ~3.5): 100,000 cases x 10 = 2.4M rows
  in 81 s; the default 1,000,000 x 10 = 24M rows in 8.5 min (47,000 rows/s), a 9.9 GB database.
* The database must hold no case (CommandError otherwise; there is no --append: references,
  chains and counters would have to be merged with live data). Reference data already present
  under the seed's helpline codes is refused too.
* Not seeded: notes, referral updates, agency deliveries, case access grants, callbacks, chat
  sessions, contacter flags.
"""
