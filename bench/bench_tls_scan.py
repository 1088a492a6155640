"""Benchmark: live TLS scans of many endpoints, concurrent vs sequential.

Starts N real TLS servers on 127.0.0.1 (demo/tls_servers.py) in a
child process, so the servers do not compete with the scanner for this
process's GIL or count in its memory, with an optional delay before every
TLS handshake to stand in for a network round trip. Then scans every
endpoint through the collector's real fetch (one sslyze scan, one Recorder
per endpoint) twice in the same run: at the default concurrency
(TlsTuning().concurrency) and at concurrency 1. Prints wall times, the
speed-up, scans per second and the peak RSS of this process per phase.

    .venv/bin/python bench/bench_tls_scan.py [--endpoints 50] [--latency-ms 20] [--concurrency 8]
"""

from __future__ import annotations

import argparse
import multiprocessing as mp
import os
import ssl
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from _common import PeakRss

from collectors.endpoint.base import EndpointTarget, TlsTuning
from collectors.endpoint.tls import scan_endpoints


def serve(n: int, latency: float, ca_dir: str, conn: mp.connection.Connection) -> None:
    """Child process: N TLS servers (every 5th one also allows TLS 1.0), until told to stop."""
    from demo.tls_ca import TestCA
    from demo.tls_servers import LEGACY_CIPHERS, MODERN_CIPHERS, TlsServer

    ca = TestCA(Path(ca_dir))
    servers = []
    for i in range(n):
        name = f"ep{i:03d}.bench.dexo.chat"
        legacy = i % 5 == 0
        servers.append(
            TlsServer(
                ca.issue([name]),
                minimum=ssl.TLSVersion.TLSv1 if legacy else ssl.TLSVersion.TLSv1_2,
                ciphers=LEGACY_CIPHERS if legacy else MODERN_CIPHERS,
                legacy=legacy,
                hsts=not legacy,
                name=name,
                latency_seconds=latency,
            ).start()
        )
    conn.send({"ca_bundle": str(ca.bundle_path), "endpoints": [(s.name, s.port) for s in servers]})
    conn.recv()  # stop
    for s in servers:
        s.stop()


def phase(targets: list[EndpointTarget], tuning: TlsTuning) -> tuple[float, int, int]:
    with PeakRss() as rss:
        started = time.perf_counter()
        recorders = scan_endpoints(targets, tuning)
        wall = time.perf_counter() - started
    errors = sum(1 for r in recorders for c in r.bundle.all("tls", "ScanServer") if not c.ok)
    return wall, rss.peak, errors


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--endpoints", type=int, default=50)
    ap.add_argument("--latency-ms", type=float, default=20.0, help="delay before each TLS handshake (0 = none)")
    ap.add_argument("--concurrency", type=int, default=TlsTuning().concurrency)
    ap.add_argument("--timeout", type=float, default=10.0)
    args = ap.parse_args()

    with tempfile.TemporaryDirectory(prefix="bench-tls-") as tmp:
        parent, child = mp.Pipe()
        proc = mp.get_context("spawn").Process(
            target=serve, args=(args.endpoints, args.latency_ms / 1000, tmp, child), daemon=True
        )
        proc.start()
        info = parent.recv()
        targets = [EndpointTarget(name, port, address="127.0.0.1") for name, port in info["endpoints"]]
        base = {"timeout_seconds": args.timeout, "ca_bundle": info["ca_bundle"]}
        print(
            f"{args.endpoints} endpoints on 127.0.0.1 (servers in child pid {proc.pid}), "
            f"{args.latency_ms:g} ms before each handshake, {os.cpu_count()} CPUs"
        )
        # warm-up: imports, trust stores (not measured)
        scan_endpoints(targets[:1], TlsTuning(**base, concurrency=1))
        rows = []
        for concurrency in (args.concurrency, 1):
            wall, peak, errors = phase(targets, TlsTuning(**base, concurrency=concurrency))
            rows.append((concurrency, wall, peak, errors))
            print(
                f"concurrency {concurrency:>2}: {wall:7.2f} s wall, {args.endpoints / wall:6.2f} scans/s, "
                f"peak RSS {peak / 2**20:6.1f} MiB, {errors} scan errors"
            )
        parent.send("stop")
        proc.join(timeout=30)
    speedup = rows[1][1] / rows[0][1]
    print(f"speed-up concurrency {args.concurrency} vs 1: {speedup:.1f}x (target >= 5x)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
