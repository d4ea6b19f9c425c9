"""The plugin API's one-span-per-statement claim and the SQL commenter's comment."""

import asyncio

from otel_autoinstrument.instrumentation.db import (
    claim_statement, release_statement, statement_owner, traceparent_comment, with_comment)
from otel_autoinstrument.trace.span import INVALID_SPAN, NonRecordingSpan, SpanContext


def _span(flags=1):
    return NonRecordingSpan(SpanContext(0x0AF7651916CD43DD8448EB211C80319C, 0xB7AD6B7169203331, flags))


def test_a_claim_is_seen_until_released_and_nests():
    outer, inner = _span(), _span(0)
    assert statement_owner() is None
    token = claim_statement(outer)
    assert statement_owner() is outer
    nested = claim_statement(inner)
    assert statement_owner() is inner
    release_statement(nested)
    assert statement_owner() is outer
    release_statement(token)
    assert statement_owner() is None
    release_statement(token)  # a used token: the claim stays over, no error
    assert statement_owner() is None


def test_a_claim_stays_in_its_task():
    async def main():
        token = claim_statement(_span())

        async def other():
            return statement_owner()

        seen = await asyncio.get_running_loop().create_task(other())  # a copy of this context
        release_statement(token)
        fresh = await asyncio.get_running_loop().create_task(other())
        return seen, fresh

    seen, fresh = asyncio.run(main())
    assert seen is not None and fresh is None


def test_comment_is_the_sqlcommenter_traceparent():
    assert traceparent_comment(_span()) == "/*traceparent='00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01'*/"
    assert traceparent_comment(_span(0)).endswith("-00'*/")
    assert with_comment("SELECT 1", _span()) == "SELECT 1 " + traceparent_comment(_span())
    assert with_comment("SELECT 1", INVALID_SPAN) == "SELECT 1"
    assert with_comment(b"SELECT 1", _span()) == b"SELECT 1"  # only str statements are changed
