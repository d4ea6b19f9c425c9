"""A tiny aiohttp server (binds 127.0.0.1): python aiohttp_server.py PORT. /hello answers "hi"."""

import sys

from aiohttp import web


async def hello(request):
    return web.Response(text="hi")


app = web.Application()
app.router.add_get("/hello", hello)
web.run_app(app, host="127.0.0.1", port=int(sys.argv[1]), print=None)
