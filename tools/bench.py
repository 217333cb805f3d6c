"""``annolog bench``: the core scenarios against a real server, each beside raw SQLite on the
same rows measured in the same run (the machine is shared and noisy: compare ratios)."""

from __future__ import annotations

import argparse
import asyncio
import gc
import hashlib
import os
import signal
import sqlite3
import statistics
import sys
import tempfile
import time
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import aiohttp
import orjson
import pikepdf
import psycopg
import uvloop
from tqdm import tqdm

from eventstore.commands import (
    Accepted,
    Command,
    CreateAnnotation,
    UpdateAnnotation,
    UploadDocument,
)
from eventstore.log import open_log
from eventstore.postgres_store import postgres_env
from eventstore.writer import Writer
from projections.rebuild import replay
from tools.audit import AuditError
from tools.process import ServerProcess, free_port
from tools.samples import make_png

TOKEN = "bench-token"
AUTH = {"Authorization": f"Token token={TOKEN}"}


def _note(i: int) -> dict:
    return {"v": 2, "type": "pspdfkit/note", "pageIndex": i % 2, "bbox": [10, 20, 30, 40],
            "opacity": 1, "text": {"format": "plain", "value": f"note {i}"},
            "customData": {"n": i}}


@dataclass
class Row:
    scenario: str
    rate: float
    unit: str
    limit: float
    p50_ms: float | None = None
    p99_ms: float | None = None
    extra: str = ""

    def line(self) -> str:
        def shown(value: float | None, form: str) -> str:
            return format(value, form) if value else "-"
        ratio = self.rate / self.limit if self.rate and self.limit else None
        rate = f"{self.rate:,.0f} {self.unit}" if self.rate else "-"
        return (f"| {self.scenario} | {rate} | {shown(self.p50_ms, '.1f')} | "
                f"{shown(self.p99_ms, '.1f')} | {shown(self.limit, ',.0f')} | "
                f"{shown(ratio, '.3f')} | {self.extra} |")


def _rss_kb(pid: int, field: str = "VmRSS") -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1])
    return 0


def _percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))] * 1000


def _raw_connection(path: Path) -> sqlite3.Connection:
    conn = sqlite3.connect(path, isolation_level=None)
    conn.execute("PRAGMA journal_mode=WAL")
    conn.execute("PRAGMA synchronous=FULL")
    conn.execute("CREATE TABLE IF NOT EXISTS t (id TEXT PRIMARY KEY, record TEXT)")
    return conn


def raw_bulk_rate(rows: list[tuple[str, str]], path: Path) -> float:
    conn = _raw_connection(path)
    started = time.perf_counter()
    conn.execute("BEGIN")
    conn.executemany("INSERT INTO t VALUES (?, ?)", rows)
    conn.execute("COMMIT")
    elapsed = time.perf_counter() - started
    conn.close()
    return len(rows) / elapsed


def raw_single_rate(seconds: float, path: Path) -> float:
    """One row per committed transaction, synchronous=FULL: the fsync-bound limit."""
    conn = _raw_connection(path)
    count, started = 0, time.perf_counter()
    while time.perf_counter() - started < seconds:
        conn.execute("INSERT INTO t VALUES (?, ?)",
                     (f"s{count}", orjson.dumps(_note(count)).decode()))
        count += 1
    elapsed = time.perf_counter() - started
    conn.close()
    return count / elapsed


def raw_read_rate(readmodel: Path, layer: str) -> float:
    conn = sqlite3.connect(f"file:{readmodel}?mode=ro", uri=True)
    started = time.perf_counter()
    count = 0
    for (record,) in conn.execute("SELECT record FROM annotations WHERE layer = ? AND "
                                  "deleted = 0 ORDER BY created_revision", [layer]):
        count += len(record) > 0
    elapsed = time.perf_counter() - started
    conn.close()
    return count / elapsed


async def _post(session: aiohttp.ClientSession, url: str, items: list[dict]) -> float:
    body = orjson.dumps({"annotations": items})
    started = time.perf_counter()
    async with session.post(url, data=body, headers={**AUTH, "Content-Type":
                                                     "application/json"}) as response:
        result = await response.json()
        if response.status != 200 or result["result"] != "success":
            raise SystemExit(f"write failed: {response.status} {str(result)[:300]}")
    return time.perf_counter() - started


