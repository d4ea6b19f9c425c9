"""Instrumenting SQLAlchemy leaves SQLAlchemy's event semantics as they were.

In-process, with the real instrumentor and an in-memory SQLite database: the agent
listens on each engine, never on the ``Engine`` class, so engines it does not trace keep
``_has_events`` False, and the application's own listeners behave as SQLAlchemy's own
tests (test/engine/test_execute.py) expect: a new engine has no events until it is first
connected, when the agent starts listening to it.
"""

from unittest.mock import Mock

import pytest
from sqlalchemy import create_engine, event, select
from sqlalchemy.engine import Connection, Engine

from otel_autoinstrument.instrumentors.sqlalchemy import SQLAlchemyInstrumentor
from otel_autoinstrument.testing import InMemoryAgent


@pytest.fixture
def instrumented():
    """``(instrument(imported_before_start=False), agent)``: the instrumentor on the testing
    kit's in-memory agent (strict), undone after the test."""
    with InMemoryAgent() as memory:
        def instrument(imported_before_start=False):
            instrumentor = SQLAlchemyInstrumentor()
            instrumentor.imported_before_start = imported_before_start
            return memory.instrument(instrumentor)

        yield instrument, memory


def statements(memory):
    return [span.attributes["db.query.text"] for span in memory.spans]


def test_no_class_level_flag_while_instrumented_or_after(instrumented):
    instrument, memory = instrumented
    instrumentor = instrument()
    engine = create_engine("sqlite://")
    with engine.connect() as conn:
        conn.execute(select(1))
    assert statements(memory) == ["SELECT ?"]
    assert Engine._has_events is False and getattr(Connection, "_has_events", False) is False
    instrumentor.uninstrument()
    assert len(engine.dispatch.before_cursor_execute) == 0  # the agent's listeners are gone
    assert not create_engine("sqlite://")._has_events  # an engine nobody listens to


def test_add_event_after_connect(instrumented):
    """SQLAlchemy's own test, on a traced engine: a listener the application adds after
    connecting reaches the open connection."""
    instrument, memory = instrumented
    instrument()
    canary = Mock()
    e1 = create_engine("sqlite://")
    assert not e1._has_events  # SQLAlchemy's test starts with this, under the agent too
    conn = e1.connect()
    event.listen(e1, "before_execute", canary.be1)
    conn.execute(select(1))
    assert canary.be1.call_count == 1
    conn.execute(select(1))
    assert canary.be1.call_count == 2
    conn.close()
    assert statements(memory) == ["SELECT ?", "SELECT ?"]


def test_add_event_after_connect_on_an_engine_the_agent_does_not_trace(instrumented):
    """The same test exactly as SQLAlchemy runs it, once the agent is uninstrumented:
    an engine it does not trace has no events."""
    instrument, memory = instrumented
    instrument().uninstrument()
    canary = Mock()
    e1 = create_engine("sqlite://")
    assert not e1._has_events
    conn = e1.connect()
    event.listen(e1, "before_execute", canary.be1)
    conn.execute(select(1))
    assert canary.be1.call_count == 1
    conn.close()
    assert memory.spans == []


def test_force_conn_events_false(instrumented):
    """SQLAlchemy's own test: a connection made with ``_has_events=False`` dispatches none
    of its engine's events, the agent's included."""
    instrument, memory = instrumented
    instrument()
    canary = Mock()
    e1 = create_engine("sqlite://")
    assert not e1._has_events
    event.listen(e1, "before_execute", canary.be1)
    conn = e1._connection_cls(e1, connection=e1.raw_connection(), _has_events=False)
    conn.execute(select(1))
    assert canary.be1.call_count == 0
    conn.close()
    assert memory.spans == []


def test_copies_async_engines_and_engines_made_before(instrumented):
    instrument, memory = instrumented
    before = create_engine("sqlite://")
    open_before = before.connect()
    copy_before = before.execution_options(compiled_cache=None)
    instrument(imported_before_start=True)
    engine = create_engine("sqlite://")
    copy_after = engine.execution_options(compiled_cache=None)
    from sqlalchemy.ext.asyncio import create_async_engine

    async_engine = create_async_engine("sqlite+aiosqlite://")
    for number, target in enumerate((open_before, copy_before, engine, copy_after)):
        if isinstance(target, Connection):
            target.execute(select(number))
        else:
            with target.connect() as conn:
                conn.execute(select(number))
    open_before.close()
    assert statements(memory) == ["SELECT ?"] * 4
    assert not async_engine.sync_engine._has_events  # not connected yet

    async def query():
        async with async_engine.connect() as conn:
            await conn.execute(select(4))
        await async_engine.dispose()

    import asyncio

    asyncio.run(query())
    assert statements(memory) == ["SELECT ?"] * 5
    assert not Engine._has_events


