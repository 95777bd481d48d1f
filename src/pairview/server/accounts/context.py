"""The account layer of a running server, built once at start-up."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from fastapi import HTTPException, status
from sqlalchemy.ext.asyncio import async_sessionmaker
from starlette.requests import HTTPConnection

from pairview.server.accounts.contacts import ContactBook
from pairview.server.accounts.crypto import JoinTickets, Sealer
from pairview.server.accounts.events import UserChannels
from pairview.server.accounts.invitations import InvitationBook
from pairview.server.accounts.mail import Mailer
from pairview.server.accounts.oauth import GitHub, Slack
from pairview.server.accounts.oidc import OpenIdConnect
from pairview.server.accounts.passwords import PasswordHasher
from pairview.server.accounts.providers import Provider
from pairview.server.accounts.service import AccountService, SessionsRevoked
from pairview.server.accounts.sessions import SessionStore
from pairview.server.accounts.throttle import SignInThrottle, SlidingWindow
from pairview.server.audit.alerts import WebhookAlerts
from pairview.server.audit.log import AuditLog
from pairview.settings import ServerSettings

# Failed one-time login codes allowed per client address in a throttle window.
CODE_FAILURES_PER_ADDRESS = 10


@dataclass
class Accounts:
    settings: ServerSettings
    service: AccountService
    store: SessionStore
    channels: UserChannels
    contacts: ContactBook
    invitations: InvitationBook
    sealer: Sealer
    tickets: JoinTickets
    providers: dict[str, Provider]
    code_failures: SlidingWindow
    audit: AuditLog

    @property
    def mailer(self) -> Mailer:
        return self.service.mailer


def configured_providers(settings: ServerSettings) -> dict[str, Provider]:
    """Return the external sign-in providers whose client id and secret are set.

    The others are neither shown nor reachable, so an installation without
    Internet access offers no option that would need it.
    """
    providers: dict[str, Provider] = {}
    if settings.github_client_id and settings.github_client_secret:
        providers["github"] = GitHub(
            settings.github_client_id,
            settings.github_client_secret.get_secret_value(),
            settings.github_url,
            settings.github_api_url,
        )
    if settings.slack_client_id and settings.slack_client_secret:
        providers["slack"] = Slack(
            settings.slack_client_id,
            settings.slack_client_secret.get_secret_value(),
            settings.slack_url,
        )
    if settings.oidc_issuer and settings.oidc_client_id and settings.oidc_client_secret:
        providers["sso"] = OpenIdConnect(
            settings.oidc_issuer,
            settings.oidc_client_id,
            settings.oidc_client_secret.get_secret_value(),
            settings.oidc_name,
        )
    return providers


def webhook_alerts(settings: ServerSettings) -> WebhookAlerts | None:
    """Return the admin sign-in alerts, or None when no webhook URL is set."""
    if settings.admin_webhook_url is None:
        return None
    secret = settings.admin_webhook_secret
    return WebhookAlerts(
        settings.admin_webhook_url,
        secret.get_secret_value() if secret else None,
        settings.admin_webhook_timeout,
        settings.admin_webhook_retries,
    )


def build_accounts(
    settings: ServerSettings,
    sessions: async_sessionmaker[Any],
    secret_key: bytes,
    tickets: JoinTickets,
    on_revoked: SessionsRevoked,
) -> Accounts:
    store = SessionStore(sessions, settings.session_ttl, secret_key)
    audit = AuditLog(sessions, webhook_alerts(settings))
    throttle = SignInThrottle(
        settings.signin_failures_per_account,
        settings.signin_failures_per_address,
        settings.signin_throttle_window,
    )
    service = AccountService(
        sessions,
        PasswordHasher.from_settings(settings),
        store,
        Mailer(settings),
        throttle,
        settings.mail_token_ttl,
        settings.signin_throttle_window,
        on_revoked,
        audit,
    )
    channels = UserChannels()
    return Accounts(
        settings=settings,
        service=service,
        store=store,
        channels=channels,
        contacts=ContactBook(sessions, service, settings.max_contacts),
        invitations=InvitationBook(sessions, service, channels, tickets, settings.invitation_ttl),
        sealer=Sealer(secret_key),
        tickets=tickets,
        providers=configured_providers(settings),
        code_failures=SlidingWindow(CODE_FAILURES_PER_ADDRESS, settings.signin_throttle_window),
        audit=audit,
    )


def get_accounts(connection: HTTPConnection) -> Accounts:
    """Return the account layer, or raise HTTP 404 on a server without accounts."""
    accounts: Accounts | None = connection.app.state.pairview.accounts
    if accounts is None:
        raise HTTPException(status.HTTP_404_NOT_FOUND, "This server has no accounts.")
    return accounts
