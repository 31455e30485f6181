"""Every text the web chat shows a child, in one place: English for now; a later localisation
wraps these (gettext) here, nowhere else. A helpline's own texts (its greeting and out-of-hours
message, per language, helpline.chat_settings) replace the first two; `{helpline}` in any of them
is the helpline's name."""

# The first message from the helpline when a chat opens.
DEFAULT_GREETING = (
    "Hello, you are talking to {helpline}. You can tell us anything: what you write stays between "
    "you and the counsellors. Write your message and a counsellor will answer as soon as they can."
)
# Shown after the greeting when a chat opens outside the helpline's opening hours.
DEFAULT_OUT_OF_HOURS = (
    "Our counsellors are not here right now. You can still write to us: your messages are kept "
    "and a counsellor will read them when we open again. If you are in danger now, call your "
    "local emergency number."
)
# Why a child can no longer write in a chat (the 409's detail).
CHAT_ENDED = "This chat has ended."
CHAT_EXPIRED = "This chat has expired."
