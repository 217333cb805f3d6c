"""The README documents every route and every command-line verb."""

from __future__ import annotations

import re

from api.routes import ROUTES
from tests.conftest import ROOT
from tools.cli import build_parser

README = (ROOT / "README.md").read_text()


def test_every_route_is_in_the_readme_api_table():
    documented = set(re.findall(r"^\| (GET|POST|PUT|DELETE) \| `([^`]+)`", README, re.M))
    for route in ROUTES:
        path = re.sub(r"{(\w+)}", r":\1", route.path)
        assert (route.method, path) in documented, f"{route.method} {path} is not documented"


def test_every_cli_verb_is_documented_and_has_help():
    parser = build_parser()
    verbs = parser._subparsers._group_actions[0].choices
    for name, subparser in verbs.items():
        assert f"`annolog {name}`" in README, f"annolog {name} is not in the README"
        assert subparser.description, f"annolog {name} has no --help description"


def test_the_readme_gives_the_two_commands_ci_runs():
    ci = (ROOT / ".ci" / "run").read_text()
    test_command = "python3 -m venv .venv && .venv/bin/pip install -e '.[test]' && .venv/bin/pytest"
    assert test_command in README
    assert test_command in ci
    serve = "python3 -m venv .venv && .venv/bin/pip install -e . && .venv/bin/annolog serve"
    assert serve in README
