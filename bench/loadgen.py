"""Running the load generators from a benchmark: wrk (closed loop) and bench/httpload.py."""

from __future__ import annotations

import json
import resource
import subprocess
import sys
from pathlib import Path
from typing import Any

from bench.common import WEBHOOK_PATH, pinned

# Reads the length-prefixed requests written by bench.common.write_requests and cycles through
# them; done() prints the figures as one JSON line.
WRK_LUA = """
local requests = {}
local file = assert(io.open("%s", "rb"))
local data = file:read("*a")
file:close()
local position = 1
while position <= #data do
  local newline = data:find("\\n", position, true)
  local size = tonumber(data:sub(position, newline - 1))
  requests[#requests + 1] = data:sub(newline + 1, newline + size)
  position = newline + size + 1
end
local counter = 0
request = function()
  counter = counter + 1
  return requests[(counter - 1) %% #requests + 1]
end
done = function(summary, latency, requests)
  local e = summary.errors
  io.write(string.format('WRKJSON {"requests": %%d, "duration_us": %%d, "connect": %%d, "read": %%d, ' ..
    '"write": %%d, "status": %%d, "timeout": %%d, "p50_us": %%.0f, "p99_us": %%.0f, "max_us": %%.0f}\\n',
    summary.requests, summary.duration, e.connect, e.read, e.write, e.status, e.timeout,
    latency:percentile(50), latency:percentile(99), latency.max))
end
"""


def wrk_script(path: Path, requests: Path) -> Path:
    path.write_text(WRK_LUA % requests)
    return path


def children_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def run_wrk(port: int, script: Path, connections: int, duration: float, cpus: str | None) -> dict[str, Any]:
    """One wrk thread, `connections` keep-alive connections, closed loop, for `duration` seconds."""
    command = ["wrk", "-t1", f"-c{connections}", f"-d{duration:g}s", "--timeout", "10s", "-s", str(script)]
    before = children_cpu()
    completed = subprocess.run(
        pinned([*command, f"http://127.0.0.1:{port}{WEBHOOK_PATH}"], cpus),
        capture_output=True,
        text=True,
        timeout=duration + 60,
        check=True,
    )
    line = next(line for line in completed.stdout.splitlines() if line.startswith("WRKJSON "))
    result: dict[str, Any] = json.loads(line.removeprefix("WRKJSON "))
    seconds = result["duration_us"] / 1e6
    errors = sum(result[key] for key in ("connect", "read", "write", "status", "timeout"))
    result.update({"seconds": seconds, "req_per_s": result["requests"] / seconds, "errors": errors})
    result["loadgen_cpu_util"] = (children_cpu() - before) / seconds
    return result


def run_httpload(port: int, requests: Path, cpus: str | None, *arguments: str) -> dict[str, Any]:
    """bench/httpload.py in its own process (pinned to `cpus`); its JSON result."""
    command = [sys.executable, "-m", "bench.httpload", *arguments, "--port", str(port)]
    completed = subprocess.run(
        pinned([*command, "--requests", str(requests)], cpus),
        capture_output=True,
        text=True,
        timeout=900,
        check=True,
    )
    result: dict[str, Any] = json.loads(completed.stdout)
    result["loadgen_cpu_util"] = result["cpu_util"]
    return result
