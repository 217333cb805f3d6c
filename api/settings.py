"""Configuration from the environment, with the commercial server's names where one exists."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from aiohttp import web

from api.cors import parse_origins

DEVELOPMENT_TOKEN = "secret"
EVERYWHERE = "0.0.0.0"
LOOPBACK = "127.0.0.1"  # where a server with the well-known development token listens


@dataclass(frozen=True)
class Settings:
    data_dir: Path
    api_token: str
    token_is_default: bool = False
    host: str = EVERYWHERE
    port: int = 5000
    max_upload_bytes: int = 1_000_000_000
    max_json_bytes: int = 64 * 1024 * 1024
    max_batch: int = 50_000
    max_attachment_bytes: int = 100 * 1024 * 1024
    write_timeout: float = 60.0
    jwt_public_key: str | None = None
    jwt_algorithm: str | None = None
    sync_queue_size: int = 10_000  # messages a sync client may lag before it is dropped
    database_url: str | None = None  # PostgreSQL: the log is shared by several processes
    blob_dir: Path | None = None  # default: <data_dir>/blobs; shared by a cluster
    body_timeout: float = 30.0  # seconds a request body may send nothing before a 408
    header_timeout: float = 15.0  # seconds for a request's headers, and idle keep-alive
    max_connections: int = 1000  # open at once; one more is answered 503
    cors_origins: tuple[str, ...] = ()  # origins whose pages may call annolog (CORS)

    @property
    def blobs_path(self) -> Path:
        return self.blob_dir or self.data_dir / "blobs"

    @classmethod
    def from_env(cls, env: dict[str, str] | None = None) -> Settings:
        env = dict(os.environ if env is None else env)
        token = env.get("API_AUTH_TOKEN") or ""
        numbers = {name: _int(env, variable, cls.__dataclass_fields__[name].default)
                   for name, variable in NUMBERS.items()}
        return cls(
            data_dir=Path(env.get("ANNOLOG_DATA_DIR") or "data"),
            api_token=token or DEVELOPMENT_TOKEN,
            token_is_default=not token,
            host=env.get("HOST") or (EVERYWHERE if token else LOOPBACK),
            jwt_public_key=env.get("JWT_PUBLIC_KEY") or None,
            jwt_algorithm=env.get("JWT_ALGORITHM") or None,
            database_url=env.get("ANNOLOG_DATABASE_URL") or None,
            blob_dir=Path(env["ANNOLOG_BLOB_DIR"]) if env.get("ANNOLOG_BLOB_DIR") else None,
            cors_origins=parse_origins(env.get("ANNOLOG_CORS_ORIGINS") or ""),
            **numbers,
        )


# The environment variable of each numeric setting; its default is the field's.
NUMBERS = {
    "port": "PORT",
    "max_upload_bytes": "MAX_UPLOAD_SIZE_BYTES",
    "max_json_bytes": "ANNOLOG_MAX_JSON_BYTES",
    "max_batch": "ANNOLOG_MAX_BATCH",
    "max_attachment_bytes": "ANNOLOG_MAX_ATTACHMENT_BYTES",
    "sync_queue_size": "ANNOLOG_SYNC_QUEUE",
    "body_timeout": "ANNOLOG_BODY_TIMEOUT",
    "header_timeout": "ANNOLOG_HEADER_TIMEOUT",
    "max_connections": "ANNOLOG_MAX_CONNECTIONS",
}
SETTINGS = web.AppKey("settings", Settings)


def _int(env: dict[str, str], key: str, default: Any) -> Any:
    raw = env.get(key)
    if not raw:
        return default
    try:
        value = int(raw)
    except ValueError:
        raise SystemExit(f"{key} must be a whole number, not {raw!r}") from None
    if value <= 0:
        raise SystemExit(f"{key} must be positive, not {value}")
    return value
