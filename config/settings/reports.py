"""The helpline's numbers (reports): what is safe to share."""

from .environment import BASE_DIR, env

# Small-cell suppression (reports.suppression): in every figure that leaves the supervisor's screen
# (report files, the CHI report), a count of children below this is shown as "<5", and as many
# others hidden as it takes for no total to give it away. 5 is the usual rule for statistics about
# people; some ministries ask for 10.
REPORT_SUPPRESS_BELOW = env.int("REPORT_SUPPRESS_BELOW", default=5)

# Exports of a helpline's records (reports.exports): written by the worker into EXPORT_DIR, each
# file encrypted with its own key (itself encrypted with FIELD_ENCRYPTION_KEYS), shared by the web
# processes (downloads) and the workers (a volume in docker-compose.yml); deleted this many hours
# after it is ready.
EXPORT_DIR = env("EXPORT_DIR", default=str(BASE_DIR / ".data" / "exports"))
EXPORT_KEEP_HOURS = env.int("EXPORT_KEEP_HOURS", default=72)
# The key of a pseudonymised export's record ids and phone hashes (HMAC-SHA256): the same in every
# export of the deployment, so files of different months join up, and not IDENTIFIER_HASH_KEY, so
# an export's ids are not the database's hashes. Empty: derived from IDENTIFIER_HASH_KEY.
EXPORT_PSEUDONYM_KEY = env("EXPORT_PSEUDONYM_KEY", default="")
