"""A real SMTP server (aiosmtpd) on a free local port that keeps what it receives.

    server = SmtpCapture(); host, port = server.start()
    server.refuse("gone@example.com")            # 550 at RCPT
    server.refuse("busy@example.com", code=451)   # 451 at RCPT: try again later
    server.require_login("mailer", "pw")          # AUTH PLAIN/LOGIN without TLS, checked
    server.refuse_sender(code=550); server.refuse_data(code=552)   # MAIL FROM / DATA refused
    ... server.messages -> [email.message.EmailMessage], server.envelopes -> [(mail_from, [rcpt])]
    server.stop()
"""
import email
import email.policy
import threading
import time

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult

from ._net import free_port

REPLIES = {550: "550 5.1.1 Mailbox unavailable", 451: "451 4.3.0 Try again later", 452: "452 4.3.1 Out of storage",
           552: "552 5.2.2 Mailbox full"}


class SmtpCapture:
    def __init__(self, host="127.0.0.1"):
        self.host = host
        self.port = None
        self.messages = []
        self.envelopes = []
        self.received_at = []  # time.monotonic() of each message, for rate-limit checks
        self._refusals = {}
        self._refusal_budget = {}  # address -> refusals left (absent: no limit)
        self._login = None
        self._sender_refusal = None
        self._data_refusal = None
        self._lock = threading.Lock()
        self._controller = None

    def refuse(self, address, code=550, times=None):
        """Answer ``code`` at RCPT for ``address``: always, or the next ``times`` times only."""
        self._refusals[address.lower()] = REPLIES.get(code, f"{code} Refused")
        if times is not None:
            self._refusal_budget[address.lower()] = times

    def refuse_sender(self, code=550):
        self._sender_refusal = REPLIES.get(code, f"{code} Sender refused")

    def refuse_data(self, code=552):
        self._data_refusal = REPLIES.get(code, f"{code} Message refused")

    def require_login(self, user, password):
        self._login = (user, password)

    def start(self):
        self.port = free_port(self.host)
        self._controller = Controller(
            self, hostname=self.host, port=self.port,
            authenticator=self._authenticate, auth_require_tls=False,
        )
        self._controller.start()
        return self.host, self.port

    def stop(self):
        if self._controller:
            self._controller.stop()
            self._controller = None

    # aiosmtpd handler hooks
    async def handle_MAIL(self, server, session, envelope, address, mail_options):
        if self._sender_refusal:
            return self._sender_refusal
        envelope.mail_from = address
        envelope.mail_options.extend(mail_options)
        return "250 OK"

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):
        refusal = self._refusals.get(address.lower())
        if refusal:
            left = self._refusal_budget.get(address.lower())
            if left is not None:
                if left <= 1:
                    self._refusals.pop(address.lower(), None)
                    self._refusal_budget.pop(address.lower(), None)
                else:
                    self._refusal_budget[address.lower()] = left - 1
            return refusal
        if self._login and not session.authenticated:
            return "530 5.7.0 Authentication required"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server, session, envelope):
        if self._data_refusal:
            return self._data_refusal
        message = email.message_from_bytes(envelope.original_content, policy=email.policy.default)
        with self._lock:
            self.messages.append(message)
            self.envelopes.append((envelope.mail_from, list(envelope.rcpt_tos)))
            self.received_at.append(time.monotonic())
        return "250 Message accepted for delivery"

    def _authenticate(self, server, session, envelope, mechanism, auth_data):
        if not self._login:
            return AuthResult(success=False, handled=False)
        given = (auth_data.login.decode(), auth_data.password.decode())
        # handled=False: aiosmtpd itself answers 535 to a failed login
        return AuthResult(success=given == self._login, handled=False)
