"""The baseline server: a plain Starlette endpoint that reads the body and answers 200, started the
way a user starts one, `uvicorn bench.bare_app:app` with uvicorn's defaults (uvloop and the httptools
parser that `uvicorn[standard]` installs, access log on). GET /bare answers 200 so the benchmark can
check it is talking to this app.
"""

from __future__ import annotations

import os
import sys

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from shared.config import env_name


async def accept(request: Request) -> Response:
    await request.body()
    return JSONResponse({"status": "queued"})


async def marker(request: Request) -> Response:
    return JSONResponse({"app": "bare"})


def command(workers: int = 1) -> list[str]:
    """`uvicorn bench.bare_app:app` (plus `--workers N` when N > 1); the caller adds `--port P`."""
    options = ["--workers", str(workers)] if workers > 1 else []
    return [sys.executable, "-m", "uvicorn", "bench.bare_app:app", *options]


app = Starlette(
    routes=[
        Route(os.environ.get(env_name("webhook_path"), "/zoom-webhook"), accept, methods=["POST"]),
        Route("/bare", marker),
    ]
)