def raw_file_rate(png: bytes, seconds: float, root: Path) -> float:
    """The limit for uploads: hash, write, fsync and rename 1 MiB files from one thread."""
    root.mkdir(parents=True, exist_ok=True)
    count, started = 0, time.perf_counter()
    while time.perf_counter() - started < seconds:
        data = _variant(png, count)
        name = hashlib.sha256(data).hexdigest()
        tmp = root / f"{name}.tmp"
        with open(tmp, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, root / name)
        count += 1
    return count / (time.perf_counter() - started)


def _variant(png: bytes, n: int) -> bytes:
    """A distinct upload: the same PNG with its last bytes before IEND changed."""
    return png[:-20] + n.to_bytes(8, "big") + png[-12:]


async def uploads(session: aiohttp.ClientSession, server: ServerProcess, connections: int,
                  seconds: float, scratch: Path) -> Row:
    png = make_png(1024 * 1024, seed=1)
    url = f"{server.base}/api/documents/bench/layers/images/annotations"
    latencies: list[float] = []
    deadline = time.perf_counter() + seconds
    counter = iter(range(10 ** 9))

    async def worker() -> None:
        while time.perf_counter() < deadline:
            data = _variant(png, next(counter))
            sha = hashlib.sha256(data).hexdigest()
            content = {"v": 1, "type": "pspdfkit/image", "pageIndex": 0, "opacity": 1,
                       "bbox": [10, 10, 100, 100], "contentType": "image/png",
                       "imageAttachmentId": sha}
            form = aiohttp.FormData()
            form.add_field("annotation", orjson.dumps({"annotations": [{"content": content}]}),
                           content_type="application/json", filename="annotation.json")
            form.add_field(sha, data, filename="image.png", content_type="image/png")
            started = time.perf_counter()
            async with session.post(url, data=form, headers=AUTH) as response:
                result = await response.json()
                if response.status != 200 or result["result"] != "success":
                    raise SystemExit(f"upload failed: {response.status} {str(result)[:300]}")
            latencies.append(time.perf_counter() - started)

    started = time.perf_counter()
    await asyncio.gather(*(worker() for _ in range(connections)))
    elapsed = time.perf_counter() - started
    peak = _rss_kb(server.pid, "VmHWM") / 1024
    limit = raw_file_rate(png, min(seconds, 3.0), scratch / "raw-files")
    return Row(f"uploads: {connections} connections, 1 MiB PNG + image annotation",
               len(latencies) / elapsed, "uploads/s", limit, _percentile(latencies, 0.5),
               _percentile(latencies, 0.99),
               extra=f"server peak RSS {peak:.0f} MB; limit: hash+write+fsync+rename, "
                     "1 thread")


async def bulk(session: aiohttp.ClientSession, server: ServerProcess, n: int, scratch: Path) -> Row:
    items: list[dict[str, Any]] = [{"id": f"bulk{i}", "content": _note(i)} for i in range(n)]
    elapsed = await _post(session, f"{server.base}/api/documents/bench/layers/bulk/annotations",
                          items)
    rows = [(item["id"], orjson.dumps(item).decode()) for item in items]
    limit = raw_bulk_rate(rows, scratch / "raw-bulk.sqlite")
    return Row(f"bulk: 1 request of {n:,}", n / elapsed, "ann/s", limit,
               extra=f"request took {elapsed:.2f} s")


async def singles(session: aiohttp.ClientSession, server: ServerProcess, connections: int,
                  seconds: float, scratch: Path) -> Row:
    url = f"{server.base}/api/documents/bench/layers/single/annotations"
    latencies: list[float] = []
    deadline = time.perf_counter() + seconds

    async def worker(w: int) -> None:
        i = 0
        while time.perf_counter() < deadline:
            latencies.append(await _post(session, url, [{"id": f"s{w}-{i}",
                                                         "content": _note(i)}]))
            i += 1

    started = time.perf_counter()
    await asyncio.gather(*(worker(w) for w in range(connections)))
    elapsed = time.perf_counter() - started
    limit = raw_single_rate(min(seconds, 5.0), scratch / "raw-single.sqlite")
    return Row(f"single: {connections} connections, {seconds:g} s", len(latencies) / elapsed,
               "ann/s", limit, _percentile(latencies, 0.5), _percentile(latencies, 0.99),
               extra="limit: raw SQLite, 1 row per fsynced commit")


