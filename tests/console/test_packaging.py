"""A non-editable install ships every console file: setup.cfg's package_data must match each
file under api/console/static/ (a new folder or name pattern would otherwise be left out)."""

from __future__ import annotations

import configparser
from fnmatch import fnmatch

from api.console import STATIC
from tools.process import ROOT


def test_every_console_file_is_in_the_package_data():
    config = configparser.ConfigParser()
    config.read(ROOT / "setup.cfg")
    patterns = [p.strip() for p in config["options.package_data"]["api.console"].split(",")]
    files = [path.relative_to(STATIC.parent).as_posix() for path in STATIC.rglob("*")
             if path.is_file()]
    assert len(files) > 20
    # fnmatch's * crosses "/", setuptools' does not: compare folder by folder
    left_out = [f for f in files if not any(
        fnmatch(f, p) and f.count("/") == p.count("/") for p in patterns)]
    assert left_out == []