def test_generative_engine_event_dispatch_hasevents(instrumented):
    """SQLAlchemy's own test: a new engine has no events; a copy made after a listener
    was added has them."""
    instrument, memory = instrumented
    instrument()
    eng = create_engine("sqlite://")
    assert not eng._has_events
    event.listen(eng, "before_execute", lambda *args, **kwargs: None)
    assert eng.execution_options(foo="bar")._has_events


def test_a_copy_connected_first_traces_through_its_parent_once(instrumented):
    """Connecting through an ``execution_options()`` copy listens on the root engine: the
    parent and every copy are traced, each statement once."""
    instrument, memory = instrumented
    instrument()
    engine = create_engine("sqlite://")
    copy = engine.execution_options(foo="bar").execution_options(bar="baz")
    for target in (copy, engine, engine.execution_options(x=1)):
        with target.connect() as conn:
            conn.execute(select(1))
    assert statements(memory) == ["SELECT ?"] * 3
    assert len(engine.dispatch.before_cursor_execute) == 1


def test_threads_connecting_first_at_once_listen_once(instrumented):
    import threading

    instrument, memory = instrumented
    instrument()
    engine = create_engine("sqlite://")
    start = threading.Barrier(8)

    def connect():
        start.wait()
        engine.connect().close()

    threads = [threading.Thread(target=connect) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(engine.dispatch.before_cursor_execute) == 1
    with engine.connect() as conn:
        conn.execute(select(1))
    assert statements(memory) == ["SELECT ?"]


def test_an_engine_that_refuses_a_listener_is_left_alone_and_reported_once(instrumented, monkeypatch):
    """SQLAlchemy's test_recycle_pool_no_race swaps in a mock dialect whose ``handle_error``
    dispatch is a list: listening fails. The engine gets none of the agent's listeners
    (not half of them), its connections work, and the failure is reported once, not at
    every connect."""
    import otel_autoinstrument.instrumentors.sqlalchemy as module

    instrument, memory = instrumented
    instrument()
    engine = create_engine("sqlite://")
    dialect = Mock(wraps=engine.dialect)
    dialect.dispatch = Mock(handle_error=[])
    dialect.name = "sqlite"
    engine.dialect = dialect
    errors = []
    monkeypatch.setattr(module, "internal_error", errors.append)
    for _ in range(3):
        engine.connect().close()
    assert errors == ["sqlalchemy: listening to an engine"]
    assert len(engine.dispatch.before_cursor_execute) == 0
    assert len(engine.dispatch.after_cursor_execute) == 0


class Replaced(Exception):
    pass


def test_a_failed_statement_ends_its_span_even_when_the_application_replaces_the_error(instrumented):
    """SQLAlchemy stops at the first handle_error listener that raises (the documented way
    to replace an error): the agent's runs before the application's, so the span ends and
    the statement's claim is released."""
    from otel_autoinstrument.instrumentation.db import statement_owner
    from sqlalchemy import text

    instrument, memory = instrumented
    instrument()
    engine = create_engine("sqlite://")

    @event.listens_for(engine, "handle_error")
    def replace(context):
        raise Replaced("the application's own error")

    with engine.connect() as conn:
        with pytest.raises(Replaced):
            conn.execute(text("SELECT * FROM missing"))
        assert statement_owner() is None
        conn.execute(select(1))
    failed, ok = memory.spans
    assert failed.attributes["error.type"].endswith("OperationalError") and failed.status_code == 2
    assert ok.attributes["db.query.text"] == "SELECT ?"


def test_statements_that_skip_error_events_are_not_traced(instrumented):
    """skip_user_error_events (the MySQL dialect's table probes) runs no handle_error: a
    span started for such a statement would never end if it failed."""
    from otel_autoinstrument.instrumentation.db import statement_owner
    from sqlalchemy import exc, text

    instrument, memory = instrumented
    instrument()
    engine = create_engine("sqlite://")
    with engine.connect() as conn:
        with pytest.raises(exc.OperationalError):
            conn.execution_options(skip_user_error_events=True).execute(text("SELECT * FROM missing"))
        assert statement_owner() is None
    assert memory.spans == []


def test_uninstrument_while_a_first_connect_listens_leaves_no_listener(instrumented):
    import threading

    instrument, memory = instrumented
    instrumentor = instrument()
    engines = [create_engine("sqlite://") for _ in range(20)]
    start = threading.Barrier(2)

    def connect_all():
        start.wait()
        for engine in engines:
            engine.connect().close()

    thread = threading.Thread(target=connect_all)
    thread.start()
    start.wait()
    instrumentor.uninstrument()
    thread.join()
    # Listeners were added before uninstrument() or not at all: none left behind.
    assert [len(e.dispatch.before_cursor_execute) for e in engines] == [0] * 20
