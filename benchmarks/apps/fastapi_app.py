"""FastAPI app for the web scenarios (served by uvicorn: `uvicorn fastapi_app:app`).

/trivial    returns a short string
/realistic  an async route with a dependency: one httpx AsyncClient call to the local
            upstream (a client shared by the requests, as services do), one log line
Configured by env: BENCH_UPSTREAM_URL.
"""
import logging
import os
import sys

import httpx
from fastapi import Depends, FastAPI
from fastapi.responses import PlainTextResponse

UPSTREAM = os.environ.get("BENCH_UPSTREAM_URL", "http://127.0.0.1:9/")

# Deterministic logging for every contender, as in flask_app.py.
root = logging.getLogger()
root.setLevel(logging.INFO)
_handler = logging.StreamHandler(sys.stderr)
_handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s %(message)s"))
root.addHandler(_handler)
log = logging.getLogger("bench.fastapi")

app = FastAPI()
_client = None


def client():
    global _client
    if _client is None:
        _client = httpx.AsyncClient(timeout=10)
    return _client


def tenant():
    return "acme"


@app.get("/trivial")
async def trivial():
    return PlainTextResponse("ok")


@app.get("/realistic")
async def realistic(who: str = Depends(tenant)):
    up = await client().get(UPSTREAM)
    log.info("served %s (upstream %s)", who, up.status_code)
    return {"tenant": who, "upstream": up.status_code, "items": up.json()["items"]}