async def ndjson(session: aiohttp.ClientSession, server: ServerProcess, n: int, data_dir: Path
                 ) -> Row:
    url = f"{server.base}/api/documents/bench/layers/big/annotations"
    for start in range(0, n, 10_000):
        await _post(session, url, [{"id": f"big{i}", "content": _note(i)}
                                   for i in range(start, min(n, start + 10_000))])
    pid = server.pid
    before, peak = _rss_kb(pid), 0
    sampling = True

    async def sample() -> None:
        nonlocal peak
        while sampling:
            peak = max(peak, _rss_kb(pid))
            await asyncio.sleep(0.02)

    sampler = asyncio.create_task(sample())
    started, count = time.perf_counter(), 0
    async with session.get(url, headers={**AUTH, "Accept": "application/x-ndjson"}) as response:
        async for line in response.content:
            count += line.strip() != b""
    elapsed = time.perf_counter() - started
    sampling = False
    await sampler
    if count != n:
        raise SystemExit(f"NDJSON returned {count} records, expected {n}")
    limit = raw_read_rate(data_dir / "readmodel.sqlite", "big")
    growth = max(0, peak - before) / 1024
    return Row(f"NDJSON read of {n:,}", count / elapsed, "ann/s", limit,
               extra=f"RSS growth {growth:.1f} MB; limit: raw SELECT of the same rows")


