"""The documentation covers every route and command-line verb, gives the two commands CI runs,
and links only to files that exist."""

from __future__ import annotations

import re

from api.routes import ROUTES
from tests.conftest import ROOT
from tools.cli import build_parser

README = (ROOT / "README.md").read_text()
API = (ROOT / "docs" / "api.md").read_text()
OPERATIONS = (ROOT / "docs" / "operations.md").read_text()
LAYER = "/layers/:layer_name/"


def test_every_route_is_in_the_api_table_once():
    """A named layer's twin of a default-layer route is covered by the note on layers."""
    table = re.findall(r"^\| (GET|POST|PUT|DELETE) \| `([^`]+)`", API, re.M)
    assert len(table) == len(set(table)), "a route is listed twice"
    documented = set(table)
    for route in ROUTES:
        path = re.sub(r"{(\w+)}", r":\1", route.path)
        twin = path.replace(LAYER, "/") if LAYER in path else None
        assert (route.method, path) in documented or (route.method, twin) in documented, \
            f"{route.method} {path} is not documented"
    assert LAYER.rstrip("/") in API  # the note that names the layer twins


def test_every_cli_verb_is_documented_and_has_help():
    parser = build_parser()
    verbs = parser._subparsers._group_actions[0].choices
    for name, subparser in verbs.items():
        assert f"`annolog {name}`" in OPERATIONS, f"annolog {name} is not in docs/operations.md"
        assert subparser.description, f"annolog {name} has no --help description"


def test_the_readme_gives_the_two_commands_ci_runs():
    ci = (ROOT / ".ci" / "run").read_text()
    test_command = "python3 -m venv .venv && .venv/bin/pip install -e '.[test]' && .venv/bin/pytest"
    assert test_command in README
    assert test_command in ci
    serve = "python3 -m venv .venv && .venv/bin/pip install -e . && .venv/bin/annolog serve"
    assert serve in README


def test_every_link_to_a_file_of_the_repository_resolves():
    for page in [ROOT / "README.md", ROOT / "CHANGELOG.md", *(ROOT / "docs").glob("*.md")]:
        for target in re.findall(r"\]\(([^)#]+)(?:#[^)]*)?\)", page.read_text()):
            if target.startswith(("http://", "https://")):
                continue
            assert (page.parent / target).exists(), f"{page.name} links to missing {target}"
