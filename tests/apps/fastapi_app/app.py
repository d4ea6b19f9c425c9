"""A FastAPI service for the end-to-end tests; it knows nothing about OpenTelemetry.

Served by uvicorn (alone, ``--workers``, ``--reload``), gunicorn with uvicorn workers and
hypercorn. ``DOWNSTREAM_URL`` (optional) is another instance of this app: ``/chain/{n}``
calls it four ways (httpx AsyncClient, an ``asyncio`` task, urllib3 in a thread pool,
and urllib3 in a background task after the response).
"""

import asyncio
import logging
import os

import httpx
import urllib3
from fastapi import BackgroundTasks, Depends, FastAPI, Request
from fastapi.responses import JSONResponse, PlainTextResponse, StreamingResponse
from starlette.concurrency import run_in_threadpool

DOWNSTREAM = os.environ.get("DOWNSTREAM_URL", "")
log = logging.getLogger("fastapi_app")
app = FastAPI()


def greeting():
    """A dependency (sync: FastAPI runs it in its thread pool)."""
    return "hi"


@app.get("/")
async def root():
    return PlainTextResponse("hello")


@app.get("/health")
async def health():
    return PlainTextResponse("ok")


@app.get("/pid")
async def pid():
    return PlainTextResponse(str(os.getpid()))


@app.get("/users/{user_id}")
async def user(user_id: int, hello: str = Depends(greeting)):
    return {"id": user_id, "greeting": hello}


@app.post("/echo")
async def echo(request: Request):
    return PlainTextResponse(await request.body())


@app.get("/echo-headers")
async def echo_headers(request: Request):
    return JSONResponse({name: value for name, value in request.headers.items()})


@app.get("/error")
async def error():
    raise RuntimeError("boom")


@app.get("/stream")
async def stream():
    async def chunks():
        for chunk in ("a", "b", "c"):
            yield chunk

    return StreamingResponse(chunks(), media_type="text/plain")


@app.get("/slow-stream")
async def slow_stream(delay: float = 0.1):
    async def chunks():
        for i, chunk in enumerate(("a", "b", "c")):
            if i:
                await asyncio.sleep(delay)
            yield chunk

    return StreamingResponse(chunks(), media_type="text/plain")


@app.get("/events")
async def events(count: int = 200):
    """Server-sent events, one every 50 ms, until ``count`` or the client leaves."""
    async def feed():
        for i in range(count):
            yield "data: %d\n\n" % i
            await asyncio.sleep(0.05)

    return StreamingResponse(feed(), media_type="text/event-stream")


def downstream_status(path):
    return urllib3.request("GET", DOWNSTREAM + path, timeout=10).status


def after_response(item_id):
    log.warning("background task for %s", item_id)
    downstream_status("/users/%d" % item_id)


@app.get("/chain/{item_id}")
async def chain(item_id: int, background: BackgroundTasks, hello: str = Depends(greeting)):
    async with httpx.AsyncClient(timeout=10) as client:
        first = await client.get(DOWNSTREAM + "/users/%d" % item_id)
        echoed = await asyncio.create_task(client.get(DOWNSTREAM + "/echo-headers"))
    threaded = await run_in_threadpool(downstream_status, "/users/%d" % item_id)
    background.add_task(after_response, item_id)
    return {"user": first.json(), "echoed": echoed.json(), "threaded": threaded, "greeting": hello}
