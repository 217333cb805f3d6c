"""The command line as an operator meets it: one clear line and exit 1 for a problem, never a
traceback; output that ends early when its reader goes away (issue 13, first part)."""

from __future__ import annotations

import subprocess
import sys
from importlib import metadata
from pathlib import Path

import jwt
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from eventstore.commands import CreateAnnotation, UploadDocument
from eventstore.log import open_log
from eventstore.writer import Writer

ANNOLOG = str(Path(sys.executable).parent / "annolog")


def run(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([ANNOLOG, *args], cwd=cwd, capture_output=True, text=True,
                          timeout=60)


def one_clear_line(result: subprocess.CompletedProcess[str]) -> str:
    assert result.returncode == 1, result
    assert "Traceback" not in result.stderr
    [line] = result.stderr.strip().splitlines()
    assert line.startswith("annolog: ")
    return line


def test_version(tmp_path):
    result = run("--version", cwd=tmp_path)
    assert result.returncode == 0
    assert result.stdout.strip() == f"annolog {metadata.version('annolog')}"


def test_token_without_a_key_says_how_to_make_one(tmp_path):
    line = one_clear_line(run("token", "--document", "d", cwd=tmp_path))
    assert "annolog keys" in line


def test_token_infers_the_algorithm_from_the_key(tmp_path):
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    (tmp_path / "rsa.pem").write_bytes(key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption()))
    result = run("token", "--document", "d", "--private-key", "rsa.pem", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    token = result.stdout.strip()
    assert jwt.get_unverified_header(token)["alg"] == "RS256"
    assert jwt.decode(token, key.public_key(), algorithms=["RS256"])["document_id"] == "d"
    line = one_clear_line(run("token", "--document", "d", "--private-key", "rsa.pem",
                              "--algorithm", "ES256", cwd=tmp_path))
    assert "RS256 or RS512, not ES256" in line


def test_events_piped_into_head_ends_cleanly(tmp_path):
    log = open_log(tmp_path / "data")
    writer = Writer(log)
    writer.start()
    writer.execute([UploadDocument("d", None, "00", 1, False, None)])
    writer.execute([CreateAnnotation("d", "", f"a{i}", {"n": i}, None, None)
                    for i in range(5000)])
    writer.stop()
    log.close()
    pipeline = subprocess.run(f"'{ANNOLOG}' events --data-dir data | head -1", shell=True,
                              cwd=tmp_path, capture_output=True, text=True, timeout=60,
                              executable="/bin/bash")
    assert pipeline.stdout.count("\n") == 1
    assert "Traceback" not in pipeline.stderr and "BrokenPipe" not in pipeline.stderr


def small_log(data: Path) -> None:
    log = open_log(data)
    writer = Writer(log)
    writer.start()
    writer.execute([UploadDocument("d", None, "00", 1, False, None)])
    writer.execute([CreateAnnotation("d", "", "a", {"n": 1}, None, None)])
    writer.stop()
    log.close()


def test_what_the_log_does_not_hold_is_one_clear_line(tmp_path):
    small_log(tmp_path / "data")
    cases = {
        ("history", "d", "nope"): "has no history",
        ("export", "d", "--layer", "missing"): "layer 'missing' does not exist",
        ("export", "d", "--revision", "99"): "beyond the log's current revision",
        ("snapshot", "d", "", "bad/name"): "path separator",
        ("snapshot", "d", "nosuch", "copy"): "layer 'nosuch' does not exist",
    }
    for args, reason in cases.items():
        line = one_clear_line(run(*args, "--data-dir", "data", cwd=tmp_path))
        assert reason in line, (args, line)
    # and nothing was created by the refused snapshots
    listed = run("export", "d", "--layer", "copy", "--data-dir", "data", cwd=tmp_path)
    assert listed.returncode == 1


def test_bench_refuses_a_database_it_cannot_use_in_one_line(tmp_path):
    url = "postgresql://annolog:annolog@127.0.0.1:1/nowhere"
    assert "leave ?schema= out" in one_clear_line(
        run("bench", "--database", f"{url}?schema=mine", cwd=tmp_path))
    assert "must look like postgresql://" in one_clear_line(
        run("bench", "--database", "mysql://host/db", cwd=tmp_path))
    assert "cannot create a schema there" in one_clear_line(
        run("bench", "--database", url, cwd=tmp_path))
