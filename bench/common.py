"""What the benchmarks share: real services, child processes, signed bodies, /proc figures, output.

Every figure is one JSON line on stdout; progress goes to stderr. Traffic only goes to 127.0.0.1.
"""

from __future__ import annotations

import copy
import json
import math
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from ops.services import RedisServer, stop_process
from receiver.authentication import sign

REPO = Path(__file__).resolve().parents[1]
EVENTS = REPO / "tests" / "data" / "events"
TOKEN = "bench-secret-token"
WEBHOOK_PATH = "/zoom-webhook"
CLOCK_TICKS = os.sysconf("SC_CLK_TCK")


def stop_on_sigterm() -> None:
    """SIGTERM (e.g. from `timeout`) unwinds like Ctrl-C, so every started process is stopped."""
    signal.signal(signal.SIGTERM, lambda signum, frame: sys.exit(128 + signum))


def log(message: str) -> None:
    print(f"[bench {time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


def rounded(value: float | None, digits: int = 3) -> float | None:
    return None if value is None else round(value, digits)


def emit(bench: str, figure: str, value: float | None, baseline: float | None = None, **extra: Any) -> None:
    """One figure: value, the baseline measured in the same run, and value/baseline."""
    ratio = value / baseline if value is not None and baseline else None
    record: dict[str, Any] = {"bench": bench, "figure": figure, "value": rounded(value)}
    record["baseline"] = rounded(baseline)
    record["ratio"] = rounded(ratio)
    # The machine is shared: how busy it was when the figure was taken.
    record["load_average"] = [round(load, 2) for load in os.getloadavg()]
    record.update({key: item for key, item in extra.items() if item is not None})
    print(json.dumps(record), flush=True)


def percentile(values: Sequence[float], p: float) -> float:
    ordered = sorted(values)
    if not ordered:
        return math.nan
    return ordered[max(0, math.ceil(p / 100 * len(ordered)) - 1)]


# --- bodies and requests ---------------------------------------------------------------------------


def reference_events() -> list[dict[str, Any]]:
    folder = EVENTS
    files = sorted(path for path in folder.glob("*.ndjson") if not path.name.endswith(".expected.ndjson"))
    if not files:
        raise SystemExit(f"no reference events in {folder} ")
    events: list[dict[str, Any]] = []
    for path in files:
        for line in path.read_text().splitlines():
            parsed = json.loads(line) if line.strip() else None
            if isinstance(parsed, dict) and isinstance(parsed.get("event"), str):
                events.append(parsed)
    return [event for event in events if event["event"] != "endpoint.url_validation"]


def distinct_bodies(count: int) -> list[bytes]:
    """`count` reference-shaped bodies, all different (hence `count` distinct documents): each gets
    its own event_ts, and the object's string id/uuid gets a suffix."""
    references = reference_events()
    base = int(time.time() * 1000)
    bodies = []
    for number in range(count):
        body = copy.deepcopy(references[number % len(references)])
        body["event_ts"] = base + number
        payload = body.get("payload")
        target = payload.get("object") if isinstance(payload, dict) else None
        if isinstance(target, dict):
            for key in ("id", "uuid"):
                if isinstance(target.get(key), str):
                    target[key] = f"{target[key]}-b{number}"
        bodies.append(json.dumps(body, separators=(",", ":"), ensure_ascii=False).encode())
    return bodies


def signed_request(body: bytes, port: int, path: str = WEBHOOK_PATH) -> bytes:
    """A complete HTTP/1.1 request as Zoom would send it, signed now (valid for 2 hours)."""
    stamp = str(int(time.time()))
    head = (
        f"POST {path} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nContent-Type: application/json; charset=utf-8"
        f"\r\nContent-Length: {len(body)}\r\nx-zm-request-timestamp: {stamp}\r\n"
        f"x-zm-signature: {sign(TOKEN.encode(), stamp, body)}\r\n\r\n"
    )
    return head.encode() + body


def write_requests(path: Path, requests: Sequence[bytes]) -> Path:
    """Length-prefixed raw requests ("<n>\\n<n bytes>"), read by bench/httpload.py and wrk's Lua."""
    with path.open("wb") as out:
        for request in requests:
            out.write(b"%d\n" % len(request) + request)
    return path


def read_requests(path: Path) -> list[bytes]:
    data = path.read_bytes()
    requests, position = [], 0
    while position < len(data):
        newline = data.index(b"\n", position)
        size = int(data[position:newline])
        requests.append(data[newline + 1 : newline + 1 + size])
        position = newline + 1 + size
    return requests


# --- services and processes ------------------------------------------------------------------------


@contextmanager
def redis_server() -> Iterator[RedisServer]:
    directory = Path(tempfile.mkdtemp(prefix="zoom-bench-redis-"))
    server = RedisServer(directory)
    try:
        yield server.start()
    finally:
        server.stop()
        shutil.rmtree(directory, ignore_errors=True)


def service_environment(
    redis_url: str, es_url: str = "", namespace: str = "default", **extra: str
) -> dict[str, str]:
    environment = {key: value for key, value in os.environ.items() if not key.startswith("ZOOM_INGEST_")}
    environment["PYTHONPATH"] = os.pathsep.join(filter(None, [str(REPO), os.environ.get("PYTHONPATH")]))
    environment.update(
        {
            "ZOOM_INGEST_REDIS_URL": redis_url,
            "ZOOM_INGEST_NAMESPACE": namespace,
            "ZOOM_INGEST_SECRET_TOKENS": TOKEN,
            "ZOOM_INGEST_WEBHOOK_PATH": WEBHOOK_PATH,
        }
    )
    if es_url:
        environment["ZOOM_INGEST_ES_HOSTS"] = es_url
    environment.update({f"ZOOM_INGEST_{key.upper()}": value for key, value in extra.items()})
    return environment


def pinned(command: list[str], cpus: str | None) -> list[str]:
    return ["taskset", "-c", cpus, *command] if cpus else command


@contextmanager
def spawn(
    command: list[str], environment: dict[str, str], log_path: Path, cpus: str | None = None
) -> Iterator[subprocess.Popen[bytes]]:
    """A child process for the duration of the block (pinned to `cpus` when given)."""
    with log_path.open("ab") as output:
        process = subprocess.Popen(
            pinned(command, cpus), env=environment, stdout=output, stderr=output, cwd=REPO
        )
    try:
        yield process
    finally:
        stop_process(process, timeout=20)


def zoom_ingest(*arguments: str) -> list[str]:
    return [sys.executable, "-m", "ops.cli", "--log-level", "WARNING", *arguments]


# --- /proc figures ---------------------------------------------------------------------------------


def _stat_fields(pid: int) -> list[str]:
    text = Path(f"/proc/{pid}/stat").read_text()
    return text[text.rindex(")") + 2 :].split()


def process_tree(pid: int) -> list[int]:
    """`pid` and all its descendants alive now (uvicorn workers, taskset's exec'd child...)."""
    parents: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                parents.setdefault(int(_stat_fields(int(entry.name))[1]), []).append(int(entry.name))
            except (OSError, ValueError, IndexError):
                continue
    tree, pending = [], [pid]
    while pending:
        current = pending.pop()
        tree.append(current)
        pending.extend(parents.get(current, []))
    return tree


def peak_rss_mb(pid: int) -> float:
    """Sum of the peak RSS (VmHWM) of the process and its descendants, in MiB."""
    total = 0
    for member in process_tree(pid):
        try:
            for line in Path(f"/proc/{member}/status").read_text().splitlines():
                if line.startswith("VmHWM:"):
                    total += int(line.split()[1])
        except OSError:
            continue
    return total / 1024


def cpu_seconds(pid: int) -> float:
    """CPU time (user + system) of the process tree so far."""
    total = 0
    for member in process_tree(pid):
        try:
            fields = _stat_fields(member)
            total += int(fields[11]) + int(fields[12])
        except (OSError, ValueError, IndexError):
            continue
    return total / CLOCK_TICKS


def cpu_busy_ticks() -> dict[str, tuple[int, int]]:
    """Per CPU from /proc/stat: (busy ticks, total ticks); busy counts irq and softirq time, which
    loopback networking spends outside any process's own CPU time."""
    ticks = {}
    for line in Path("/proc/stat").read_text().splitlines():
        name, *values = line.split()
        if name.startswith("cpu") and name != "cpu":
            numbers = [int(value) for value in values[:8]]
            ticks[name] = (sum(numbers) - numbers[3] - numbers[4], sum(numbers))
    return ticks


def cpu_busy_since(before: dict[str, tuple[int, int]]) -> dict[str, float]:
    """Fraction of each CPU busy since `before` (a cpu_busy_ticks() sample)."""
    after = cpu_busy_ticks()
    busy = {}
    for name, (busy_after, total_after) in after.items():
        busy_before, total_before = before.get(name, (0, 0))
        busy[name] = round((busy_after - busy_before) / max(1, total_after - total_before), 3)
    return busy


def pin(pid: int, cpus: set[int]) -> None:
    """Set the CPU affinity of every thread of an already running process."""
    for task in Path(f"/proc/{pid}/task").iterdir():
        os.sched_setaffinity(int(task.name), cpus)
