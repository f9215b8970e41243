"""Sending one e-mail over SMTP, and the few mails the bridge itself knows how to write.

``send_mail`` raises the bridge's typed errors so the task base class decides about retries:
a permanent refusal (5xx) -> ``Refused``, a temporary one (4xx), a dropped or refused connection, a
timeout -> ``NetworkTimeout``, bad credentials -> ``PermissionDenied``.
"""
import logging
import re
import smtplib
import ssl
from email.message import EmailMessage
from email.utils import formatdate, getaddresses, make_msgid
from html.parser import HTMLParser
from itertools import islice

from celery_bridge.core import errors
from celery_bridge.core.mail_templates import NAMED_TEMPLATES, RenderedMail, render_named

logger = logging.getLogger(__name__)

SECURITY_MODES = ("none", "starttls", "ssl")


def chunks(seq, size=100):
    """``seq`` cut into lists of at most ``size`` items (bulk sends go out batch by batch)."""
    if size < 1:
        raise errors.InvalidInput("chunk size must be at least 1")
    items = iter(seq)
    while batch := list(islice(items, size)):
        yield batch


class _TextOfHtml(HTMLParser):
    BREAKS = {"br", "p", "div", "tr", "li", "h1", "h2", "h3", "table"}

    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.parts = []

    def handle_starttag(self, tag, attrs):
        if tag in self.BREAKS:
            self.parts.append("\n")

    def handle_data(self, data):
        self.parts.append(data)

    def text(self):
        lines = (re.sub(r"[ \t]+", " ", line).strip() for line in "".join(self.parts).splitlines())
        return re.sub(r"\n{3,}", "\n\n", "\n".join(lines)).strip() + "\n"


def text_of_html(body_html):
    """A plain-text rendering of an HTML body, for mail clients that show no HTML."""
    parser = _TextOfHtml()
    parser.feed(body_html)
    parser.close()
    return parser.text()


def _single_address(value, what):
    if not isinstance(value, str) or "\r" in value or "\n" in value:
        raise errors.InvalidInput(f"{what} is not a single e-mail address")
    parsed = getaddresses([value])
    if len(parsed) != 1 or not re.fullmatch(r"[^@\s]+@[^@\s]+\.[^@\s]+", parsed[0][1]):
        raise errors.InvalidInput(f"{what} {value!r} is not a single e-mail address")
    return value


def build_message(sender, to, subject, body_html, body_text=None, reply_to=None, attachments=()):
    """The message ``send_mail`` sends: text and HTML alternatives, plus attachments if any.

    ``attachments`` holds ``(filename, content bytes, mimetype)`` triples.
    """
    _single_address(to, "recipient")
    if reply_to:
        _single_address(reply_to, "reply-to")
    msg = EmailMessage()
    try:
        msg["From"] = sender
        msg["To"] = to
        msg["Subject"] = subject
        if reply_to:
            msg["Reply-To"] = reply_to
    except ValueError as exc:  # the policy refuses CR/LF in headers: header injection
        raise errors.InvalidInput(f"bad mail header: {exc}") from None
    msg["Date"] = formatdate(localtime=True)
    msg["Message-ID"] = make_msgid(domain=_domain_of(sender))
    msg.set_content(body_text if body_text is not None else text_of_html(body_html))
    msg.add_alternative(body_html, subtype="html")
    for filename, content, mimetype in attachments:
        maintype, _, subtype = mimetype.partition("/")
        msg.add_attachment(content, maintype=maintype, subtype=subtype or "octet-stream", filename=filename)
    return msg


def _domain_of(sender):
    address = getaddresses([sender])[0][1]
    return address.rpartition("@")[2] or None


def _connect(settings):
    security = settings.smtp_security
    if security not in SECURITY_MODES:
        raise errors.JobError(f"smtp_security must be one of {', '.join(SECURITY_MODES)}, not {security!r}")
    if security == "ssl":
        return smtplib.SMTP_SSL(settings.smtp_host, settings.smtp_port, timeout=settings.smtp_timeout,
                                context=ssl.create_default_context())
    client = smtplib.SMTP(settings.smtp_host, settings.smtp_port, timeout=settings.smtp_timeout)
    if security == "starttls":
        client.starttls(context=ssl.create_default_context())
    return client


def _error_for_code(code, what):
    if 400 <= code < 500:
        return errors.NetworkTimeout(f"{what}: temporary failure {code}")
    return errors.Refused(f"{what}: refused with {code}")


def send_mail(settings, to, subject, body_html, body_text=None, reply_to=None, attachments=()):
    """Send one mail to one recipient; returns ``{"recipient", "message_id"}``.

    ``body_text`` defaults to a text rendering of ``body_html``; ``attachments`` holds
    ``(filename, content bytes, mimetype)`` triples.
    """
    msg = build_message(settings.smtp_from, to, subject, body_html, body_text, reply_to, attachments)
    try:
        with _connect(settings) as client:
            if settings.smtp_user:
                client.login(settings.smtp_user, settings.smtp_password)
            client.send_message(msg, to_addrs=[to])
    except smtplib.SMTPRecipientsRefused as exc:
        # One recipient per mail: the dict holds exactly its reply.
        code = min(code for code, _ in exc.recipients.values())
        raise _error_for_code(code, f"recipient {to}") from None
    except smtplib.SMTPAuthenticationError as exc:
        raise errors.PermissionDenied(f"SMTP login of {settings.smtp_user!r} refused ({exc.smtp_code})") from None
    except smtplib.SMTPNotSupportedError:
        raise errors.JobError("the SMTP server does not offer what smtp_security / smtp_user ask for") from None
    except (smtplib.SMTPServerDisconnected, smtplib.SMTPConnectError, smtplib.SMTPHeloError) as exc:
        raise errors.NetworkTimeout(f"SMTP connection to {settings.smtp_host}:{settings.smtp_port} failed: "
                                    f"{type(exc).__name__}") from None
    except smtplib.SMTPResponseException as exc:  # sender refused, data refused, anything else with a code
        raise _error_for_code(exc.smtp_code, f"mail to {to}") from None
    except smtplib.SMTPException as exc:  # e.g. no AUTH method both sides know
        raise errors.JobError(f"SMTP: {type(exc).__name__}") from None
    except ssl.SSLCertVerificationError:
        raise errors.JobError(f"the certificate of {settings.smtp_host} does not verify") from None
    except OSError as exc:  # refused connection, unreachable host, socket timeout
        raise errors.NetworkTimeout(f"SMTP server {settings.smtp_host}:{settings.smtp_port} unreachable: "
                                    f"{type(exc).__name__}") from None
    logger.info("Mail %s sent to %s", msg["Message-ID"], to)
    return {"recipient": to, "message_id": msg["Message-ID"]}


__all__ = ["NAMED_TEMPLATES", "RenderedMail", "build_message", "chunks", "render_named", "send_mail", "text_of_html"]
