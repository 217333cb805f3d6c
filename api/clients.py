"""Client JWTs: browser callers limited to one document, one layer and their permissions."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import jwt
from aiohttp import web
from cryptography.hazmat.primitives.serialization import load_pem_public_key

from api.errors import ApiError
from eventstore.commands import HIDDEN
from eventstore.permissions import Collaboration, PermissionSyntaxError

ALGORITHMS = ("RS256", "RS512", "ES256", "ES512")
PERMISSIONS = frozenset({"read-document", "write", "download", "cover-image"})
LEEWAY_SECONDS = 10


@dataclass(frozen=True)
class JwtConfig:
    """The verification key and the one algorithm accepted, fixed by configuration."""

    key: Any
    algorithm: str

    @classmethod
    def load(cls, public_key: str | None, algorithm: str | None) -> JwtConfig | None:
        """From JWT_PUBLIC_KEY (PEM text, or a path to a PEM file) and JWT_ALGORITHM."""
        if not public_key:
            return None
        algorithm = algorithm or "RS256"
        if algorithm not in ALGORITHMS:
            raise SystemExit(f"JWT_ALGORITHM must be one of {', '.join(ALGORITHMS)} "
                             f"(asymmetric only), not {algorithm!r}")
        pem = public_key.replace("\\n", "\n")
        if "-----BEGIN" not in pem:
            pem = Path(pem).read_text()
        try:
            return cls(load_pem_public_key(pem.encode()), algorithm)
        except ValueError as error:
            raise SystemExit(f"JWT_PUBLIC_KEY is not a PEM public key: {error}") from None


@dataclass(frozen=True)
class Client:
    """What a verified client JWT allows."""

    document_id: str
    permissions: frozenset[str]
    user_id: str | None
    layer: str
    default_group: str | None
    creator_name: str | None
    password: str | None
    jti: str | None
    collaboration: Collaboration | None
    expires: int | None = None  # the `exp` claim: refused from exp + LEEWAY_SECONDS on

    def expired(self, now: float) -> bool:
        return self.expires is not None and now > self.expires + LEEWAY_SECONDS

    def sees(self, record: dict[str, Any], content_type: str = "annotations") -> bool:
        return self.collaboration is None or self.collaboration.can("view", record,
                                                                    content_type)

    def may(self, action: str, record: dict[str, Any], content_type: str = "annotations"
            ) -> bool:
        if "write" not in self.permissions:
            return False
        return self.collaboration is None or self.collaboration.can(action, record,
                                                                    content_type)

    def may_set_group(self, record: dict[str, Any], target: str | None,
                      content_type: str = "annotations") -> bool:
        if "write" not in self.permissions:
            return False
        return self.collaboration is None or self.collaboration.can_set_group(
            record, target, content_type)

    def decorate(self, record: dict[str, Any] | None, content_type: str = "annotations"
                 ) -> dict[str, Any] | None:
        """The record with the flags a client shows (extension); an annotation also says
        whether its comment thread takes this caller's replies."""
        return None if record is None else self.decorated(record, content_type)

    def decorated(self, record: dict[str, Any], content_type: str = "annotations"
                  ) -> dict[str, Any]:
        flags = {"isEditable": self.may("edit", record, content_type),
                 "isDeletable": self.may("delete", record, content_type),
                 "canSetGroup": self.may_set_group(record, record.get("group"), content_type)}
        if content_type == "annotations":
            flags["canReply"] = self.may("reply", record, "comments")
        return {**record, **flags}

    def edit_guard(self, target_group: str | None, changes_group: bool,
                   content_type: str = "annotations") -> Any:
        """A check the writer runs on the record as it is when the update is decided."""
        noun = NOUNS[content_type]

        def guard(record: dict[str, Any]) -> object:
            if not self.sees(record, content_type):
                return HIDDEN
            if not self.may("edit", record, content_type):
                return f"you may not edit {noun} {record['id']!r}"
            if changes_group and target_group != record.get("group") and \
                    not self.may_set_group(record, target_group, content_type):
                return f"you may not move {noun} {record['id']!r} to group {target_group!r}"
            return None
        return guard

    def delete_guard(self, content_type: str = "annotations") -> Any:
        noun = NOUNS[content_type]

        def guard(record: dict[str, Any]) -> object:
            if not self.sees(record, content_type):
                return HIDDEN
            if not self.may("delete", record, content_type):
                return f"you may not delete {noun} {record['id']!r}"
            return None
        return guard

    def exists_guard(self) -> Any:
        """For creates: a live record the caller cannot see must not reveal itself."""
        def guard(record: dict[str, Any]) -> object:
            return None if self.sees(record) else HIDDEN
        return guard

    def reply_guard(self) -> Any:
        """For comments: the caller must see the root annotation and may reply to its
        thread (the ``reply`` scope is judged on the root)."""
        def guard(root: dict[str, Any]) -> object:
            if not self.sees(root):
                return HIDDEN
            if not self.may("reply", root, "comments"):
                return f"you may not reply to the comments of annotation {root['id']!r}"
            return None
        return guard


