"""The HTTPS server with accounts, its mailbox and clients, as the account tests have them."""

from tests.server.accounts.conftest import (  # noqa: F401 - fixtures used by these tests
    accounts_server,
    certificate,
    client,
    client_factory,
    mailbox,
    settings_overrides,
    smtp,
)
