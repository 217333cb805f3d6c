"""``annolog keys`` and ``annolog token``: a development key pair and JWTs signed with it."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import jwt
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa

CURVES = {"ES256": ec.SECP256R1(), "ES512": ec.SECP521R1()}
CURVE_ALGORITHMS = {"secp256r1": "ES256", "secp521r1": "ES512"}


def generate_keys(algorithm: str) -> tuple[bytes, bytes]:
    """(private PEM, public PEM) for one of RS256, RS512, ES256, ES512."""
    private: ec.EllipticCurvePrivateKey | rsa.RSAPrivateKey
    if algorithm in CURVES:
        private = ec.generate_private_key(CURVES[algorithm])
    else:
        private = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    private_pem = private.private_bytes(serialization.Encoding.PEM,
                                        serialization.PrivateFormat.PKCS8,
                                        serialization.NoEncryption())
    public_pem = private.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
    return private_pem, public_pem


def write_keys(directory: Path, algorithm: str, force: bool = False) -> tuple[Path, Path]:
    private_path, public_path = directory / "jwt-private.pem", directory / "jwt-public.pem"
    if not force and (private_path.exists() or public_path.exists()):
        raise FileExistsError(f"{private_path} or {public_path} exists; pass --force to "
                              "replace them")
    directory.mkdir(parents=True, exist_ok=True)
    private_pem, public_pem = generate_keys(algorithm)
    private_path.write_bytes(private_pem)
    private_path.chmod(0o600)
    public_path.write_bytes(public_pem)
    return private_path, public_path


def mint(private_key: Any, algorithm: str, claims: dict[str, Any], expires_in: int) -> str:
    now = int(time.time())
    payload = {k: v for k, v in claims.items() if v is not None}
    payload.setdefault("exp", now + expires_in)
    return jwt.encode(payload, private_key, algorithm=algorithm)


class KeyProblem(Exception):
    """A private key that cannot sign the token asked for, with what to do."""


def signing_key(path: Path, algorithm: str | None) -> tuple[Any, str]:
    """The private key at ``path`` and the algorithm to sign with: the one asked for when it
    fits the key, else the one the key implies (RSA: RS256; P-256: ES256; P-521: ES512)."""
    try:
        key = serialization.load_pem_private_key(path.read_bytes(), password=None)
    except FileNotFoundError:
        raise KeyProblem(f"no private key at {path}; create a pair with `annolog keys` or "
                         "name one with --private-key") from None
    except (ValueError, TypeError) as error:
        raise KeyProblem(f"{path} is not an unencrypted PEM private key ({error})") from None
    fitting: tuple[str, ...]
    if isinstance(key, rsa.RSAPrivateKey):
        implied, fitting = "RS256", ("RS256", "RS512")
    elif isinstance(key, ec.EllipticCurvePrivateKey) and key.curve.name in CURVE_ALGORITHMS:
        implied = CURVE_ALGORITHMS[key.curve.name]
        fitting = (implied,)
    else:
        raise KeyProblem(f"{path} holds a key annolog cannot sign with: use RSA or EC P-256 "
                         "or P-521 (annolog keys makes one)")
    if algorithm is not None and algorithm not in fitting:
        raise KeyProblem(f"{path} holds a key for {' or '.join(fitting)}, not {algorithm}")
    return key, algorithm or implied
