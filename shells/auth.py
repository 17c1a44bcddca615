"""Who is asking, and in which role: bearer tokens checked on every request.

Two kinds of token, either or both configured in `[auth]`:
- OIDC access tokens (JWT) from the configured issuer, verified by PyJWT against the issuer's JWKS:
  signature, issuer, audience, expiry. The person is the `name_claim`, the role the first reconstream
  role found in the `role_claim` (a string or a list).
- API keys from a file, for the embedded default: the file holds each key's SHA-256, never the key
  (`recon keys add` writes an entry and prints the key once).

Pages carry the same token in an HttpOnly, SameSite=Strict cookie set by the login form, and every form
posts a CSRF value derived from it. Without any `[auth]` the service serves only loopback, as the local
operator (`recon serve` refuses another address). Tokens and keys never appear in logs, errors or pages.
"""

from __future__ import annotations

import hashlib
import hmac
import tomllib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from reconstream.models.cases import Role
from reconstream.models.errors import ReconError

LOCAL_OPERATOR_NAME = "local-operator"


@dataclass(frozen=True, slots=True)
class Principal:
    name: str
    role: Role


LOCAL_OPERATOR = Principal(LOCAL_OPERATOR_NAME, Role.ADMIN)


class AuthError(ReconError):
    """A token was refused. The message says why in general terms, never echoing the token."""


def key_digest(key: str) -> str:
    return hashlib.sha256(key.encode()).hexdigest()


class ApiKeys:
    """API keys by their SHA-256: `[[keys]]` tables with `name`, `role` and `sha256` in a TOML file."""

    def __init__(self, entries: dict[str, Principal]) -> None:
        self._by_digest = entries

    @classmethod
    def load(cls, path: Path) -> ApiKeys:
        try:
            document = tomllib.loads(path.read_text())
        except OSError as exc:
            raise AuthError(f"auth.api_keys_file: cannot read {path} ({exc.strerror})") from None
        except tomllib.TOMLDecodeError as exc:
            raise AuthError(f"auth.api_keys_file: {path} is not valid TOML ({exc})") from None
        entries: dict[str, Principal] = {}
        for number, entry in enumerate(document.get("keys", [])):
            try:
                digest, role = str(entry["sha256"]).lower(), Role(entry["role"])
                name = str(entry["name"])
            except (KeyError, ValueError, TypeError):
                raise AuthError(
                    f"auth.api_keys_file: keys.{number} needs name, a role ({', '.join(Role)}) and sha256"
                ) from None
            if len(digest) != 64 or any(c not in "0123456789abcdef" for c in digest):
                raise AuthError(f"auth.api_keys_file: keys.{number}.sha256 is not a SHA-256 hex digest")
            entries[digest] = Principal(name, role)
        return cls(entries)

    def lookup(self, key: str) -> Principal | None:
        digest = key_digest(key)
        for known, principal in self._by_digest.items():
            if hmac.compare_digest(known, digest):
                return principal
        return None


@dataclass(frozen=True)
class OidcSettings:
    issuer: str
    audience: str
    jwks_url: str
    role_claim: str = "roles"
    name_claim: str = "preferred_username"
    algorithms: tuple[str, ...] = ("RS256", "ES256", "PS256")
    leeway_seconds: int = 30


class OidcVerifier:
    def __init__(self, settings: OidcSettings) -> None:
        import jwt  # here: only a service with OIDC configured loads PyJWT and its crypto

        self.settings = settings
        # PyJWT's client caches the issuer's keys and fetches them again for a key id it does not know.
        self._keys = jwt.PyJWKClient(settings.jwks_url, cache_keys=True, lifespan=3600, timeout=10)

    def verify(self, token: str) -> Principal:
        import jwt

        settings = self.settings
        try:
            key = self._keys.get_signing_key_from_jwt(token)
            claims: dict[str, Any] = jwt.decode(
                token,
                key.key,
                algorithms=list(settings.algorithms),
                audience=settings.audience,
                issuer=settings.issuer,
                leeway=settings.leeway_seconds,
                options={"require": ["exp", "iss", "aud"]},
            )
        except jwt.ExpiredSignatureError:
            raise AuthError("the token has expired") from None
        except jwt.PyJWKClientError:
            raise AuthError("the token's signing key is not one of the issuer's keys") from None
        except jwt.InvalidTokenError as exc:
            raise AuthError(f"the token was refused: {type(exc).__name__}") from None
        name = claims.get(settings.name_claim) or claims.get("sub")
        if not isinstance(name, str) or not name:
            raise AuthError(f"the token names no person ({settings.name_claim} or sub)")
        return Principal(name, _role_in(claims.get(settings.role_claim), settings.role_claim))


def _role_in(claim: Any, claim_name: str) -> Role:
    values = claim if isinstance(claim, list) else [claim]
    for value in values:
        if isinstance(value, str) and value in Role.__members__.values():
            return Role(value)
    raise AuthError(f"the token's {claim_name} claim holds no reconstream role ({', '.join(Role)})")


class Authenticator:
    def __init__(self, api_keys: ApiKeys | None = None, oidc: OidcVerifier | None = None) -> None:
        self.api_keys = api_keys
        self.oidc = oidc

    @property
    def configured(self) -> bool:
        return self.api_keys is not None or self.oidc is not None

    def authenticate(self, token: str) -> Principal:
        if self.oidc is not None and token.count(".") == 2:
            return self.oidc.verify(token)
        if self.api_keys is not None:
            found = self.api_keys.lookup(token)
            if found is not None:
                return found
        raise AuthError("unknown token")


def csrf_value(token: str) -> str:
    """The value a page's forms post back: tied to the session's token, useless to another site."""
    return hashlib.sha256(b"recon-csrf\x00" + token.encode()).hexdigest()[:32]
