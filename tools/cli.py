"""The ``annolog`` command line."""

from __future__ import annotations

import argparse
import asyncio
import errno
import gc
import logging
import os
import sys
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import replace
from importlib import metadata
from pathlib import Path
from typing import Any

import orjson

from api.settings import Settings
from eventstore.errors import DataDirLockedError
from eventstore.sqlite_store import DataDirLock
from tools import audit


def serve(args: argparse.Namespace) -> int:
    # The server's modules load here, not with the command line: an audit verb starts in
    # a third of the time without them (a short export is mostly start-up).
    import uvloop

    from api import serving
    from api.app import create_app

    settings = _settings(args, port=args.port, host=args.host)
    logging.getLogger(__name__).info("annolog serving %s on %s:%d", settings.data_dir.resolve(),
                                     settings.host, settings.port)
    access_log = None if args.quiet else logging.getLogger("access")
    # The event loop shares the interpreter with the writer, projector and batch threads;
    # at the default 5 ms switch interval a request waited several intervals for its turn
    # while a large batch was written (healthchecks 170-430 ms; at 0.5 ms, 72-141 ms).
    sys.setswitchinterval(0.0005)
    try:
        with asyncio.Runner(loop_factory=uvloop.new_event_loop) as runner:
            runner.run(serving.serve(create_app(settings), settings, access_log))
    except DataDirLockedError as error:
        print(f"annolog: {error}", file=sys.stderr)
        return 1
    except OSError as error:
        if error.errno != errno.EADDRINUSE:
            raise
        print(f"annolog: port {settings.port} on {settings.host} is already in use; stop "
              "what listens there or choose another (--port or PORT)", file=sys.stderr)
        return 1
    return 0


def gc_attachments(args: argparse.Namespace) -> int:
    from eventstore.blobs import BlobStore
    from tools.gc import find_orphans

    settings = _settings(args)
    blobs = BlobStore(settings.blobs_path)
    with audit.opened_log(settings.data_dir) as log:
        orphans = find_orphans(log, blobs, args.min_age, progress=sys.stderr.isatty())
    for orphan in orphans:
        if args.delete:
            orphan.path.unlink(missing_ok=True)
        if not args.json:
            print(f"{'removed' if args.delete else 'would remove'} {orphan.path.name} "
                  f"({orphan.size:,} bytes, {orphan.age_seconds / 3600:.1f} h old)")
    total = sum(o.size for o in orphans)
    if args.json:
        return _summary({"removed": args.delete, "blobs": len(orphans), "bytes": total,
                         "orphans": [{"blob": o.path.name, "bytes": o.size,
                                      "age_seconds": round(o.age_seconds)} for o in orphans]})
    verb = "removed" if args.delete else "unreferenced (dry run; --delete removes them)"
    print(f"{len(orphans)} blobs, {total:,} bytes {verb}")
    return 0


def _summary(summary: dict[str, Any], code: int = 0) -> int:
    """``--json``: the verb's outcome as one JSON object on stdout, for scripts."""
    sys.stdout.buffer.write(orjson.dumps(summary, default=str) + b"\n")
    return code


def _settings(args: argparse.Namespace, **overrides: Any) -> Settings:
    """The environment's settings, with what the command line gave."""
    given = {"data_dir": args.data_dir, **overrides}
    return replace(Settings.from_env(), **{k: v for k, v in given.items() if v is not None})


def _data_dir(args: argparse.Namespace) -> Path:
    return _settings(args).data_dir


@contextmanager
def _locked(data_dir: Path) -> Iterator[None]:
    """Verbs that write need the data directory to themselves (no running server)."""
    lock = DataDirLock(data_dir)
    try:
        yield
    finally:
        lock.release()


def rebuild_cmd(args: argparse.Namespace) -> int:
    with _locked(_data_dir(args)):
        position, rate = audit.rebuild(_data_dir(args))
    if args.json:
        return _summary({"revision": position, "events_per_second": round(rate)})
    print(f"rebuilt the read model to revision {position} ({rate:,.0f} events/s)")
    return 0


def verify_cmd(args: argparse.Namespace) -> int:
    verified = audit.verify(_data_dir(args), args.limit)
    position, drifts = verified.position, verified.drifts
    if args.json:
        return _summary({"revision": position, "drift": verified.count, "rows": [
            {"table": d.table, "key": list(d.key), "live": d.live, "replayed": d.replayed}
            for d in drifts]}, 1 if verified.count else 0)
    if not verified.count:
        print(f"no drift: the read model equals a replay of the log up to revision {position}")
        return 0
    print(f"DRIFT: {verified.count} rows differ from a replay up to revision {position}")
    for drift in drifts:
        print(f"- {drift.table} {drift.key}: live {drift.live} | replayed {drift.replayed}")
    return 1


