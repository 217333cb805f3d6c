"""``annolog keys`` and ``annolog token``: a development key pair and JWTs signed with it."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import jwt
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa

CURVES = {"ES256": ec.SECP256R1(), "ES512": ec.SECP521R1()}


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


def mint(private_key: str, algorithm: str, claims: dict[str, Any], expires_in: int) -> str:
    now = int(time.time())
    payload = {k: v for k, v in claims.items() if v is not None}
    payload.setdefault("exp", now + expires_in)
    return jwt.encode(payload, private_key, algorithm=algorithm)
