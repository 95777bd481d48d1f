"""A local server that speaks GitHub's, Slack's and an OpenID Connect provider's protocols.

It runs in the test's process on 127.0.0.1 and approves every authorization
request at once, as the configured user. Like the real providers it checks
the client's id and secret, the redirect URI and the PKCE verifier, and
accepts each code once. For OpenID Connect, `id_token_mode` makes it issue
a defective ID token, to test that the server under test rejects it.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import secrets
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qsl, urlencode

import uvicorn
from authlib.oauth2.rfc7636.challenge import compare_s256_code_challenge
from fastapi import FastAPI, Header, HTTPException, Request
from fastapi.responses import JSONResponse, RedirectResponse
from joserfc import jwt
from joserfc.jwk import KeySet, OctKey, RSAKey

from pairview.server.runner import bind_socket

CLIENT_ID = "pairview-test-client"
CLIENT_SECRET = "pairview-test-secret"


@dataclass
class Grant:
    provider: str
    client_id: str
    redirect_uri: str
    challenge: str | None
    method: str | None
    nonce: str | None
    used: bool = False


@dataclass
class ProviderState:
    github_user: dict[str, Any] = field(
        default_factory=lambda: {"id": 4242, "login": "octocat", "name": "Octo Cat"}
    )
    slack_user: dict[str, str] = field(
        default_factory=lambda: {"id": "U0042", "name": "Slack Sam", "team": "T0007"}
    )
    oidc_subject: str = "oidc-subject-1"
    id_token_mode: str = "valid"
    grants: dict[str, Grant] = field(default_factory=dict)
    tokens: dict[str, str] = field(default_factory=dict)
    requests: list[str] = field(default_factory=list)
    key: RSAKey = field(default_factory=lambda: RSAKey.generate_key(2048, parameters={"kid": "k1"}))
    other_key: RSAKey = field(
        default_factory=lambda: RSAKey.generate_key(2048, parameters={"kid": "k1"})
    )


async def form_of(request: Request) -> dict[str, str]:
    """Parse an application/x-www-form-urlencoded body, as OAuth token requests send."""
    return dict(parse_qsl((await request.body()).decode()))


class ProviderServer:
    def __init__(self) -> None:
        self.state = ProviderState()
        self.url = ""
        self.app = self._build()

    @property
    def issuer(self) -> str:
        return f"{self.url}/oidc"

    def settings(self) -> dict[str, Any]:
        """ServerSettings fields that point every provider at this server."""
        return {
            "github_client_id": CLIENT_ID,
            "github_client_secret": CLIENT_SECRET,
            "github_url": f"{self.url}/github",
            "github_api_url": f"{self.url}/github-api",
            "slack_client_id": CLIENT_ID,
            "slack_client_secret": CLIENT_SECRET,
            "slack_url": f"{self.url}/slack",
            "oidc_issuer": self.issuer,
            "oidc_client_id": CLIENT_ID,
            "oidc_client_secret": CLIENT_SECRET,
        }

    def _authorize(self, provider: str, params: dict[str, str]) -> RedirectResponse:
        if params.get("client_id") != CLIENT_ID or params.get("response_type") != "code":
            raise HTTPException(400, "unknown client or response type")
        code = secrets.token_urlsafe(16)
        self.state.grants[code] = Grant(
            provider,
            params["client_id"],
            params["redirect_uri"],
            params.get("code_challenge"),
            params.get("code_challenge_method"),
            params.get("nonce"),
        )
        query = urlencode({"code": code, "state": params.get("state", "")})
        return RedirectResponse(f"{params['redirect_uri']}?{query}", status_code=302)

    def _redeem(self, provider: str, form: dict[str, str], client_id: str | None) -> Grant | None:
        """Return the grant for a valid token request, or None; a code works once."""
        grant = self.state.grants.get(form.get("code", ""))
        if grant is None or grant.provider != provider or grant.used:
            return None
        grant.used = True
        if client_id != CLIENT_ID or grant.redirect_uri != form.get("redirect_uri"):
            return None
        if grant.challenge is None or grant.method != "S256":
            return None
        verifier = form.get("code_verifier", "")
        if not compare_s256_code_challenge(verifier, grant.challenge):  # type: ignore[no-untyped-call]
            return None
        return grant

    def _id_token(self, grant: Grant) -> str:
        now = int(time.time())
        mode = self.state.id_token_mode
        claims: dict[str, Any] = {
            "iss": self.issuer,
            "sub": self.state.oidc_subject,
            "aud": CLIENT_ID,
            "iat": now,
            "exp": now + 300,
            "nonce": grant.nonce,
            "email": "sso.user@example.org",
            "name": "Sso User",
        }
        if mode == "wrong-nonce":
            claims["nonce"] = "another-nonce"
        elif mode == "wrong-audience":
            claims["aud"] = "another-client"
        elif mode == "other-client":
            claims["aud"] = [CLIENT_ID, "another-client"]
            claims["azp"] = "another-client"
        elif mode == "expired":
            claims["iat"] = now - 7200
            claims["exp"] = now - 3600
        elif mode == "wrong-issuer":
            claims["iss"] = f"{self.url}/elsewhere"
        elif mode == "missing-nonce":
            del claims["nonce"]
        if mode == "alg-none":
            header = base64.urlsafe_b64encode(b'{"alg":"none","typ":"JWT"}').rstrip(b"=")
            body = jwt.encode({"alg": "RS256", "kid": "k1"}, claims, self.state.key).split(".")[1]
            return f"{header.decode()}.{body}."
        if mode == "hs256":
            secret = OctKey.import_key(CLIENT_SECRET.encode())
            return jwt.encode({"alg": "HS256"}, claims, secret, algorithms=["HS256"])
        key = self.state.other_key if mode == "bad-signature" else self.state.key
        return jwt.encode({"alg": "RS256", "kid": "k1"}, claims, key)

    def _build(self) -> FastAPI:
        app = FastAPI()
        state = self.state

        @app.middleware("http")
        async def record(request: Request, call_next: Any) -> Any:
            state.requests.append(request.url.path)
            return await call_next(request)

        # GitHub

        @app.get("/github/login/oauth/authorize")
        async def github_authorize(request: Request) -> RedirectResponse:
            return self._authorize("github", dict(request.query_params))

        @app.post("/github/login/oauth/access_token")
        async def github_token(request: Request) -> JSONResponse:
            form = await form_of(request)
            if form.get("client_secret") != CLIENT_SECRET:
                return JSONResponse({"error": "incorrect_client_credentials"})
            if self._redeem("github", form, form.get("client_id")) is None:
                return JSONResponse({"error": "bad_verification_code"})
            token = "gho_" + secrets.token_urlsafe(20)
            state.tokens[token] = "github"
            return JSONResponse({"access_token": token, "token_type": "bearer", "scope": ""})

        @app.get("/github-api/user")
        async def github_user(authorization: str = Header("")) -> JSONResponse:
            token = authorization.removeprefix("Bearer ")
            if state.tokens.get(token) != "github":
                return JSONResponse({"message": "Bad credentials"}, status_code=401)
            return JSONResponse({**state.github_user, "email": "same@example.org"})

        # Slack

        @app.get("/slack/oauth/v2/authorize")
        async def slack_authorize(request: Request) -> RedirectResponse:
            return self._authorize("slack", dict(request.query_params))

        @app.post("/slack/api/oauth.v2.access")
        async def slack_token(request: Request) -> JSONResponse:
            form = await form_of(request)
            if form.get("client_secret") != CLIENT_SECRET:
                return JSONResponse({"ok": False, "error": "invalid_client"})
            if self._redeem("slack", form, form.get("client_id")) is None:
                return JSONResponse({"ok": False, "error": "invalid_code"})
            token = "xoxp-" + secrets.token_urlsafe(20)
            state.tokens[token] = "slack"
            user = state.slack_user
            return JSONResponse(
                {
                    "ok": True,
                    "authed_user": {"id": user["id"], "access_token": token, "token_type": "user"},
                    "team": {"id": user["team"]},
                }
            )

        @app.get("/slack/api/users.identity")
        async def slack_identity(authorization: str = Header("")) -> JSONResponse:
            token = authorization.removeprefix("Bearer ")
            if state.tokens.get(token) != "slack":
                return JSONResponse({"ok": False, "error": "invalid_auth"})
            user = state.slack_user
            return JSONResponse(
                {
                    "ok": True,
                    "user": {"id": user["id"], "name": user["name"]},
                    "team": {"id": user["team"]},
                }
            )

        # OpenID Connect

        @app.get("/oidc/.well-known/openid-configuration")
        async def discovery() -> dict[str, Any]:
            return {
                "issuer": self.issuer,
                "authorization_endpoint": f"{self.issuer}/authorize",
                "token_endpoint": f"{self.issuer}/token",
                "jwks_uri": f"{self.issuer}/jwks",
                "response_types_supported": ["code"],
                "subject_types_supported": ["public"],
                "id_token_signing_alg_values_supported": ["RS256"],
            }

        @app.get("/oidc/jwks")
        async def jwks() -> dict[str, Any]:
            return dict(KeySet([state.key]).as_dict(private=False))

        @app.get("/oidc/authorize")
        async def oidc_authorize(request: Request) -> RedirectResponse:
            return self._authorize("oidc", dict(request.query_params))

        @app.post("/oidc/token")
        async def oidc_token(
            request: Request,
            authorization: str = Header(""),
        ) -> JSONResponse:
            scheme, _, encoded = authorization.partition(" ")
            client_id, _, secret = base64.b64decode(encoded).decode().partition(":")
            if scheme != "Basic" or secret != CLIENT_SECRET:
                return JSONResponse({"error": "invalid_client"}, status_code=401)
            form = await form_of(request)
            grant = self._redeem("oidc", form, client_id)
            if form.get("grant_type") != "authorization_code" or grant is None:
                return JSONResponse({"error": "invalid_grant"}, status_code=400)
            return JSONResponse(
                {
                    "access_token": secrets.token_urlsafe(20),
                    "token_type": "Bearer",
                    "expires_in": 300,
                    "id_token": self._id_token(grant),
                }
            )

        return app


@contextlib.asynccontextmanager
async def provider_server() -> AsyncIterator[ProviderServer]:
    """Run the provider server on a free loopback port for the duration of a test."""
    provider = ProviderServer()
    sock = bind_socket("127.0.0.1", 0)
    provider.url = f"http://127.0.0.1:{sock.getsockname()[1]}"
    config = uvicorn.Config(provider.app, log_config=None, access_log=False, lifespan="off")
    server = uvicorn.Server(config)
    task = asyncio.create_task(server.serve(sockets=[sock]))
    while not server.started:
        if task.done():
            task.result()
        await asyncio.sleep(0.02)
    try:
        yield provider
    finally:
        server.should_exit = True
        await task
