"""The baseline server: a bare Starlette endpoint that reads the body and answers 200, served with
exactly the receiver's uvicorn settings.

    python -m bench.bare_app --port P [--workers N]

It goes through `receiver.server.serve` with `uvicorn.run` intercepted so that only the application
changes: whatever host, workers, loop/http implementation, keep-alive or access-log settings the
receiver uses (today or after a change), the baseline uses too. The settings used are logged to
stderr. GET /bare answers 200 so the benchmark can check it is talking to this app.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from typing import Any

import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from shared.config import env_name, load_settings

APP = "bench.bare_app:create_app"


async def accept(request: Request) -> Response:
    await request.body()
    return JSONResponse({"status": "queued"})


async def marker(request: Request) -> Response:
    return JSONResponse({"app": "bare"})


def create_app() -> Starlette:
    path = os.environ.get(env_name("webhook_path"), "/zoom-webhook")
    return Starlette(routes=[Route(path, accept, methods=["POST"]), Route("/bare", marker)])


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.bare_app")
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--workers", type=int, default=1)
    arguments = parser.parse_args()
    os.environ[env_name("listen_port")] = str(arguments.port)
    settings = load_settings()
    original_run = uvicorn.run

    def run_bare(app: Any, **options: Any) -> None:
        shown = {key: value for key, value in options.items() if "ssl" not in key}
        settings = json.dumps(shown, default=repr)  # http= may be a protocol class
        print(f"bare app under the receiver's uvicorn settings: {settings}", file=sys.stderr)
        original_run(APP, **(options | {"factory": True}))

    uvicorn.run = run_bare
    from receiver.server import serve

    serve(settings, workers=arguments.workers)


if __name__ == "__main__":
    main()