def build_log(data_dir: Path, events: int, layer_size: int) -> int:
    """A log of about ``events`` events: one layer of ``layer_size`` annotations created,
    then updated round after round. Returns the revision after the first round."""
    log = open_log(data_dir)
    writer = Writer(log)
    writer.start()
    writer.execute([UploadDocument("bench", None, "00", 1, False, None)])
    first_round = 0
    rounds = max(1, events // layer_size)
    with tqdm(total=rounds * layer_size, unit="ev", unit_scale=True, file=sys.stderr,
              desc="building the log") as bar:
        for round_ in range(rounds):
            command = CreateAnnotation if round_ == 0 else UpdateAnnotation
            for start in range(0, layer_size, 10_000):
                items = range(start, min(layer_size, start + 10_000))
                batch: list[Command]
                if command is CreateAnnotation:
                    batch = [CreateAnnotation("bench", "big", f"a{i}", _note(i), None, "u")
                             for i in items]
                else:
                    batch = [UpdateAnnotation("bench", "big", f"a{i}", _note(i + round_), "u")
                             for i in items]
                outcomes = writer.execute(batch)
                bar.update(len(batch))
            if round_ == 0:
                first_round = max(o.revision for o in outcomes if isinstance(o, Accepted))
    writer.stop()
    log.close()
    return first_round


def raw_notification_rate(data_dir: Path) -> float:
    """The library's own read of every notification, pages of 1,000: the rebuild limit."""
    log = open_log(data_dir)
    count, after, started = 0, 0, time.perf_counter()
    while batch := log.recorder.select_notifications(start=after, limit=1000,
                                                     inclusive_of_start=False):
        count += len(batch)
        after = batch[-1].id
    elapsed = time.perf_counter() - started
    log.close()
    return count / elapsed


async def replays(args: argparse.Namespace, scratch: Path) -> list[Row]:
    data_dir = scratch / "replay-data"
    old_revision = build_log(data_dir, args.rebuild_events, args.export_size)
    # Flush the log just written, so the kernel's write-back of half a gigabyte does not
    # run during the timed rebuild only (the raw read, timed later, would be spared it).
    os.sync()
    total = open_log(data_dir).max_revision()
    started = time.perf_counter()
    replay(open_log(data_dir), data_dir / "readmodel.sqlite")
    rebuild_rate = total / (time.perf_counter() - started)
    limit = raw_notification_rate(data_dir)
    rows = [Row(f"rebuild of a {total:,}-event log", rebuild_rate, "events/s", limit,
                extra="limit: the library's select_notifications of the same log")]
    server = ServerProcess(data_dir, free_port(), TOKEN)
    try:
        await server.ready()
        async with aiohttp.ClientSession() as session:
            url = (f"{server.base}/api/documents/bench/layers/big/document.json"
                   f"?revision={old_revision}")
            started = time.perf_counter()
            async with session.get(url, headers=AUTH) as response:
                document = await response.json()
            elapsed = time.perf_counter() - started
        count = len(document.get("annotations", []))
        if count != args.export_size:
            raise SystemExit(f"export held {count} annotations, expected {args.export_size}")
    finally:
        server.stop()
    sql_started = time.perf_counter()
    raw_layer_read(data_dir / "readmodel.sqlite", old_revision)
    sql_elapsed = time.perf_counter() - sql_started
    rows.append(Row(f"export of a {count:,}-annotation layer at revision {old_revision:,}",
                    count / elapsed, "ann/s", count / sql_elapsed, elapsed * 1000,
                    extra=f"took {elapsed:.2f} s (target ≤ 1 s); limit: raw SELECT of the "
                          "same changes rows"))
    return rows


def raw_layer_read(readmodel: Path, revision: int) -> int:
    conn = sqlite3.connect(f"file:{readmodel}?mode=ro", uri=True)
    rows = conn.execute("SELECT record FROM changes WHERE layer = 'big' AND revision <= ?",
                        [revision]).fetchall()
    conn.close()
    return len(rows)


async def sync_fanout(server: ServerProcess, clients: int, rate: float, seconds: float
                      ) -> Row:
    """``clients`` sync sockets on one layer while one writer creates ``rate`` annotations
    a second: the time from each change's commit (its event timestamp, same clock) to its
    arrival at every client."""
    delays: list[float] = []
    expected = int(rate * seconds)
    url = f"{server.base}/api/documents/bench/layers/live/sync"
    async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=0)) as listening, \
            aiohttp.ClientSession() as session:
        sockets = [await listening.ws_connect(url, headers=AUTH) for _ in range(clients)]

        async def listen(ws: aiohttp.ClientWebSocketResponse) -> None:
            seen = 0
            while seen < expected:
                frame = await ws.receive()
                if frame.type != aiohttp.WSMsgType.TEXT:
                    raise SystemExit(f"a sync client was closed: {frame.type.name} "
                                     f"{ws.close_code} {frame.extra}")
                message = orjson.loads(frame.data)
                if message["type"] == "change":
                    arrived = time.time()
                    committed = datetime.fromisoformat(message["at"].replace("Z", "+00:00"))
                    delays.append(arrived - committed.timestamp())
                    seen += 1

        listeners = [asyncio.create_task(listen(ws)) for ws in sockets]
        await asyncio.sleep(1.0)  # every client connected and caught up
        started = time.perf_counter()
        writes = []
        for i in range(expected):  # open loop: one write every 1/rate s, answered or not
            writes.append(asyncio.create_task(_post(
                session, f"{server.base}/api/documents/bench/layers/live/annotations",
                [{"id": f"live{i}", "content": _note(i)}])))
            pause = started + (i + 1) / rate - time.perf_counter()
            if pause > 0:
                await asyncio.sleep(pause)
        await asyncio.gather(*writes)
        achieved = expected / (time.perf_counter() - started)
        await asyncio.wait_for(asyncio.gather(*listeners), 60)
        for ws in sockets:
            await ws.close()
    return Row(f"sync: {clients} clients, one writer at {rate:g}/s", achieved, "changes/s", 0,
               _percentile(delays, 0.5), _percentile(delays, 0.99),
               extra=f"commit to every client; {len(delays):,} deliveries (target p99 "
                     "≤ 50 ms)")