def lint_cmd(args: argparse.Namespace) -> int:
    from projections.queries import ReadModel
    from tools.lint import lint

    path = _data_dir(args) / audit.READ_MODEL
    if not path.exists():
        raise audit.AuditError(f"no read model at {path}; start the server or run rebuild")
    read_model = ReadModel(path)
    count = 0
    try:
        for finding in lint(read_model):
            count += 1
            sys.stdout.buffer.write((finding.json() if args.json else
                                     finding.line().encode()) + b"\n")
    finally:
        read_model.close()
    print(f"{count} stored records break the current rules" if count else
          "no stored record breaks the current rules", file=sys.stderr)
    return 1 if count else 0


def events_cmd(args: argparse.Namespace) -> int:
    for line in audit.events(_data_dir(args), document=args.document, layer=args.layer,
                             after=args.after, upto=args.upto):
        sys.stdout.buffer.write(line)
    return 0


def history_cmd(args: argparse.Namespace) -> int:
    for version in audit.history(_data_dir(args), args.document, args.annotation_id,
                                 args.layer):
        sys.stdout.buffer.write(orjson.dumps(version) + b"\n")
    return 0


def export_cmd(args: argparse.Namespace) -> int:
    settings = _settings(args)
    document = audit.export(settings.data_dir, settings.blobs_path, args.document, args.layer,
                            args.revision, args.at)
    data = orjson.dumps(document, option=orjson.OPT_INDENT_2)
    if args.output:
        args.output.write_bytes(data)
        print(f"wrote {args.output} ({len(document.get('annotations', []))} annotations)")
    else:
        sys.stdout.buffer.write(data + b"\n")
    return 0


def snapshot_cmd(args: argparse.Namespace) -> int:
    with _locked(_data_dir(args)):
        revision = audit.snapshot(_data_dir(args), args.document, args.source, args.name,
                                  args.revision, args.at)
    if args.json:
        return _summary({"document": args.document, "layer": args.name, "revision": revision})
    print(f"layer {args.name!r} created at revision {revision}")
    return 0


def keys_cmd(args: argparse.Namespace) -> int:
    from tools.jwt_tools import write_keys
    try:
        private, public = write_keys(args.out, args.algorithm, args.force)
    except FileExistsError as error:
        print(f"annolog: {error}", file=sys.stderr)
        return 1
    print(f"wrote {private} (keep it secret) and {public}\n"
          f"start the server with:\n  export JWT_PUBLIC_KEY={public} "
          f"JWT_ALGORITHM={args.algorithm}")
    return 0


def token_cmd(args: argparse.Namespace) -> int:
    from tools.jwt_tools import KeyProblem, mint, signing_key
    try:
        key, algorithm = signing_key(args.private_key, args.algorithm)
    except KeyProblem as error:
        print(f"annolog: {error}", file=sys.stderr)
        return 1
    claims = {
        "document_id": args.document, "permissions": args.permissions.split(","),
        "user_id": args.user, "layer": args.layer, "default_group": args.default_group,
        "creator_name": args.creator_name, "password": args.password, "jti": args.jti,
        "collaboration_permissions": args.collaboration,
    }
    print(mint(key, algorithm, claims, args.expires_in))
    return 0


def migrate_cmd(args: argparse.Namespace) -> int:
    with _locked(_data_dir(args)):
        revision = audit.migrate(_data_dir(args), args.database_url)
    if args.json:
        return _summary({"revision": revision})
    print(f"copied the log up to revision {revision}; start the servers with "
          f"ANNOLOG_DATABASE_URL set")
    return 0


