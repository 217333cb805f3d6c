"""Configuration from the environment."""

from __future__ import annotations

import pytest

from api.settings import Settings


def test_the_development_token_listens_on_loopback_unless_host_is_set():
    unset = Settings.from_env({})
    assert unset.token_is_default and unset.api_token == "secret"
    assert unset.host == "127.0.0.1"
    assert Settings.from_env({"HOST": "0.0.0.0"}).host == "0.0.0.0"
    assert Settings.from_env({"API_AUTH_TOKEN": "t"}).host == "0.0.0.0"


def test_limits_come_from_the_environment():
    settings = Settings.from_env({"ANNOLOG_BODY_TIMEOUT": "5", "ANNOLOG_HEADER_TIMEOUT": "7",
                                  "ANNOLOG_MAX_CONNECTIONS": "9"})
    assert (settings.body_timeout, settings.header_timeout, settings.max_connections) == (
        5, 7, 9)
    with pytest.raises(SystemExit, match="ANNOLOG_MAX_CONNECTIONS must be positive"):
        Settings.from_env({"ANNOLOG_MAX_CONNECTIONS": "0"})
