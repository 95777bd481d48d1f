"""Mail to users: sign-up and address confirmations, password resets, invitations.

Mail leaves through an outbox worker, never during the request: a request
for a known address and one for an unknown address then take the same time,
whether the SMTP server is fast, slow or down.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import smtplib
import ssl
from dataclasses import dataclass
from email.message import EmailMessage
from email.utils import make_msgid

from pairview.settings import ServerSettings

logger = logging.getLogger(__name__)

OUTBOX_SIZE = 1000
SMTP_TIMEOUT = 20.0


@dataclass(frozen=True, slots=True)
class Mail:
    to: str
    subject: str
    text: str
    kind: str


class Mailer:
    """Queues mail and sends it over SMTP, one message at a time, in a worker thread."""

    def __init__(self, settings: ServerSettings) -> None:
        self._settings = settings
        self._outbox: asyncio.Queue[Mail] = asyncio.Queue(OUTBOX_SIZE)
        self._worker: asyncio.Task[None] | None = None
        self.sent = 0
        self.failed = 0

    @property
    def configured(self) -> bool:
        return self._settings.smtp_host is not None

    def start(self) -> None:
        self._worker = asyncio.create_task(self._run())

    async def stop(self) -> None:
        if self._worker is not None:
            self._worker.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._worker

    def send(self, mail: Mail) -> None:
        """Queue `mail`; drop it with a warning when no SMTP server is set or the queue is full."""
        if not self.configured:
            logger.warning("no SMTP server is configured; a %s mail was not sent", mail.kind)
            return
        try:
            self._outbox.put_nowait(mail)
        except asyncio.QueueFull:
            self.failed += 1
            logger.warning("mail outbox full; a %s mail was dropped", mail.kind)

    async def _run(self) -> None:
        while True:
            mail = await self._outbox.get()
            try:
                await asyncio.to_thread(self._deliver, mail)
                self.sent += 1
            except (OSError, smtplib.SMTPException) as error:
                # The address is personal data and stays out of the log.
                self.failed += 1
                logger.warning("sending a %s mail failed: %s", mail.kind, error)

    def _deliver(self, mail: Mail) -> None:
        settings = self._settings
        assert settings.smtp_host is not None
        message = EmailMessage()
        message["From"] = settings.mail_from
        message["To"] = mail.to
        message["Subject"] = mail.subject
        message["Message-ID"] = make_msgid(domain="pairview")
        message["Auto-Submitted"] = "auto-generated"
        message.set_content(mail.text)

        smtp: smtplib.SMTP
        if settings.smtp_security == "tls":
            smtp = smtplib.SMTP_SSL(
                settings.smtp_host,
                settings.smtp_port,
                timeout=SMTP_TIMEOUT,
                context=ssl.create_default_context(),
            )
        else:
            smtp = smtplib.SMTP(settings.smtp_host, settings.smtp_port, timeout=SMTP_TIMEOUT)
        with smtp:
            if settings.smtp_security == "starttls":
                smtp.starttls(context=ssl.create_default_context())
            if settings.smtp_username and settings.smtp_password:
                smtp.login(settings.smtp_username, settings.smtp_password.get_secret_value())
            smtp.send_message(message)


def signup_mail(to: str, link: str) -> Mail:
    return Mail(
        to,
        "Confirm your Pairview account",
        "Someone, probably you, asked for a Pairview account with this address.\n\n"
        f"Open this link within a day to confirm it and sign in:\n\n{link}\n\n"
        "If it was not you, ignore this mail; no account is made without the link.\n",
        "sign-up",
    )


def signup_exists_mail(to: str, sign_in_link: str, reset_link: str) -> Mail:
    return Mail(
        to,
        "Your Pairview account",
        "Someone, probably you, tried to make a Pairview account with this address, "
        "which already has one.\n\n"
        f"Sign in here: {sign_in_link}\n"
        f"Forgot your password? Reset it here: {reset_link}\n\n"
        "If it was not you, ignore this mail; nothing has changed.\n",
        "sign-up-exists",
    )


def reset_mail(to: str, link: str) -> Mail:
    return Mail(
        to,
        "Reset your Pairview password",
        f"To choose a new password, open this link within a day:\n\n{link}\n\n"
        "If you did not ask for this, ignore this mail; your password stays as it is.\n",
        "password-reset",
    )


def email_change_mail(to: str, link: str) -> Mail:
    return Mail(
        to,
        "Confirm your new Pairview address",
        f"To use this address for your Pairview account, open this link within a day:\n\n"
        f"{link}\n\nIf you did not ask for this, ignore this mail.\n",
        "email-change",
    )


def email_changed_notice(to: str) -> Mail:
    return Mail(
        to,
        "Your Pairview address was changed",
        "Your Pairview account now uses another email address. If you did not do this, "
        "reset your password and contact the server's operator.\n",
        "email-changed",
    )


def contact_invitation_mail(to: str, inviter: str, link: str) -> Mail:
    return Mail(
        to,
        f"{inviter} invites you to Pairview",
        f"{inviter} added you as a contact on Pairview, for sharing screens.\n\n"
        f"Make an account with this address to see their invitations: {link}\n",
        "contact-invitation",
    )


def contact_added_mail(to: str, inviter: str, link: str) -> Mail:
    return Mail(
        to,
        f"{inviter} added you as a contact on Pairview",
        f"{inviter} added you as a contact on Pairview. Their invitations to screen "
        f"shares appear when you are signed in: {link}\n",
        "contact-added",
    )


def room_invitation_mail(to: str, inviter: str, link: str, valid_until: str) -> Mail:
    return Mail(
        to,
        f"{inviter} invites you to a screen share",
        f"{inviter} invites you to watch their screen on Pairview.\n\n"
        f"Open this link to join (valid until {valid_until}, for one person):\n\n{link}\n",
        "room-invitation",
    )