def bench(args: argparse.Namespace) -> int:
    from tools.bench import run_bench
    return run_bench(args)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="annolog", description="Event-sourced persistence for PDF annotations.")
    parser.add_argument("--version", action="version",
                        version=f"annolog {metadata.version('annolog')}")
    verbs = parser.add_subparsers(dest="verb", required=True, metavar="VERB")

    p = verbs.add_parser("serve", help="run the HTTP API (embedded SQLite under the data dir)",
                         description="Run the HTTP API. Configuration comes from the "
                                     "environment (PORT, ANNOLOG_DATA_DIR, API_AUTH_TOKEN, "
                                     "MAX_UPLOAD_SIZE_BYTES); options override it.")
    p.add_argument("--port", type=int, help="port to listen on (default: PORT or 5000)")
    p.add_argument("--host", help="address to bind (default: HOST, else 0.0.0.0, or "
                                  "127.0.0.1 while API_AUTH_TOKEN is unset)")
    p.add_argument("--data-dir", type=Path, help="data directory (default: ANNOLOG_DATA_DIR "
                                                 "or ./data)")
    p.add_argument("--quiet", action="store_true", help="no access log")
    p.set_defaults(run=serve)

    p = verbs.add_parser("gc-attachments", help="list (or remove) blobs no event references",
                         description="List the PDFs and attachments in the blob store that no "
                                     "event of the log references. Dry run unless --delete. "
                                     "Safe beside a running server: blobs younger than "
                                     "--min-age are never touched.")
    p.add_argument("--data-dir", type=Path, help="data directory (default: ANNOLOG_DATA_DIR "
                                                 "or ./data)")
    p.add_argument("--delete", action="store_true", help="remove them (default: list only)")
    p.add_argument("--min-age", type=float, default=3600.0,
                   help="seconds a blob must be old to count (default: 3600)")
    _json_flag(p)
    p.set_defaults(run=gc_attachments)

    _add_audit_verbs(verbs)

    p = verbs.add_parser("keys", help="write a development key pair for client JWTs",
                         description="Write jwt-private.pem and jwt-public.pem and print how "
                                     "to point the server at the public key.")
    p.add_argument("--algorithm", default="ES256", choices=("RS256", "RS512", "ES256", "ES512"))
    p.add_argument("--out", type=Path, default=Path("."), help="directory (default: here)")
    p.add_argument("--force", action="store_true", help="replace existing key files")
    p.set_defaults(run=keys_cmd)

    p = verbs.add_parser("token", help="mint a client JWT with the given claims",
                         description="Print a client JWT signed with a private key, for "
                                     "trying the API as a browser would.")
    p.add_argument("--private-key", type=Path, default=Path("jwt-private.pem"))
    p.add_argument("--algorithm", choices=("RS256", "RS512", "ES256", "ES512"),
                   help="the signing algorithm (default: the one the key implies)")
    p.add_argument("--document", required=True, help="the document_id claim")
    p.add_argument("--permissions", default="read-document,write,download",
                   help="comma-separated: read-document, write, download")
    p.add_argument("--user", help="user_id (becomes createdBy/updatedBy)")
    p.add_argument("--layer", help="pin the caller to this layer")
    p.add_argument("--collaboration", action="append",
                   help="a collaboration permission, e.g. annotations:view:all (repeatable)")
    p.add_argument("--default-group")
    p.add_argument("--creator-name")
    p.add_argument("--password", help="the PDF password claim")
    p.add_argument("--jti", help="token id, for POST /api/revoke")
    p.add_argument("--expires-in", type=int, default=3600, help="seconds (default: 3600)")
    p.set_defaults(run=token_cmd)

    p = verbs.add_parser("bench", help="measure write and read throughput against raw SQLite",
                         description="Start a server on a scratch data directory and measure "
                                     "attachment uploads, bulk, concurrent single, NDJSON and "
                                     "annotated PDF scenarios, each beside raw storage (or "
                                     "pikepdf) doing the same work in the same run.")
    p.add_argument("--bulk", type=int, default=10_000, help="annotations in the bulk request")
    p.add_argument("--connections", type=int, default=64, help="concurrent connections")
    p.add_argument("--duration", type=float, default=20.0,
                   help="seconds of concurrent single writes")
    p.add_argument("--upload-duration", type=float, default=10.0,
                   help="seconds of concurrent 1 MiB attachment uploads")
    p.add_argument("--sync-clients", type=int, default=100,
                   help="sync clients in the live-sync scenario (0 skips it)")
    p.add_argument("--sync-rate", type=float, default=200.0, help="changes/s in live sync")
    p.add_argument("--sync-duration", type=float, default=10.0, help="seconds of live sync")
    p.add_argument("--database", help="a PostgreSQL URL: run the write and read scenarios "
                                      "on three processes sharing that log")
    p.add_argument("--rebuild-events", type=int, default=1_000_000,
                   help="events in the rebuild scenario's log (0 skips rebuild and export)")
    p.add_argument("--export-size", type=int, default=10_000,
                   help="annotations in the layer exported at an old revision")
    p.add_argument("--ndjson", type=int, default=100_000,
                   help="annotations in the NDJSON read")
    p.add_argument("--pdf-annotations", type=int, default=10_000,
                   help="annotations in the annotated PDF download and upload (0 skips it)")
    p.set_defaults(run=bench)
    return parser


