"""A load generator for the daemon: N concurrent clients speaking, stopping and querying over
loopback HTTP for a fixed time, then a JSON report on stdout.

Run as a child process (``python -m support.load --port P --token T --seconds S`` in tests/) so the
clients' own work does not share an interpreter, a GIL or a CPU budget with the test's clocks.
Every client keeps one connection, as the browser extension or a script would, and waits a
little between requests (people and programs do not send back to back).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import random
import time
from collections import Counter, defaultdict
from typing import Any

import httpx2

TEXTS = [
    "A short notice.",
    "The harbour master counted the boats returning through the fog before the tide turned.",
    "Reading aloud under load. Every request is answered, and the queue stays bounded.",
]

#: (weight, name): what the clients do, in what proportion.
ACTIONS = [
    (30, "speak_queue"),
    (5, "speak_interrupt"),
    (20, "stop"),
    (25, "status"),
    (5, "voices"),
    (5, "toggle"),
    (5, "skip"),
    # A whole synthesis each, on the engine the speech queue uses: a few, as real clients send.
    (1, "openai"),
]


async def client(
    number: int,
    http: httpx2.AsyncClient,
    start: asyncio.Event,
    until: list[float],
    report: dict[str, Any],
    think: tuple[float, float],
    actions: list[tuple[int, str]],
) -> None:
    rng = random.Random(number)
    names = [name for _, name in actions]
    weights = [weight for weight, _ in actions]
    async with http:
        await http.get("/healthz")  # connect before the clock runs
        await start.wait()
        await asyncio.sleep(rng.uniform(*think))  # not all at once
        while time.monotonic() < until[0]:
            action = rng.choices(names, weights)[0]
            began = time.perf_counter()
            try:
                response = await _request(http, action, rng)
            except httpx2.HTTPError as error:
                report["errors"][f"{action}: {type(error).__name__}"] += 1
                continue
            elapsed = time.perf_counter() - began
            report["latency"][action].append(elapsed)
            report["status"][f"{action} {response.status_code}"] += 1
            if response.status_code == 429:
                message = response.json()["error"]["message"]
                report["messages_429"].add(message.split(";")[0][:80])
            if action == "status" and response.status_code == 200:
                report["max_queued"] = max(report["max_queued"], response.json()["queued"])
            await asyncio.sleep(rng.uniform(*think))


async def _request(http: httpx2.AsyncClient, action: str, rng: random.Random) -> httpx2.Response:
    if action.startswith("speak"):
        mode = "queue" if action == "speak_queue" else "interrupt"
        return await http.post("/v1/speak", json={"text": rng.choice(TEXTS), "mode": mode})
    if action == "openai":
        body = {"input": rng.choice(TEXTS[:2]), "response_format": "pcm"}
        response = await http.post("/v1/audio/speech", json=body)
        return response
    if action == "status":
        return await http.get("/v1/status")
    if action == "voices":
        return await http.get("/v1/voices")
    if action == "skip":
        return await http.post("/v1/skip", json={"count": 1})
    return await http.post(f"/v1/{action}", json={})


async def run(
    port: int,
    token: str,
    clients: int,
    seconds: float,
    think: tuple[float, float],
    actions: list[tuple[int, str]],
) -> dict[str, Any]:
    report: dict[str, Any] = {
        "latency": defaultdict(list),
        "status": Counter(),
        "errors": Counter(),
        "messages_429": set(),
        "max_queued": 0,
    }
    base = f"http://127.0.0.1:{port}"
    headers = {"Authorization": f"Bearer {token}"}
    # Made before the clock starts: making a client costs milliseconds of CPU (its TLS
    # context), which would otherwise land on the first requests as fake latency.
    https = [httpx2.AsyncClient(base_url=base, headers=headers, timeout=30) for _ in range(clients)]
    start, until = asyncio.Event(), [0.0]
    tasks = [
        asyncio.create_task(client(n, http, start, until, report, think, actions))
        for n, http in enumerate(https)
    ]
    await asyncio.sleep(1.0)  # every client connected
    began = time.monotonic()
    until[0] = began + seconds
    start.set()
    await asyncio.gather(*tasks)
    elapsed = time.monotonic() - began
    requests = sum(len(v) for v in report["latency"].values())
    return {
        "clients": clients,
        "seconds": round(elapsed, 2),
        "requests": requests,
        "requests_per_s": round(requests / elapsed, 1),
        "latency_ms": {
            action: _percentiles(values) for action, values in sorted(report["latency"].items())
        },
        "status": dict(sorted(report["status"].items())),
        "errors": dict(report["errors"]),
        "messages_429": sorted(report["messages_429"]),
        "max_queued": report["max_queued"],
    }


def _percentiles(values: list[float]) -> dict[str, float]:
    ordered = sorted(values)

    def at(share: float) -> float:
        return round(ordered[min(len(ordered) - 1, int(share * len(ordered)))] * 1000, 2)

    return {"n": len(ordered), "p50": at(0.50), "p99": at(0.99), "max": at(1.0)}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--token", required=True)
    parser.add_argument("--clients", type=int, default=50)
    parser.add_argument("--seconds", type=float, default=30.0)
    # 100-300 ms between requests: 50 clients send ~250 requests/s, far beyond any desktop's
    # use yet short of pure saturation, where every figure would only measure CPU queueing.
    parser.add_argument("--think-ms", type=float, nargs=2, default=(100.0, 300.0))
    parser.add_argument(
        "--actions", nargs="*", metavar="NAME=WEIGHT", help="another mix than ACTIONS"
    )
    args = parser.parse_args()
    think = (args.think_ms[0] / 1000, args.think_ms[1] / 1000)
    actions = ACTIONS
    if args.actions:
        actions = [(int(w), n) for n, _, w in (a.partition("=") for a in args.actions)]
    result = asyncio.run(run(args.port, args.token, args.clients, args.seconds, think, actions))
    print(json.dumps(result))


if __name__ == "__main__":
    main()
