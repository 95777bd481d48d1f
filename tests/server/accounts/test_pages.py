"""The account pages in headless Chromium: sign-up, sign-in, account, contacts and sharing."""

from __future__ import annotations

import asyncio
import re
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import httpx
import pytest
from playwright.async_api import Browser, BrowserContext, ConsoleMessage, Page, async_playwright

from pairview.server.runner import RunningServer
from tests.server.accounts.conftest import PASSWORD
from tests.server.accounts.test_sharing import start_host
from tests.support.accounts import csrf_headers
from tests.support.browser import reaching_only
from tests.support.mailbox import Mailbox
from tests.support.timing import seconds

# The test server listens on 127.0.0.1, and Chromium resolves no other name.
CHROMIUM_ARGS = reaching_only(["127.0.0.1"])


@pytest.fixture
async def browser() -> AsyncIterator[Browser]:
    async with async_playwright() as playwright:
        chromium = await playwright.chromium.launch(
            executable_path="/usr/bin/chromium", args=CHROMIUM_ARGS
        )
        try:
            yield chromium
        finally:
            await chromium.close()


class Tab:
    """A browser context and page that records console errors, such as CSP violations."""

    def __init__(self, context: BrowserContext, page: Page, base_url: str) -> None:
        self.context = context
        self.page = page
        self.base_url = base_url
        self.problems: list[str] = []
        page.on("console", self._console)
        page.on("pageerror", lambda error: self.problems.append(str(error)))
        page.set_default_timeout(seconds(10) * 1000)

    def _console(self, message: ConsoleMessage) -> None:
        if message.type == "error" and "401" not in message.text:
            self.problems.append(message.text)

    async def open(self, path: str, ready: bool = False) -> None:
        """Load `path`; with `ready`, also wait until the page's script has set up its forms."""
        await self.page.goto(self.base_url + path)
        if ready:
            await self.page.wait_for_selector("body[data-ready]", state="attached")


@pytest.fixture
async def new_tab(
    browser: Browser, accounts_server: RunningServer
) -> AsyncIterator[Callable[[], object]]:
    contexts: list[BrowserContext] = []

    async def make() -> Tab:
        context = await browser.new_context(ignore_https_errors=True)
        contexts.append(context)
        return Tab(context, await context.new_page(), accounts_server.local_url)

    yield make
    for context in contexts:
        await context.close()
    # Let the server see the pages' event sockets close before it stops: uvicorn
    # raises InvalidState when it shuts down a socket that is still closing.
    app: Any = accounts_server.server.config.app
    for _ in range(int(seconds(5) / 0.05)):
        if app.state.pairview.accounts.channels.count == 0:
            break
        await asyncio.sleep(0.05)


async def test_signup_invitation_and_one_click_join(
    new_tab: Callable[[], object],
    client_factory: Callable[..., httpx.AsyncClient],
    mailbox: Mailbox,
    accounts_server: RunningServer,
) -> None:
    tab: Tab = await new_tab()  # type: ignore[misc]
    page = tab.page

    # sign up, then open the mailed link
    await tab.open("/sign-up")
    await page.fill("#display-name", "Friend Fred")
    await page.fill("#email", "fred@example.org")
    await page.fill("#password", PASSWORD)
    await page.click("button[type=submit]")
    await page.wait_for_selector("#message:not([hidden])")
    assert "Check your mail" in (await page.text_content("#message") or "")
    mail = await mailbox.wait_for("fred@example.org")
    await page.goto(mail.link("/verify"))
    await page.wait_for_url("**/share")
    await page.wait_for_selector("body[data-events=open]")
    assert await page.is_visible("#no-invitations")
    cookies = {c["name"]: c for c in await tab.context.cookies()}
    assert cookies["__Host-pv_session"]["httpOnly"] is True
    assert cookies["__Host-pv_session"]["secure"] is True

    # a host invites Fred as a contact: the invitation appears without a reload
    host = await start_host(client_factory(), mailbox)
    headers = await csrf_headers(host.web)
    contact = await host.web.post(
        "/api/contacts", json={"email": "fred@example.org"}, headers=headers
    )
    made = await host.invite(contact_ids=[contact.json()["id"]])
    assert made.status_code == 201
    item = page.locator("#invitation-list li")
    await item.wait_for()
    assert "Hosting Hannah invites you" in await item.inner_text()

    # one click joins the room under Fred's name, with no name form
    await item.locator("button").click()
    await page.wait_for_url(re.compile(f"/r/{host.room_id}#t1[.]"))
    await page.wait_for_selector("body[data-state=waiting]")
    assert not await page.is_visible("#name-form")
    assert tab.problems == []