def _verb(verbs: Any, name: str, summary: str, description: str, run: Any
          ) -> argparse.ArgumentParser:
    p = verbs.add_parser(name, help=summary, description=description)
    p.add_argument("--data-dir", type=Path, help="data directory (default: ANNOLOG_DATA_DIR "
                                                 "or ./data)")
    p.set_defaults(run=run)
    return p


def _json_flag(p: argparse.ArgumentParser) -> None:
    p.add_argument("--json", action="store_true",
                   help="print the outcome as one JSON object (for scripts)")


def _at_revision(p: argparse.ArgumentParser) -> None:
    p.add_argument("--revision", type=int, help="as it was at this revision")
    p.add_argument("--at", help="as it was at this ISO 8601 time")


def _add_audit_verbs(verbs: Any) -> None:
    _json_flag(_verb(verbs, "rebuild", "drop the read model and replay the whole log",
                     "Replay the whole log into a new read model and swap it in. The server "
                     "must be stopped.", rebuild_cmd))
    p = _verb(verbs, "verify", "compare the read model with a fresh replay of the log",
              "Replay the log into a scratch model up to the live model's position and "
              "compare every row; exit 1 and name the differences on drift. Safe beside a "
              "running server.", verify_cmd)
    p.add_argument("--limit", type=int, default=20, help="differences to print")
    _json_flag(p)
    p = _verb(verbs, "lint", "list stored records that break the current rules",
              "List live records (annotations, comments, bookmarks, form fields, ids and "
              "layer names) that the current validation would refuse, one per line, so they "
              "can be repaired with ordinary updates and deletes. Exit 1 when any is found. "
              "Safe beside a running server.", lint_cmd)
    p.add_argument("--json", action="store_true", help="one JSON object per finding")
    p = _verb(verbs, "events", "print the log as NDJSON",
              "Print events as NDJSON, oldest first, optionally filtered.", events_cmd)
    p.add_argument("--document", help="only this document's events")
    p.add_argument("--layer", help="only this layer's events ('' for the default layer)")
    p.add_argument("--after", type=int, default=0, help="only revisions above this")
    p.add_argument("--upto", type=int, help="only revisions up to this")
    p = _verb(verbs, "history", "every version of one annotation, from the log",
              "Print every version of an annotation (NDJSON), deletions included, read "
              "from the log itself.", history_cmd)
    p.add_argument("document")
    p.add_argument("annotation_id")
    p.add_argument("--layer", default="", help="the layer (default: the default layer)")
    p = _verb(verbs, "export", "Instant JSON of a layer, now or at a revision or time",
              "Replay the document's events and print (or write) the Instant JSON of a "
              "layer as it was.",
              export_cmd)
    p.add_argument("document")
    p.add_argument("--layer", default="", help="the layer (default: the default layer)")
    p.add_argument("--output", type=Path, help="write to this file instead of stdout")
    _at_revision(p)
    p = _verb(verbs, "migrate", "copy the embedded log to PostgreSQL, keeping revisions",
              "Copy events.sqlite into an empty PostgreSQL log in order, keeping every "
              "revision, so existing read models stay valid. The server must be stopped.",
              migrate_cmd)
    p.add_argument("database_url", help="postgresql://user:password@host:5432/dbname")
    _json_flag(p)
    p = _verb(verbs, "snapshot", "create a layer from a source layer at a revision or time",
              "Create layer NAME as a copy of SOURCE as it was at --revision or --at (now "
              "when neither is given), in one transaction. The server must be stopped; "
              "while it runs, use POST /api/documents/:id/layers.", snapshot_cmd)
    p.add_argument("document")
    p.add_argument("source", help="the source layer ('' for the default layer)")
    p.add_argument("name", help="the new layer's name")
    _at_revision(p)
    _json_flag(p)


def main(argv: Sequence[str] | None = None) -> int:
    # Requests and replays allocate many short-lived objects; the default gen-0 threshold
    # (700) ran a collection every few requests, which showed in the p99 latency of the
    # benchmark, and made a replay spend most of its time walking the batch in hand.
    gc.set_threshold(50_000, 20, 100)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: "
                                                   "%(message)s")
    logging.getLogger("pikepdf").setLevel(logging.WARNING)  # no "logger bridge initialized"
    args = build_parser().parse_args(argv)
    try:
        return args.run(args)
    except (audit.AuditError, DataDirLockedError) as error:
        print(f"annolog: {error}", file=sys.stderr)
        return 1
    except BrokenPipeError:
        # The reader went away (``annolog events | head``): that is the end of the output,
        # not an error. Python flushes stdout again at exit; point it at /dev/null first.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 0


if __name__ == "__main__":
    sys.exit(main())