async def _run(args: argparse.Namespace, scratch: Path) -> list[Row]:
    data_dir = scratch / "data"
    server = ServerProcess(data_dir, free_port(), TOKEN, ANNOLOG_MAX_BATCH="100000")
    rows: list[Row] = []
    try:
        connector = aiohttp.TCPConnector(limit=args.connections)
        timeout = aiohttp.ClientTimeout(total=600)
        async with aiohttp.ClientSession(connector=connector, timeout=timeout) as session:
            await server.ready()
            await _upload(session, server, scratch)
            print("uploads ...", file=sys.stderr)
            rows.append(await uploads(session, server, args.connections,
                                      args.upload_duration, scratch))
            print("bulk ...", file=sys.stderr)
            rows.append(await bulk(session, server, args.bulk, scratch))
            print("concurrent single writes ...", file=sys.stderr)
            rows.append(await singles(session, server, args.connections, args.duration,
                                      scratch))
            print("NDJSON ...", file=sys.stderr)
            rows.append(await ndjson(session, server, args.ndjson, data_dir))
            if args.pdf_annotations:
                print("PDF download and upload ...", file=sys.stderr)
                rows.extend(await pdfs(session, server, args.pdf_annotations, scratch))
        if args.sync_clients:
            print("live sync ...", file=sys.stderr)
            rows.append(await sync_fanout(server, args.sync_clients, args.sync_rate,
                                          args.sync_duration))
        peak = _rss_kb(server.pid, "VmHWM") / 1024
    finally:
        server.stop()
    if args.rebuild_events:
        print("rebuild and export ...", file=sys.stderr)
        rows.extend(await replays(args, scratch))
    rows.append(Row("server peak RSS (MB)", peak, "MB", 0))
    return rows


