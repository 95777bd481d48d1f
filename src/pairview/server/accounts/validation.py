"""Checks on what users type: email addresses, display names and passwords.

Each check returns the cleaned value or raises InvalidInput, whose message
names the field and what was expected.
"""

from __future__ import annotations

import re
import unicodedata

from email_validator import EmailNotValidError, validate_email

from pairview.errors import PairviewError
from pairview.server.accounts.models import EMAIL_LENGTH, NAME_LENGTH

PASSWORD_MIN_LENGTH = 10
# Argon2 takes any length, but a cap keeps one request from costing much.
PASSWORD_MAX_LENGTH = 256
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")


class InvalidInput(PairviewError):
    """A value a user sent is invalid; the message names the field and what is expected."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(message)
        self.field = field


def normalize_email(value: str) -> str:
    """Return the address in the one form stored and compared: trimmed and lower case."""
    if len(value) > EMAIL_LENGTH:
        raise InvalidInput("email", f"An email address has at most {EMAIL_LENGTH} characters.")
    try:
        checked = validate_email(value.strip(), check_deliverability=False)
    except EmailNotValidError as error:
        raise InvalidInput("email", f"Invalid email address: {error}") from None
    normalized = checked.normalized.lower()
    if len(normalized) > EMAIL_LENGTH:
        raise InvalidInput("email", f"An email address has at most {EMAIL_LENGTH} characters.")
    return normalized


def clean_display_name(value: str) -> str:
    name = unicodedata.normalize("NFC", value).strip()
    if not name:
        raise InvalidInput("display_name", "Enter a display name.")
    if len(name) > NAME_LENGTH:
        raise InvalidInput("display_name", f"A display name has at most {NAME_LENGTH} characters.")
    if _CONTROL.search(name):
        raise InvalidInput("display_name", "A display name cannot contain control characters.")
    return name


def check_password(value: str, email: str | None = None) -> str:
    if len(value) < PASSWORD_MIN_LENGTH:
        raise InvalidInput(
            "password", f"A password needs at least {PASSWORD_MIN_LENGTH} characters."
        )
    if len(value) > PASSWORD_MAX_LENGTH:
        raise InvalidInput("password", f"A password has at most {PASSWORD_MAX_LENGTH} characters.")
    if email is not None and value.strip().lower() == email:
        raise InvalidInput("password", "Choose a password other than your email address.")
    return value
