"""A Python load generator (httpx, asyncio) for smoke tests; prints one JSON line.

It is itself the bottleneck above ~100 req/s: a ratio it drives is never a figure
(`harness.record(..., generator=harness.PYTHON_LOADGEN)` stores it as unmeasurable)."""

from __future__ import annotations

import argparse
import asyncio
import json
import time
import uuid
from datetime import UTC, datetime

import httpx
import numpy as np

from bench.synthetic import post_body


async def generate(
    url: str, *, seconds: float, connections: int, token: str | None, idempotency: bool
) -> dict[str, float]:
    headers = {"Content-Type": "application/json"}
    if token:
        headers["Authorization"] = f"Bearer {token}"
    counts = {"requests": 0, "status_errors": 0, "connect": 0, "read": 0, "write": 0, "timeout": 0}
    latencies: list[float] = []
    limits = httpx.Limits(max_connections=connections, max_keepalive_connections=connections)
    now = datetime.now(UTC)
    run_id = uuid.uuid4().hex[:12]  # fresh keys even when the database is reused
    async with httpx.AsyncClient(headers=headers, limits=limits, timeout=10.0) as client:
        started = time.perf_counter()
        deadline = started + seconds

        async def worker(wid: int) -> None:
            rng = np.random.default_rng(wid)
            n = 0
            while time.perf_counter() < deadline:
                n += 1
                extra = {"Idempotency-Key": f"bench-{run_id}-{wid}-{n}"} if idempotency else None
                body = post_body(rng, f"{wid}-{n}", now=now)
                t0 = time.perf_counter()
                try:
                    response = await client.post(url, content=body, headers=extra)
                except httpx.TimeoutException:
                    counts["timeout"] += 1
                    continue
                except httpx.ConnectError:
                    counts["connect"] += 1
                    continue
                except httpx.HTTPError:
                    counts["read"] += 1
                    continue
                latencies.append(time.perf_counter() - t0)
                counts["requests"] += 1
                if not 200 <= response.status_code < 300:
                    counts["status_errors"] += 1

        await asyncio.gather(*(worker(i) for i in range(connections)))
        elapsed = time.perf_counter() - started
    lat = np.asarray(latencies or [0.0])
    return {
        **counts,
        "duration_us": elapsed * 1e6,
        "p50_ms": float(np.percentile(lat, 50) * 1000),
        "p99_ms": float(np.percentile(lat, 99) * 1000),
    }


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("url")
    parser.add_argument("--seconds", type=float, default=8.0)
    parser.add_argument("--connections", type=int, default=16)
    parser.add_argument("--token")
    parser.add_argument("--idempotency", action="store_true")
    args = parser.parse_args()
    result = asyncio.run(
        generate(
            args.url,
            seconds=args.seconds,
            connections=args.connections,
            token=args.token,
            idempotency=args.idempotency,
        )
    )
    print(json.dumps(result))


if __name__ == "__main__":
    main()
