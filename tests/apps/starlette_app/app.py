"""A plain Starlette service for the end-to-end tests (no FastAPI), served by hypercorn.

A mounted sub-application, an async route that raises, and a server-sent event stream
that a client leaves in the middle.
"""

import asyncio

from starlette.applications import Starlette
from starlette.responses import JSONResponse, PlainTextResponse, StreamingResponse
from starlette.routing import Mount, Route


async def item(request):
    return JSONResponse({"id": int(request.path_params["item_id"])})


async def boom(request):
    await asyncio.sleep(0)
    raise ValueError("async boom")


async def events(request):
    async def feed():
        for i in range(200):  # 10 s at most
            yield "data: %d\n\n" % i
            await asyncio.sleep(0.05)

    return StreamingResponse(feed(), media_type="text/event-stream")


async def home(request):
    return PlainTextResponse("home")


api = Starlette(routes=[Route("/items/{item_id:int}", item)])
app = Starlette(routes=[
    Route("/", home),
    Route("/boom", boom),
    Route("/events", events),
    Mount("/api/v1", app=api),
])
