"""The ``annolog`` command line."""

from __future__ import annotations

import argparse
import gc
import logging
import sys
from collections.abc import Sequence
from pathlib import Path

import uvloop
from aiohttp import web

from api.app import create_app
from api.settings import Settings
from eventstore.errors import DataDirLockedError


def serve(args: argparse.Namespace) -> int:
    settings = Settings.from_env()
    overrides = {k: v for k, v in (("port", args.port), ("host", args.host)) if v is not None}
    if args.data_dir is not None:
        overrides["data_dir"] = args.data_dir
    settings = Settings(**{**settings.__dict__, **overrides})
    logging.getLogger(__name__).info("annolog serving %s on %s:%d", settings.data_dir.resolve(),
                                     settings.host, settings.port)
    # Requests allocate many short-lived objects; the default gen-0 threshold (700) ran a
    # collection every few requests and showed in the p99 latency of the benchmark.
    gc.set_threshold(50_000, 20, 100)
    try:
        web.run_app(create_app(settings), host=settings.host, port=settings.port,
                    loop=uvloop.new_event_loop(), print=None,
                    access_log=None if args.quiet else logging.getLogger("access"))
    except DataDirLockedError as error:
        print(f"annolog: {error}", file=sys.stderr)
        return 1
    return 0


def gc_attachments(args: argparse.Namespace) -> int:
    from eventstore.blobs import BlobStore
    from eventstore.log import open_log
    from tools.gc import find_orphans

    data_dir = args.data_dir or Settings.from_env().data_dir
    if not (data_dir / "events.sqlite").exists():
        print(f"annolog: no log at {data_dir}/events.sqlite", file=sys.stderr)
        return 1
    log = open_log(data_dir)
    orphans = find_orphans(log, BlobStore(data_dir / "blobs"), args.min_age, progress=True)
    log.close()
    for orphan in orphans:
        if args.delete:
            orphan.path.unlink(missing_ok=True)
        print(f"{'removed' if args.delete else 'would remove'} {orphan.path.name} "
              f"({orphan.size:,} bytes, {orphan.age_seconds / 3600:.1f} h old)")
    total = sum(o.size for o in orphans)
    verb = "removed" if args.delete else "unreferenced (dry run; --delete removes them)"
    print(f"{len(orphans)} blobs, {total:,} bytes {verb}")
    return 0


def bench(args: argparse.Namespace) -> int:
    from tools.bench import run_bench
    return run_bench(args)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="annolog", description="Event-sourced persistence for PDF annotations.")
    verbs = parser.add_subparsers(dest="verb", required=True, metavar="VERB")

    p = verbs.add_parser("serve", help="run the HTTP API (embedded SQLite under the data dir)",
                         description="Run the HTTP API. Configuration comes from the "
                                     "environment (PORT, ANNOLOG_DATA_DIR, API_AUTH_TOKEN, "
                                     "MAX_UPLOAD_SIZE_BYTES); options override it.")
    p.add_argument("--port", type=int, help="port to listen on (default: PORT or 5000)")
    p.add_argument("--host", help="address to bind (default: HOST or 0.0.0.0)")
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
    p.set_defaults(run=gc_attachments)

    p = verbs.add_parser("bench", help="measure write and read throughput against raw SQLite",
                         description="Start a server on a scratch data directory and measure "
                                     "attachment uploads, bulk, concurrent single and NDJSON "
                                     "scenarios, each beside raw storage doing the same work "
                                     "in the same run.")
    p.add_argument("--bulk", type=int, default=10_000, help="annotations in the bulk request")
    p.add_argument("--connections", type=int, default=64, help="concurrent connections")
    p.add_argument("--duration", type=float, default=20.0,
                   help="seconds of concurrent single writes")
    p.add_argument("--upload-duration", type=float, default=10.0,
                   help="seconds of concurrent 1 MiB attachment uploads")
    p.add_argument("--ndjson", type=int, default=100_000,
                   help="annotations in the NDJSON read")
    p.set_defaults(run=bench)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: "
                                                   "%(message)s")
    args = build_parser().parse_args(argv)
    return args.run(args)


if __name__ == "__main__":
    sys.exit(main())
