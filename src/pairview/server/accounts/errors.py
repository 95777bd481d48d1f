"""Errors of the account layer, which the app turns into HTTP responses."""

from __future__ import annotations

from pairview.errors import PairviewError


class AccountError(PairviewError):
    """Base of the account layer's errors; the message is shown to the user."""

    status = 400


class InvalidCredentials(AccountError):
    """Wrong email or password, or an account that does not exist, with one message for both."""

    status = 401

    def __init__(self) -> None:
        super().__init__("Wrong email or password.")


class Throttled(AccountError):
    status = 429

    def __init__(self, retry_after: float) -> None:
        seconds = max(1, int(retry_after + 0.999))
        super().__init__(f"Too many attempts. Try again in {seconds} seconds.")
        self.retry_after = seconds


class InvalidLink(AccountError):
    """A mail link or invitation that is unknown, used, expired, revoked or someone else's."""

    status = 404

    def __init__(self, what: str = "link") -> None:
        super().__init__(
            f"This {what} is not valid: it may have expired or been used already. "
            "Ask for a new one."
        )


class NotFound(AccountError):
    status = 404


class Conflict(AccountError):
    status = 409


class Forbidden(AccountError):
    status = 403
