"""Single sign-on with any OpenID Connect provider (authorization code flow, PKCE, nonce).

The ID token is checked here before anything is trusted: its signature
against the provider's published keys (asymmetric algorithms only, never
`none`), its issuer, its audience (this client, and `azp` when there are
several), its expiry and issue time, and the nonce of this very sign-in.
Only the subject is kept.
"""

from __future__ import annotations

import time
from typing import Any

import httpx
from joserfc import jwt
from joserfc.errors import JoseError
from joserfc.jwk import KeySet
from joserfc.jws import extract_compact

from pairview.server.accounts.oauth import authorization_url
from pairview.server.accounts.providers import (
    ExternalAccount,
    Flow,
    ProviderError,
    http_client,
    json_object,
)

# Symmetric algorithms would make the client secret a signing key; `none` signs nothing.
ALLOWED_ALGORITHMS = (
    "RS256",
    "RS384",
    "RS512",
    "PS256",
    "PS384",
    "PS512",
    "ES256",
    "ES384",
    "ES512",
    "EdDSA",
)
# Clock difference tolerated between this server and the provider, in seconds.
LEEWAY = 60
METADATA_MAX_AGE = 3600.0


class OpenIdConnect:
    key = "sso"

    def __init__(self, issuer: str, client_id: str, client_secret: str, label: str) -> None:
        self.issuer = issuer
        self.label = label
        self._client_id = client_id
        self._client_secret = client_secret
        self._metadata: dict[str, Any] | None = None
        self._metadata_at = 0.0
        self._keys: KeySet | None = None

    @property
    def provider(self) -> str:
        """The identity key's provider part: subjects are unique per issuer only."""
        return f"oidc:{self.issuer}"

    async def authorization_url(self, redirect_uri: str, flow: Flow) -> str:
        metadata = await self._discover()
        return authorization_url(
            str(metadata["authorization_endpoint"]),
            self._client_id,
            redirect_uri,
            flow,
            scope="openid",
            nonce=flow.nonce,
        )

    async def complete(self, code: str, redirect_uri: str, flow: Flow) -> ExternalAccount:
        metadata = await self._discover()
        async with http_client() as client:
            response = await client.post(
                str(metadata["token_endpoint"]),
                data={
                    "grant_type": "authorization_code",
                    "code": code,
                    "redirect_uri": redirect_uri,
                    "code_verifier": flow.code_verifier,
                },
                auth=httpx.BasicAuth(self._client_id, self._client_secret),
                headers={"Accept": "application/json"},
            )
        token = json_object(response, "SSO token request")
        id_token = token.get("id_token")
        if not isinstance(id_token, str):
            raise ProviderError(f"the SSO provider returned no ID token: {token.get('error')}")
        claims = await self.validate_id_token(id_token, flow.nonce)
        return ExternalAccount(self.provider, claims["sub"], None, None)

    async def validate_id_token(
        self, id_token: str, nonce: str, now: float | None = None
    ) -> dict[str, Any]:
        """Return the ID token's claims once every check passes, or raise ProviderError."""
        metadata = await self._discover()
        try:
            header = extract_compact(id_token.encode()).protected
        except (JoseError, ValueError):
            raise ProviderError("the ID token is not a compact JWS") from None
        algorithm = header.get("alg")
        offered = metadata.get("id_token_signing_alg_values_supported") or ["RS256"]
        if algorithm not in ALLOWED_ALGORITHMS or algorithm not in offered:
            raise ProviderError(f"ID token algorithm {str(algorithm)[:20]!r} is not accepted")

        keys = await self._key_set(refresh=False)
        try:
            decoded = jwt.decode(id_token, keys, algorithms=[algorithm])
        except JoseError:
            # The provider may have rotated its keys since they were fetched.
            keys = await self._key_set(refresh=True)
            try:
                decoded = jwt.decode(id_token, keys, algorithms=[algorithm])
            except JoseError:
                raise ProviderError("the ID token's signature is not valid") from None

        claims = decoded.claims
        registry = jwt.JWTClaimsRegistry(
            now=int(now if now is not None else time.time()),
            leeway=LEEWAY,
            iss={"essential": True, "value": self.issuer},
            sub={"essential": True},
            aud={"essential": True, "value": self._client_id},
            exp={"essential": True},
            iat={"essential": True},
            nonce={"essential": True, "value": nonce},
        )
        try:
            registry.validate(claims)
        except JoseError as error:
            raise ProviderError(f"the ID token failed a check: {error.error}") from None
        audience = claims["aud"]
        if (
            isinstance(audience, list)
            and len(audience) > 1
            and claims.get("azp") != self._client_id
        ):
            raise ProviderError("the ID token was issued to another client (azp)")
        subject = claims["sub"]
        if not isinstance(subject, str) or not 0 < len(subject) <= 255:
            raise ProviderError("the ID token's subject is empty or too long")
        return claims

    async def _discover(self) -> dict[str, Any]:
        if self._metadata is not None and time.monotonic() - self._metadata_at < METADATA_MAX_AGE:
            return self._metadata
        async with http_client() as client:
            response = await client.get(f"{self.issuer}/.well-known/openid-configuration")
        metadata = json_object(response, "SSO discovery")
        if metadata.get("issuer") != self.issuer:
            raise ProviderError("the SSO discovery document names another issuer")
        for name in ("authorization_endpoint", "token_endpoint", "jwks_uri"):
            if not isinstance(metadata.get(name), str):
                raise ProviderError(f"the SSO discovery document has no {name}")
        self._metadata = dict(metadata)
        self._metadata_at = time.monotonic()
        self._keys = None
        return self._metadata

    async def _key_set(self, refresh: bool) -> KeySet:
        if self._keys is not None and not refresh:
            return self._keys
        metadata = await self._discover()
        async with http_client() as client:
            response = await client.get(str(metadata["jwks_uri"]))
        document = json_object(response, "SSO key set request")
        try:
            self._keys = KeySet.import_key_set(document)  # type: ignore[arg-type]
        except (JoseError, ValueError, TypeError):
            raise ProviderError("the SSO key set is not valid") from None
        return self._keys