async def test_account_and_contacts_pages(
    new_tab: Callable[[], object],
    client_factory: Callable[..., httpx.AsyncClient],
    mailbox: Mailbox,
) -> None:
    from tests.support.accounts import sign_up

    await sign_up(client_factory(), mailbox, "page@example.org", PASSWORD, "Page Paula")
    tab: Tab = await new_tab()  # type: ignore[misc]
    page = tab.page

    await tab.open("/sign-in")
    assert not await page.is_visible("#providers")
    await page.fill("#email", "page@example.org")
    await page.fill("#password", "a wrong password")
    await page.click("#sign-in-form button")
    await page.wait_for_selector("#message[data-level=error]")
    assert "Wrong email or password" in (await page.text_content("#message") or "")
    await page.fill("#password", PASSWORD)
    await page.click("#sign-in-form button")
    await page.wait_for_url("**/share")

    await tab.open("/account", ready=True)
    await page.wait_for_selector("#current-name:text('Page Paula')")
    await page.fill("#display-name", "Paula P")
    await page.click("#name-form button")
    await page.wait_for_selector("#current-name:text('Paula P')")
    await page.click("#code-button")
    await page.wait_for_selector("#code:not([hidden])")
    assert "valid for 10 minutes" in (await page.text_content("#code") or "")

    await tab.open("/contacts", ready=True)
    await page.fill("#email", "buddy@example.org")
    await page.click("#add-form button")
    row = page.locator("#contact-list li")
    await row.wait_for()
    assert await row.inner_text() != ""
    assert "buddy@example.org" in await row.inner_text()
    await row.locator("button").click()
    await page.wait_for_selector("#no-contacts:not([hidden])")

    await tab.open("/account", ready=True)
    await page.click("#sign-out")
    await page.wait_for_url("**/sign-in")
    await tab.open("/account")
    await page.wait_for_url("**/sign-in")
    assert tab.problems == []


async def test_host_makes_link_on_share_page(
    new_tab: Callable[[], object],
    client_factory: Callable[..., httpx.AsyncClient],
    mailbox: Mailbox,
) -> None:
    host = await start_host(client_factory(), mailbox)
    tab: Tab = await new_tab()  # type: ignore[misc]
    page = tab.page
    await tab.open("/sign-in")
    await page.fill("#email", "host@example.org")
    await page.fill("#password", PASSWORD)
    await page.click("#sign-in-form button")
    await page.wait_for_url("**/share")

    entry = page.locator(f"li[data-room='{host.room_id}']")
    await entry.locator(".make-link").click()
    output = entry.locator(".link-output")
    await output.wait_for()
    link = await output.input_value()

    assert link.startswith(tab.base_url + "/invite#")
    invitations = (await host.web.get(f"/api/rooms/{host.room_id}/invitations")).json()
    assert [i["status"] for i in invitations] == ["pending"]
    assert tab.problems == []


async def test_account_pages_absent_without_accounts(
    tmp_path: Path,
) -> None:
    from pairview.server.runner import start_server
    from pairview.settings import ServerSettings

    running = await start_server(ServerSettings(data_dir=tmp_path / "plain", port=0))
    try:
        async with httpx.AsyncClient(base_url=running.local_url) as client:
            pages = [await client.get(f"/{p}") for p in ("sign-in", "account", "share")]
            api = await client.get("/api/auth/providers")
            index = await client.get("/")
    finally:
        await running.stop()

    assert [p.status_code for p in pages] == [404, 404, 404]
    assert api.status_code == 404
    assert index.status_code == 200


PAGES = Path(__file__).parents[3] / "src/pairview/web/account"


def test_forms_never_submit_by_get() -> None:
    """A form sent before its script runs must not put a password or an email into the URL."""
    forms = [
        (page_file.name, form)
        for page_file in sorted(PAGES.glob("*.html"))
        for form in re.findall(r"<form\b[^>]*>", page_file.read_text(encoding="utf-8"))
    ]
    assert len(forms) >= 10, forms
    for name, form in forms:
        assert 'method="post"' in form, f"{name}: {form}"
