"""The one place that decides what is a secret: hide secrets in job arguments, settings and messages
before they are shown in a view or written to a log.

Plain Python: imported by the Odoo addons and by the workers alike. Every check of "is this name a
secret" in the project uses :func:`is_secret_key`; extend :data:`SECRET_WORDS` / :data:`SECRET_PAIRS`
here, nowhere else.
"""
import re

MASK = "********"

# A key is split into words (snake_case, kebab-case, camelCase, dotted, spaced: "X-Api-Key" →
# x, api, key). It is a secret when one of its words is in SECRET_WORDS, or two neighbouring words
# make a SECRET_PAIRS entry ("api_key", "session_key"), or its letters contain an unambiguous
# SECRET_PARTS word ("dbpassword", "userApikey"). Whole words rather than substrings keep ordinary
# names visible: "milking_session", "author", "spin_speed", "compass", "keyword".
SECRET_WORDS = frozenset({
    "password", "passwd", "pwd", "pass", "passphrase", "passcode", "secret", "secrets", "token", "tokens",
    "credential", "credentials", "auth", "authorization", "cookie", "cookies", "otp", "totp", "pin", "mpin",
    "cvv", "cvv2", "cvc", "cvc2", "csc", "apikey", "appkey", "accesskey", "secretkey", "privatekey",
    "sessionkey", "sessionid", "sessiontoken", "jwt", "bearer", "dsn", "signingkey", "encryptionkey",
})
SECRET_PAIRS = frozenset({
    ("api", "key"), ("app", "key"), ("access", "key"), ("secret", "key"), ("private", "key"),
    ("session", "key"), ("session", "id"), ("signing", "key"), ("encryption", "key"), ("master", "key"),
    ("client", "secret"), ("card", "number"), ("security", "code"), ("set", "cookie"),
})
SECRET_PARTS = ("password", "passwd", "passphrase", "apikey", "accesskey", "privatekey", "secretkey",
                "sessionkey", "accesstoken", "authtoken", "refreshtoken", "credential")

_WORD = re.compile(r"[A-Z]+(?![a-z])|[A-Z]?[a-z]+|\d+")
# user:password@ in a URL (redis://:pw@host, postgresql://user:pw@host) and password=... in a libpq DSN
_URL_PASSWORD = re.compile(r"(?P<head>[a-z][a-z0-9+.-]*://[^:/@\s]*:)(?P<secret>[^@\s/]+)(?=@)", re.IGNORECASE)
_DSN_PASSWORD = re.compile(r"(?P<head>\bpassword\s*=\s*)(?P<secret>'(?:[^'\\]|\\.)*'|\S+)", re.IGNORECASE)


def key_words(key):
    """The lower-case words of a key: ``"X-Api-Key"`` → ``["x", "api", "key"]``; digits stay with
    the word before them (``"cvv2"``)."""
    words = []
    for chunk in re.split(r"[^A-Za-z0-9]+", key):
        chunk_words = []
        for word in _WORD.findall(chunk):
            if word.isdigit() and chunk_words:
                chunk_words[-1] += word
            else:
                chunk_words.append(word.lower())
        words.extend(chunk_words)
    return words


def is_secret_key(key):
    """Whether a value stored under ``key`` (an argument, a setting, a header) is a secret."""
    if not isinstance(key, str) or not key:
        return False
    words = key_words(key)
    if any(word in SECRET_WORDS for word in words):
        return True
    if any(pair in SECRET_PAIRS for pair in zip(words, words[1:])):
        return True
    letters = "".join(words)
    return any(part in letters for part in SECRET_PARTS)


def hide_url_passwords(text):
    """``text`` with the password of every URL or libpq DSN in it masked (broker URLs, database DSNs)."""
    if not isinstance(text, str):
        return text
    text = _URL_PASSWORD.sub(lambda m: m.group("head") + MASK, text)
    return _DSN_PASSWORD.sub(lambda m: m.group("head") + MASK, text)


def scrub(value):
    """A copy of ``value`` (JSON-like data) with the value of every secret-looking key masked, and
    passwords inside URLs hidden."""
    if isinstance(value, dict):
        return {key: MASK if is_secret_key(key) else scrub(item) for key, item in value.items()}
    if isinstance(value, (list, tuple)):
        return [scrub(item) for item in value]
    if isinstance(value, str):
        return hide_url_passwords(value)
    return value


def redact(text, secrets):
    """``text`` with every occurrence of the given secret values masked (for messages from outside)."""
    text = "" if text is None else str(text)
    for secret in secrets:
        if secret and len(secret) >= 4:  # masking a 1-3 character "secret" would mangle ordinary words
            text = text.replace(secret, MASK)
    return text


def masked_number(number):
    """Enough of a phone number to follow it in logs and the notification log without writing the whole
    of it there."""
    return number[:6] + "…" + number[-3:]
