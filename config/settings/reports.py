"""The helpline's numbers (reports): what is safe to share."""

from .environment import env

# Small-cell suppression (reports.suppression): in every figure that leaves the supervisor's screen
# (report files, the CHI report), a count of children below this is shown as "<5", and as many
# others hidden as it takes for no total to give it away. 5 is the usual rule for statistics about
# people; some ministries ask for 10.
REPORT_SUPPRESS_BELOW = env.int("REPORT_SUPPRESS_BELOW", default=5)