NOUNS = {"annotations": "annotation", "comments": "comment", "form-fields": "form field"}


def _claim(claims: dict[str, Any], name: str, kinds: type | tuple, required: bool = False
           ) -> Any:
    value = claims.get(name)
    if value is None:
        if required:
            raise ApiError(401, f"the JWT has no `{name}` claim")
        return None
    if not isinstance(value, kinds):
        raise ApiError(401, f"Invalid `{name}` claim in JWT: wrong type")
    return value


def decode_client(token: str, config: JwtConfig | None) -> Client:
    """Verify a client JWT; any problem is a 401 with a reason a developer can act on."""
    if config is None:
        raise ApiError(401, "client JWTs are not enabled on this server (JWT_PUBLIC_KEY unset)")
    claims = _verified_claims(token, config)
    document_id = _claim(claims, "document_id", str, required=True)
    permissions = _claim(claims, "permissions", list, required=True)
    unknown = [p for p in permissions if p not in PERMISSIONS]
    if unknown:
        raise ApiError(401, f"Invalid `permissions` claim in JWT: unknown {unknown!r}; "
                            f"expected some of {sorted(PERMISSIONS)}")
    user_id = _claim(claims, "user_id", str)
    collaboration = None
    strings = claims.get("collaboration_permissions")
    if strings is not None:
        try:
            parsed = Collaboration.parse(strings, user_id or "")
        except PermissionSyntaxError as error:
            raise ApiError(401, f"Invalid `collaboration_permissions` claim in JWT: {error}"
                           ) from None
        collaboration = parsed if user_id is not None else None
    return Client(
        document_id=document_id, permissions=frozenset(permissions), user_id=user_id,
        layer=_claim(claims, "layer", str) or "",
        default_group=_claim(claims, "default_group", str),
        creator_name=_claim(claims, "creator_name", str),
        password=_claim(claims, "password", str), jti=_claim(claims, "jti", str),
        collaboration=collaboration, expires=_claim(claims, "exp", int))


def _verified_claims(token: str, config: JwtConfig, *, verify_exp: bool = True
                     ) -> dict[str, Any]:
    try:
        return jwt.decode(token, config.key, algorithms=[config.algorithm],
                          leeway=LEEWAY_SECONDS,
                          options={"require": ["exp"] if verify_exp else [],
                                   "verify_exp": verify_exp, "verify_aud": False})
    except jwt.ExpiredSignatureError:
        raise ApiError(401, "Invalid `exp` claim in JWT: Expiration time is in the past"
                       ) from None
    except jwt.ImmatureSignatureError:
        raise ApiError(401, "Invalid `nbf` claim in JWT: The token is not valid yet") from None
    except jwt.MissingRequiredClaimError as error:
        raise ApiError(401, f"the JWT has no `{error.claim}` claim") from None
    except jwt.InvalidAlgorithmError:
        raise ApiError(401, f"the JWT is not signed with {config.algorithm} (JWT_ALGORITHM)"
                       ) from None
    except jwt.InvalidSignatureError:
        raise ApiError(401, "the JWT signature does not verify with JWT_PUBLIC_KEY") from None
    except jwt.InvalidTokenError as error:
        raise ApiError(401, f"invalid JWT: {error}") from None


def revocable_jti(token: str, config: JwtConfig | None) -> tuple[str, int | None]:
    """The jti (and exp) of a token to revoke: the signature must verify, expiry does not
    matter."""
    if config is None:
        raise ApiError(401, "client JWTs are not enabled on this server (JWT_PUBLIC_KEY unset)")
    claims = _verified_claims(token, config, verify_exp=False)
    jti = claims.get("jti")
    if not isinstance(jti, str) or not jti:
        raise ApiError(422, "the JWT has no `jti` claim, so it cannot be revoked")
    exp = claims.get("exp")
    return jti, exp if isinstance(exp, int) else None


CLIENT = web.RequestKey("client", Client)  # the JWT caller of a request