def _pdf_record(i: int, pages: int) -> dict[str, Any]:
    """One of four kinds (note, rectangle, ink, highlight), laid out over ``pages`` pages."""
    x, y = (i // pages) % 20 * 28 + 10, (i // (pages * 20)) % 6 * 120 + 20
    kind = ({"type": "pspdfkit/note", "bbox": [x, y, 24, 24],
             "text": {"format": "plain", "value": f"note {i}"}},
            {"type": "pspdfkit/shape/rectangle", "bbox": [x, y, 24, 40], "strokeWidth": 2,
             "strokeColor": "#FF0000"},
            {"type": "pspdfkit/ink", "bbox": [x, y, 24, 40], "lineWidth": 2,
             "strokeColor": "#000000", "isDrawnNaturally": False,
             "lines": {"points": [[[x + j, y + (j * 7) % 40] for j in range(20)]],
                       "intensities": [[1] * 20]}},
            {"type": "pspdfkit/markup/highlight", "bbox": [x, y, 24, 12], "color": "#FFFF00",
             "rects": [[x, y, 24, 12]]})[i % 4]
    return {"id": f"p{i}", "content": {"v": 2, "pageIndex": i % pages, "opacity": 1, **kind}}


async def pdfs(session: aiohttp.ClientSession, server: ServerProcess, count: int,
               scratch: Path) -> list[Row]:
    """The annotated download of a 100-page PDF holding ``count`` annotations, and the
    upload of that download (its annotations read back as records), each beside pikepdf's
    plain open and save of the same file in the same run."""
    path = scratch / "pdf-100.pdf"
    pdf = pikepdf.new()
    for _ in range(100):
        pdf.add_blank_page(page_size=(612, 792))
    pdf.save(path)
    async with session.post(f"{server.base}/api/documents", data=path.read_bytes(), headers={
            **AUTH, "Content-Type": "application/pdf"}) as response:
        document = (await response.json())["data"]["document_id"]
    for start in range(0, count, 10_000):
        await _post(session, f"{server.base}/api/documents/{document}/annotations",
                    [_pdf_record(i, 100) for i in range(start, min(count, start + 10_000))])
    url = f"{server.base}/api/documents/{document}/pdf"
    times, annotated = [], b""
    for _ in range(3):
        started = time.perf_counter()
        async with session.get(url, headers=AUTH) as response:
            annotated = await response.read()
        times.append(time.perf_counter() - started)
    download = statistics.median(times)
    plain = _plain_save(path, scratch / "plain.pdf")
    rows = [Row(f"annotated PDF download: 100 pages, {count:,} annotations", 1 / download,
                "downloads/s", 1 / plain, extra=f"took {download:.2f} s; pikepdf's plain save "
                f"of the PDF {plain:.3f} s; {len(annotated) / 1e6:.1f} MB")]
    started = time.perf_counter()
    async with session.post(f"{server.base}/api/documents", data=annotated, headers={
            **AUTH, "Content-Type": "application/pdf"}) as response:
        errors = (await response.json())["data"]["errors"]
    upload = time.perf_counter() - started
    (scratch / "annotated.pdf").write_bytes(annotated)
    plain = _plain_save(scratch / "annotated.pdf", scratch / "plain-annotated.pdf")
    rows.append(Row(f"upload of that PDF, its {count:,} annotations read as records",
                    1 / upload, "uploads/s", 1 / plain,
                    extra=f"took {upload:.2f} s ({len(errors)} unread); pikepdf's plain "
                          f"save of it {plain:.3f} s"))
    return rows


def _plain_save(source: Path, target: Path) -> float:
    started = time.perf_counter()
    with pikepdf.open(source) as pdf:
        pdf.save(target)
    return time.perf_counter() - started


async def _upload(session: aiohttp.ClientSession, server: ServerProcess, scratch: Path
                  ) -> None:
    path = scratch / "bench.pdf"
    pdf = pikepdf.new()
    pdf.add_blank_page()
    pdf.add_blank_page()
    pdf.save(path)
    form = aiohttp.FormData()
    form.add_field("file", path.read_bytes(), filename="bench.pdf",
                   content_type="application/pdf")
    form.add_field("document_id", "bench")
    async with session.post(f"{server.base}/api/documents", data=form,
                            headers=AUTH) as response:
        if response.status != 200:
            raise SystemExit(f"upload failed: {await response.text()}")


def run_bench(args: argparse.Namespace) -> int:
    # A SIGTERM (from `timeout`, say) becomes SystemExit, so the scratch servers are stopped.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit("annolog bench: terminated"))
    # The load generator is Python too: with the default thresholds its collector ran
    # several times a second during the sync scenario (20,000 messages/s), and each pause
    # was measured as delivery delay. The server runs with the same setting.
    gc.set_threshold(50_000, 20, 100)
    with tempfile.TemporaryDirectory(prefix="annolog-bench-") as scratch:
        # The load generator shares the two cores with the servers: uvloop keeps its share
        # small, as the server's own loop does.
        if args.database:
            rows = uvloop.run(run_cluster(args, Path(scratch)))
        else:
            rows = uvloop.run(_run(args, Path(scratch)))
    print("| scenario | annolog | p50 ms | p99 ms | raw limit (same run) | ratio | notes |")
    print("|---|---:|---:|---:|---:|---:|---|")
    for row in rows[:-1]:
        print(row.line())
    print(f"\nserver peak RSS: {rows[-1].rate:.0f} MB; load average "
          f"{os.getloadavg()[0]:.2f}; {os.cpu_count()} CPUs; one run: rerun to see the noise")
    return 0


# ---- a cluster on PostgreSQL (annolog bench --database URL) --------------------------------

def raw_postgres_rates(url: str, rows: list[tuple[str, str]], seconds: float
                       ) -> tuple[float, float]:
    """(bulk rows/s in one transaction, single-row commits/s) of raw psycopg, same rows."""
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute("CREATE TEMP TABLE t (id text PRIMARY KEY, record text)")
        started = time.perf_counter()
        with conn.transaction(), conn.cursor() as cursor:
            cursor.executemany("INSERT INTO t VALUES (%s, %s)", rows)
        bulk_rate = len(rows) / (time.perf_counter() - started)
        count, started = 0, time.perf_counter()
        while time.perf_counter() - started < seconds:
            conn.execute("INSERT INTO t VALUES (%s, %s)", (f"s{count}", rows[0][1]))
            count += 1
        return bulk_rate, count / (time.perf_counter() - started)


async def cluster_singles(session: aiohttp.ClientSession, servers: list[ServerProcess],
                          connections: int, seconds: float) -> tuple[Row, Row]:
    """Single writes spread over every process, and how long the next process takes to
    show each sampled write (read lag)."""
    latencies: list[float] = []
    lags: list[float] = []
    deadline = time.perf_counter() + seconds

    async def worker(w: int) -> None:
        i = 0
        while time.perf_counter() < deadline:
            node = (w + i) % len(servers)
            url = f"{servers[node].base}/api/documents/bench/layers/single/annotations"
            body = orjson.dumps({"annotations": [{"id": f"s{w}-{i}", "content": _note(i)}]})
            started = time.perf_counter()
            async with session.post(url, data=body, headers={
                    **AUTH, "Content-Type": "application/json"}) as response:
                revision = (await response.json())["revision"]
            acknowledged = time.perf_counter()
            latencies.append(acknowledged - started)
            if i % 10 == 0:  # sample: wait for the next process to show this write
                other = servers[(node + 1) % len(servers)]
                async with session.get(f"{other.base}/healthcheck", headers={
                        "Annolog-Min-Revision": str(revision), **AUTH}) as response:
                    await response.read()
                lags.append(time.perf_counter() - acknowledged)
            i += 1

    started = time.perf_counter()
    await asyncio.gather(*(worker(w) for w in range(connections)))
    rate = len(latencies) / (time.perf_counter() - started)
    writes = Row(f"single: {connections} connections over {len(servers)} processes",
                 rate, "ann/s", 0, _percentile(latencies, 0.5), _percentile(latencies, 0.99))
    lag = Row(f"read lag to another process ({len(lags)} samples)", 0, "ms", 0,
              _percentile(lags, 0.5), _percentile(lags, 0.99),
              extra="includes one HTTP round trip")
    return writes, lag


def _check_database(url: str) -> None:
    """A URL the cluster scenarios can use, or an AuditError that says why not."""
    try:
        postgres_env(url)
    except ValueError as error:
        raise AuditError(f"--database: {error}") from None
    if "schema" in parse_qs(urlsplit(url).query):
        raise AuditError("--database: leave ?schema= out: the benchmark makes a schema of "
                         "its own, and its raw limits use the URL as psycopg takes it")


async def run_cluster(args: argparse.Namespace, scratch: Path) -> list[Row]:
    _check_database(args.database)
    schema = f"bench_{int(time.time())}"
    try:
        with psycopg.connect(args.database, autocommit=True) as conn:
            conn.execute(f'CREATE SCHEMA "{schema}"')
    except psycopg.Error as error:
        reason = " ".join(str(error).split())
        raise AuditError(f"--database: cannot create a schema there ({reason})") from None
    url = f"{args.database}{'&' if '?' in args.database else '?'}schema={schema}"
    servers = [ServerProcess(scratch / f"node{i}" / "data", free_port(), TOKEN,
                             ANNOLOG_DATABASE_URL=url, ANNOLOG_BLOB_DIR=str(scratch / "blobs"),
                             ANNOLOG_MAX_BATCH="100000") for i in range(3)]
    rows: list[Row] = []
    try:
        await asyncio.gather(*(s.ready() for s in servers))
        connector = aiohttp.TCPConnector(limit=args.connections)
        async with aiohttp.ClientSession(connector=connector,
                                         timeout=aiohttp.ClientTimeout(total=600)) as session:
            await _upload(session, servers[0], scratch)
            print("bulk ...", file=sys.stderr)
            items: list[dict[str, Any]] = [{"id": f"bulk{i}", "content": _note(i)}
                                           for i in range(args.bulk)]
            elapsed = await _post(session, f"{servers[0].base}/api/documents/bench/layers/"
                                           "bulk/annotations", items)
            raw_bulk, raw_single = raw_postgres_rates(
                args.database, [(i["id"], orjson.dumps(i).decode()) for i in items], 3.0)
            rows.append(Row(f"bulk: 1 request of {args.bulk:,}", args.bulk / elapsed, "ann/s",
                            raw_bulk, extra="limit: raw psycopg executemany, 1 transaction"))
            print("single writes over three processes ...", file=sys.stderr)
            writes, lag = await cluster_singles(session, servers, args.connections,
                                                args.duration)
            writes.limit = raw_single
            writes.extra = "limit: raw psycopg, 1 row per commit, 1 connection"
            rows += [writes, lag]
            print("NDJSON ...", file=sys.stderr)
            rows.append(await ndjson(session, servers[0], args.ndjson,
                                     scratch / "node0" / "data"))
        peak = max(_rss_kb(s.pid, "VmHWM") for s in servers) / 1024
        rows.append(Row("server peak RSS (MB)", peak, "MB", 0))
    finally:
        for server in servers:
            server.stop()
        with psycopg.connect(args.database, autocommit=True) as conn:
            conn.execute(f'DROP SCHEMA "{schema}" CASCADE')
    return rows
