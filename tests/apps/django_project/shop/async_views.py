"""Views served under ASGI: an async view calling another service with httpx, an async
view that raises, and the sync ORM view (``views.db``) that Django runs in a thread."""

import os

import httpx

from django.http import JsonResponse


async def async_user(request, pk):
    async with httpx.AsyncClient(timeout=10) as client:
        response = await client.get(os.environ["UPSTREAM_URL"] + "/users/%d" % pk)
    return JsonResponse({"id": pk, "upstream": response.status_code})


async def async_error(request):
    raise RuntimeError("async boom")
