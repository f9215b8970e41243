"""Hide secrets in job arguments before they are shown in a view or written to a log."""
import re

MASK = "********"
SECRET_KEY = re.compile(
    r"pass(word|wd)?|secret|token|(api|app)[_-]?key|apikey|appkey|auth(orization)?|credential|private[_-]?key|pin$|otp$",
    re.IGNORECASE,
)


def is_secret_key(key):
    return isinstance(key, str) and bool(SECRET_KEY.search(key))


def scrub(value):
    """A copy of ``value`` (JSON-like data) with the value of every secret-looking key masked."""
    if isinstance(value, dict):
        return {key: MASK if is_secret_key(key) else scrub(item) for key, item in value.items()}
    if isinstance(value, (list, tuple)):
        return [scrub(item) for item in value]
    return value


def redact(text, secrets):
    """``text`` with every occurrence of the given secret values masked (for messages from outside)."""
    text = "" if text is None else str(text)
    for secret in secrets:
        if secret and len(secret) >= 4:  # masking a 1-3 character "secret" would mangle ordinary words
            text = text.replace(secret, MASK)
    return text
