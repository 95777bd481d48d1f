"""Sign in with GitHub and with Slack: OAuth 2 authorization code flow with PKCE (S256).

Authlib builds the authorization request and the PKCE challenge; the
token request goes through httpx. Only the provider's user id and the
access token are kept.
"""

from __future__ import annotations

from authlib.oauth2.rfc6749.parameters import prepare_grant_uri
from authlib.oauth2.rfc7636 import create_s256_code_challenge

from pairview.server.accounts.providers import (
    ExternalAccount,
    Flow,
    ProviderError,
    http_client,
    json_object,
)


def authorization_url(
    endpoint: str, client_id: str, redirect_uri: str, flow: Flow, **extra: str
) -> str:
    url: str = prepare_grant_uri(
        endpoint,
        client_id=client_id,
        response_type="code",
        redirect_uri=redirect_uri,
        state=flow.state,
        code_challenge=create_s256_code_challenge(flow.code_verifier),  # type: ignore[no-untyped-call]
        code_challenge_method="S256",
        **extra,
    )
    return url


def token_request(
    client_id: str, client_secret: str, code: str, redirect_uri: str, flow: Flow
) -> dict[str, str]:
    return {
        "grant_type": "authorization_code",
        "client_id": client_id,
        "client_secret": client_secret,
        "code": code,
        "redirect_uri": redirect_uri,
        "code_verifier": flow.code_verifier,
    }


class GitHub:
    key = "github"
    label = "GitHub"

    def __init__(self, client_id: str, client_secret: str, web_url: str, api_url: str) -> None:
        self._client_id = client_id
        self._client_secret = client_secret
        self._web_url = web_url
        self._api_url = api_url

    async def authorization_url(self, redirect_uri: str, flow: Flow) -> str:
        # No scope: the public profile, which carries the user id, needs none.
        return authorization_url(
            f"{self._web_url}/login/oauth/authorize", self._client_id, redirect_uri, flow
        )

    async def complete(self, code: str, redirect_uri: str, flow: Flow) -> ExternalAccount:
        async with http_client() as client:
            response = await client.post(
                f"{self._web_url}/login/oauth/access_token",
                data=token_request(self._client_id, self._client_secret, code, redirect_uri, flow),
                headers={"Accept": "application/json"},
            )
            token = json_object(response, "GitHub token request")
            access_token = token.get("access_token")
            if not isinstance(access_token, str) or not access_token:
                raise ProviderError(f"GitHub rejected the code: {token.get('error', 'no token')}")
            response = await client.get(
                f"{self._api_url}/user",
                headers={
                    "Authorization": f"Bearer {access_token}",
                    "Accept": "application/vnd.github+json",
                },
            )
            profile = json_object(response, "GitHub user request")
        user_id = profile.get("id")
        if not isinstance(user_id, int) or isinstance(user_id, bool):
            raise ProviderError("GitHub's user has no numeric id")
        name = profile.get("name") or profile.get("login")
        return ExternalAccount(
            "github", str(user_id), access_token, name if isinstance(name, str) else None
        )


class Slack:
    """Sign in with Slack (OAuth v2 with the `identity.basic` user scope)."""

    key = "slack"
    label = "Slack"

    def __init__(self, client_id: str, client_secret: str, web_url: str) -> None:
        self._client_id = client_id
        self._client_secret = client_secret
        self._web_url = web_url

    async def authorization_url(self, redirect_uri: str, flow: Flow) -> str:
        return authorization_url(
            f"{self._web_url}/oauth/v2/authorize",
            self._client_id,
            redirect_uri,
            flow,
            user_scope="identity.basic",
        )

    async def complete(self, code: str, redirect_uri: str, flow: Flow) -> ExternalAccount:
        async with http_client() as client:
            response = await client.post(
                f"{self._web_url}/api/oauth.v2.access",
                data=token_request(self._client_id, self._client_secret, code, redirect_uri, flow),
            )
            token = json_object(response, "Slack token request")
            if token.get("ok") is not True:
                raise ProviderError(f"Slack rejected the code: {token.get('error', 'not ok')}")
            authed_user = token.get("authed_user")
            if not isinstance(authed_user, dict):
                raise ProviderError("Slack's token response has no authed_user")
            user_id = authed_user.get("id")
            access_token = authed_user.get("access_token")
            if not isinstance(user_id, str) or not isinstance(access_token, str):
                raise ProviderError("Slack's token response has no user id or user token")
            response = await client.get(
                f"{self._web_url}/api/users.identity",
                headers={"Authorization": f"Bearer {access_token}"},
            )
            identity = json_object(response, "Slack identity request")
        user = identity.get("user")
        team = identity.get("team")
        if (
            identity.get("ok") is not True
            or not isinstance(user, dict)
            or not isinstance(team, dict)
            or user.get("id") != user_id
            or not isinstance(team.get("id"), str)
        ):
            raise ProviderError("Slack's identity does not match the token's user")
        # Slack user ids are unique within a workspace, so the subject names both.
        name = user.get("name")
        return ExternalAccount(
            "slack",
            f"{team['id']}/{user_id}",
            access_token,
            name if isinstance(name, str) else None,
        )
