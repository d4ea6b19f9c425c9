"""The logging instrumentor in-process: what an exported record holds, which records are
exported, and that the application's own logging behaves exactly as without it.

The log records are kept in memory by the testing kit's agent; everything else is real:
the ``logging`` module, the agent, its log pipeline, tracer and spans."""

import logging
import logging.config
import threading

import pytest

from otel_autoinstrument import _log
from otel_autoinstrument.instrumentors.logging import (
    DEFAULT_FORMAT, LoggingInstrumentor, severity_number)
from otel_autoinstrument.testing import InMemoryAgent
from otel_autoinstrument.trace.context import suppress, unsuppress


class Listing(logging.Handler):
    """What the application's own handler sees."""

    def __init__(self, level=logging.NOTSET):
        super().__init__(level)
        self.records = []

    def emit(self, record):
        self.records.append(record)


class Instrumented:
    """The logging instrumentor on an in-memory agent (``otel_autoinstrument.testing``)."""

    def __init__(self, **env):
        environ = {"OTEL_TRACES_EXPORTER": "none", "OTEL_SERVICE_NAME": "unit-svc"}
        environ.update(env)
        self.memory = InMemoryAgent(environ, strict=False)  # the logging_state fixture is strict
        self.agent = self.memory.agent
        self.tracer = self.agent.tracer("unit")
        self.instrumentor = self.memory.instrument(LoggingInstrumentor())

    @property
    def records(self):
        return self.memory.logs

    def bodies(self):
        return [r.body for r in self.records]


@pytest.fixture(autouse=True)
def logging_state(monkeypatch):
    """Strict mode, and the process's logging exactly as it was after each test."""
    monkeypatch.setattr(_log, "STRICT", True)
    root = logging.getLogger()
    saved = (list(root.handlers), root.level, logging.getLogRecordFactory(), logging.lastResort,
             logging.Logger.__dict__["callHandlers"], logging.setLogRecordFactory)
    made = []
    yield made
    for instrumented in made:
        instrumented.instrumentor.uninstrument()
    root.handlers[:] = saved[0]
    root.setLevel(saved[1])
    logging.setLogRecordFactory(saved[2])
    logging.lastResort = saved[3]
    assert logging.Logger.__dict__["callHandlers"] is saved[4]
    assert logging.setLogRecordFactory is saved[5]


@pytest.fixture
def instrumented(logging_state):
    def make(**env):
        made = Instrumented(**env)
        logging_state.append(made)
        return made

    return make


def logger(name, level=logging.DEBUG, handler=True):
    log = logging.getLogger("unit." + name)
    log.setLevel(level)
    log.propagate = True
    log.disabled = False
    log.handlers[:] = []
    listing = Listing()
    if handler:
        log.addHandler(listing)
    return log, listing


# --- severity -------------------------------------------------------------------------


def test_severity_of_the_standard_levels():
    assert [severity_number(n) for n in (10, 20, 30, 40, 50)] == [5, 9, 13, 17, 21]


def test_custom_levels_map_to_the_nearest_band():
    assert severity_number(5) == 4          # a TRACE level below DEBUG: the top of TRACE
    assert severity_number(1) == 2
    assert severity_number(15) == 8         # between DEBUG and INFO: DEBUG4
    assert severity_number(21) == 10        # INFO2
    assert severity_number(25) == 12        # between INFO and WARNING: INFO4
    assert severity_number(35) == 16
    assert severity_number(45) == 20
    assert severity_number(55) == 24        # above CRITICAL: FATAL4
    assert severity_number(100) == 24
    assert severity_number(0) == 1


# --- the exported record ---------------------------------------------------------------


def test_record_fields(instrumented):
    agent = instrumented()
    log, listing = logger("fields")
    log.info("hello %s", "world")
    line = test_record_fields.__code__.co_firstlineno + 3  # the log.info line
    (record,) = agent.records
    (seen,) = listing.records
    assert record.body == "hello world"
    assert (record.severity_number, record.severity_text) == (9, "INFO")
    assert record.scope.name == "unit.fields"
    assert record.time_ns == int(seen.created * 1e9)
    assert record.observed_ns >= record.time_ns
    attrs = record.attributes
    assert attrs["code.file.path"] == __file__
    assert attrs["code.function.name"] == "test_record_fields"
    assert attrs["code.line.number"] == line
    assert attrs["thread.id"] == threading.get_ident()
    assert attrs["thread.name"] == threading.current_thread().name
    assert (record.trace_id, record.span_id) == (0, 0)
    assert set(attrs) == {"code.file.path", "code.function.name", "code.line.number", "thread.id",
                          "thread.name"}


def test_ids_of_the_active_span(instrumented):
    agent = instrumented()
    log, _ = logger("span")
    with agent.tracer.start_as_current_span("outer") as outer:
        log.warning("in outer")
        with agent.tracer.start_as_current_span("inner") as inner:
            log.warning("in inner")
    log.warning("after")
    by_body = {r.body: r for r in agent.records}
    assert (by_body["in outer"].trace_id, by_body["in outer"].span_id) == (
        outer.context.trace_id, outer.context.span_id)
    assert (by_body["in inner"].trace_id, by_body["in inner"].span_id) == (
        inner.context.trace_id, inner.context.span_id)
    assert by_body["in inner"].trace_flags == 1
    assert (by_body["after"].trace_id, by_body["after"].span_id) == (0, 0)


def test_extra_values(instrumented):
    agent = instrumented()
    log, listing = logger("extra")

    class Order:
        def __str__(self):
            return "order-7"

    log.info("placed", extra={"user": "bob", "count": 3, "ratio": 0.5, "vip": True, "order": Order(),
                              "items": [1, 2], "missing": None})
    attrs = agent.records[0].attributes
    assert attrs["user"] == "bob" and attrs["count"] == 3 and attrs["ratio"] == 0.5 and attrs["vip"] is True
    assert attrs["order"] == "order-7"
    assert attrs["items"] == "[1, 2]"
    assert "missing" not in attrs
    # nothing of the standard LogRecord fields, nor of the correlation fields
    for standard in ("msg", "args", "levelname", "pathname", "created", "process", "otelTraceID", "message"):
        assert standard not in attrs
    assert listing.records[0].user == "bob"  # the application's handler saw the record as given


def test_an_unprintable_extra_value(instrumented):
    agent = instrumented()
    log, _ = logger("unprintable")

    class Broken:
        def __str__(self):
            raise ValueError("no")

    log.info("x", extra={"thing": Broken()})
    assert agent.records[0].attributes["thing"] == "<unprintable test_an_unprintable_extra_value.<locals>.Broken>"


def test_exception_attributes(instrumented):
    agent = instrumented()
    log, _ = logger("exc")
    try:
        {}["key"]
    except KeyError:
        log.exception("lookup failed")
    record = agent.records[0]
    assert (record.severity_number, record.severity_text, record.body) == (17, "ERROR", "lookup failed")
    attrs = record.attributes
    assert attrs["exception.type"] == "KeyError"
    assert attrs["exception.message"] == "'key'"
    assert attrs["exception.stacktrace"].startswith("Traceback (most recent call last):")
    assert 'in test_exception_attributes\n    {}["key"]' in attrs["exception.stacktrace"]
    assert attrs["exception.stacktrace"].endswith("KeyError: 'key'")


def test_exception_type_is_qualified_and_the_formatters_text_reused(instrumented):
    import json

    agent = instrumented()
    log, listing = logger("exc2")
    formatter = logging.Formatter("%(message)s")
    original_emit = listing.emit

    def emit(record):
        formatter.format(record)  # caches record.exc_text, as any formatting handler does
        original_emit(record)

    listing.emit = emit
    try:
        json.loads("{")
    except ValueError:
        log.error("bad json", exc_info=True)
    attrs = agent.records[0].attributes
    assert attrs["exception.type"] == "json.decoder.JSONDecodeError"
    assert attrs["exception.stacktrace"] == listing.records[0].exc_text


def test_exception_outside_an_except_block_has_no_exception_attributes(instrumented):
    agent = instrumented()
    log, _ = logger("noexc")
    log.exception("nothing is being handled")
    assert "exception.type" not in agent.records[0].attributes


def test_a_message_that_cannot_be_formatted(instrumented, capsys):
    agent = instrumented()
    log, _ = logger("badfmt", handler=False)
    log.propagate = False  # pytest's own capture handler raises on a logging error
    log.addHandler(logging.StreamHandler())
    log.warning("%d items", "many")
    assert agent.records[0].body == "%d items ('many',)"
    assert "--- Logging error ---" in capsys.readouterr().err  # the app's handler reports it, as usual


def test_attribute_limits(instrumented):
    agent = instrumented(OTEL_LOGRECORD_ATTRIBUTE_COUNT_LIMIT="6", OTEL_LOGRECORD_ATTRIBUTE_VALUE_LENGTH_LIMIT="4")
    log, _ = logger("limits")
    log.info("x", extra={"a": "abcdefgh", "b": 1, "c": 2})
    record = agent.records[0]
    assert len(record.attributes) == 6 and record.dropped_attributes == 2
    assert record.attributes["a"] == "abcd"
    assert record.attributes["thread.name"] == threading.current_thread().name[:4]


# --- which records --------------------------------------------------------------------


def test_export_level(instrumented):
    agent = instrumented(OTEL_PYTHON_LOG_LEVEL="warning")
    log, listing = logger("level")
    log.debug("d")
    log.info("i")
    log.log(25, "custom 25")
    log.warning("w")
    log.log(35, "custom 35")
    assert agent.bodies() == ["w", "custom 35"]
    assert [r.severity_number for r in agent.records] == [13, 16]
    assert len(listing.records) == 5  # the application's handler still sees everything


def test_default_export_level_is_info_and_custom_level_names(instrumented):
    agent = instrumented()
    logging.addLevelName(25, "NOTICE")
    try:
        log, _ = logger("default-level")
        log.debug("d")
        log.log(25, "notice")
    finally:
        logging.addLevelName(25, "Level 25")
    assert [(r.body, r.severity_number, r.severity_text) for r in agent.records] == [("notice", 12, "NOTICE")]


def test_records_the_logger_does_not_handle_are_not_exported(instrumented):
    agent = instrumented()
    log, _ = logger("gated", level=logging.WARNING)
    log.info("below the logger's level")
    log.addFilter(lambda record: "secret" not in record.getMessage())
    log.warning("a secret")
    log.disabled = True
    log.error("disabled")
    assert agent.records == []


def test_a_logger_that_does_not_propagate_is_exported(instrumented):
    agent = instrumented()
    log, listing = logger("server")
    log.propagate = False
    root_listing = Listing()
    logging.getLogger().addHandler(root_listing)
    log.warning("from a non-propagating logger")
    assert agent.bodies() == ["from a non-propagating logger"]
    assert len(listing.records) == 1 and root_listing.records == []


def test_each_record_is_exported_once_however_many_handlers_and_ancestors(instrumented):
    agent = instrumented()
    parent, _ = logger("tree")
    child = logging.getLogger("unit.tree.child")
    child.addHandler(Listing())
    child.addHandler(Listing())
    logging.getLogger().addHandler(Listing())
    child.warning("once")
    assert agent.bodies() == ["once"]


def test_the_agents_own_logger_is_not_exported(instrumented, capsys):
    agent = instrumented()
    _log.attach_logger()
    _log.warning("agent says %s", "hi")
    logging.getLogger("otel_autoinstrument.sub").warning("also the agent")
    assert agent.records == []
    assert "otel-autoinstrument WARNING: agent says hi" in capsys.readouterr().err


def test_records_logged_in_the_export_thread_reach_nobody(instrumented, capsys):
    agent = instrumented()
    log, listing = logger("urllib3ish")
    seen = []

    def export_thread():
        token = suppress()
        try:
            log.warning("connection pool is full")
            _log.warning("the agent's own message still shows")
        finally:
            unsuppress(token)
        seen.append(True)

    thread = threading.Thread(target=export_thread)
    thread.start()
    thread.join(10)
    assert seen and agent.records == [] and listing.records == []
    assert "the agent's own message still shows" in capsys.readouterr().err


def test_logging_while_converting_a_record_does_not_loop_and_leaves_no_trace(instrumented):
    agent = instrumented()
    log, listing = logger("str-logs")

    class Chatty:
        def __str__(self):
            log.warning("__str__ was called")
            return "chatty"

    log.info("value", extra={"value": Chatty()})
    assert agent.bodies() == ["value"]
    assert agent.records[0].attributes["value"] == "chatty"
    assert [r.getMessage() for r in listing.records] == ["value"]


def test_a_handler_that_logs_from_emit_does_not_loop(instrumented):
    agent = instrumented()
    log, _ = logger("app", handler=False)
    audit, audit_listing = logger("audit")
    audit.propagate = False

    class Auditing(logging.Handler):
        def emit(self, record):
            audit.info("handled %s", record.getMessage())

    log.addHandler(Auditing())
    # A root handler that logs from emit, guarded as such handlers must be.
    guard = threading.local()

    class RootAuditing(logging.Handler):
        def emit(self, record):
            if getattr(guard, "busy", False):
                return
            guard.busy = True
            try:
                logging.getLogger("unit.root-audit").warning("root saw %s", record.getMessage())
            finally:
                guard.busy = False

    logging.getLogger().addHandler(RootAuditing())
    log.warning("order placed")
    assert sorted(agent.bodies()) == ["handled order placed", "order placed", "root saw order placed"]
    assert [r.getMessage() for r in audit_listing.records] == ["handled order placed"]


# --- the application's logging is unchanged -----------------------------------------------


def test_no_handler_is_added_and_basic_config_still_configures(instrumented, capsys):
    agent = instrumented()
    root = logging.getLogger()
    root.handlers[:] = []
    assert root.handlers == []
    log = logging.getLogger("unit.basic")
    log.setLevel(logging.NOTSET)
    log.handlers[:] = []
    log.warning("through lastResort")
    assert capsys.readouterr().err == "through lastResort\n"
    logging.basicConfig(format="app: %(levelname)s %(message)s")
    log.warning("through basicConfig")
    assert capsys.readouterr().err == "app: WARNING through basicConfig\n"
    assert agent.bodies() == ["through lastResort", "through basicConfig"]


def test_dict_config_replacing_handlers_keeps_exporting(instrumented):
    agent = instrumented()
    existing, _ = logger("existing")
    collected = Listing()
    logging.config.dictConfig({
        "version": 1, "disable_existing_loggers": True,
        "handlers": {"mine": {"()": lambda: collected}},
        "root": {"handlers": ["mine"], "level": "INFO"},
    })
    logging.getLogger("unit.created-after").info("after dictConfig")
    existing.error("disabled by dictConfig")  # not handled, so not exported either
    assert agent.bodies() == ["after dictConfig"]
    assert [r.getMessage() for r in collected.records] == ["after dictConfig"]
    logging.shutdown(list(logging._handlerList))  # closes every handler, as dictConfig does
    logging.getLogger("unit.created-after").info("after shutdown of every handler")
    assert agent.bodies()[-1] == "after shutdown of every handler"
    assert agent.agent.logs.processors[0].shutdowns == 0


def test_instrumenting_twice_exports_once(instrumented):
    agent = instrumented()
    again = LoggingInstrumentor()
    again.instrument(agent.agent)
    try:
        log, _ = logger("twice")
        log.warning("once")
        assert agent.bodies() == ["once"]
    finally:
        again.uninstrument()


def test_uninstrument_restores_logging(logging_state):
    before = (logging.Logger.__dict__["callHandlers"], logging.setLogRecordFactory,
              logging.getLogRecordFactory(), logging.lastResort)
    made = Instrumented(OTEL_PYTHON_LOG_CORRELATION="true")
    assert logging.lastResort is not before[3]
    made.instrumentor.uninstrument()
    assert (logging.Logger.__dict__["callHandlers"], logging.setLogRecordFactory,
            logging.getLogRecordFactory(), logging.lastResort) == before


def test_logs_exporter_none_exports_nothing_but_correlates(instrumented):
    agent = instrumented(OTEL_LOGS_EXPORTER="none")
    assert agent.agent.logs is None
    log, listing = logger("none")
    with agent.tracer.start_as_current_span("s") as span:
        log.warning("w")
    assert listing.records[0].otelTraceID == "%032x" % span.context.trace_id


# --- correlation fields -------------------------------------------------------------------


def test_correlation_fields(instrumented):
    agent = instrumented()
    log, listing = logger("fields-text")
    formatter = logging.Formatter("%(otelTraceID)s %(otelSpanID)s %(otelTraceSampled)s %(otelServiceName)s "
                                  "%(message)s")
    log.warning("outside")
    with agent.tracer.start_as_current_span("s") as span:
        log.warning("inside")
    outside, inside = [formatter.format(r) for r in listing.records]
    assert outside == "%s %s False unit-svc outside" % ("0" * 32, "0" * 16)
    assert inside == "%032x %016x True unit-svc inside" % (span.context.trace_id, span.context.span_id)


def test_a_factory_set_later_is_wrapped_too(instrumented):
    agent = instrumented()

    class AppRecord(logging.LogRecord):
        pass

    logging.setLogRecordFactory(AppRecord)  # replaces without chaining
    log, listing = logger("factory")
    with agent.tracer.start_as_current_span("s") as span:
        log.warning("w")
    record = listing.records[0]
    assert type(record) is AppRecord
    assert record.otelSpanID == "%016x" % span.context.span_id

    previous = logging.getLogRecordFactory()

    def chaining(*args, **kwargs):  # the documented way: call the previous factory
        record = previous(*args, **kwargs)
        record.request_id = "r-1"
        return record

    logging.setLogRecordFactory(chaining)
    log.warning("chained")
    assert listing.records[-1].otelTraceID == "0" * 32
    assert agent.records[-1].attributes["request_id"] == "r-1"  # a custom factory's field is exported


def test_correlation_format_when_the_app_configures_nothing(instrumented, capsys):
    agent = instrumented(OTEL_PYTHON_LOG_CORRELATION="true")
    root = logging.getLogger()
    root.handlers[:] = []
    log, _ = logger("corr", level=logging.INFO, handler=False)
    with agent.tracer.start_as_current_span("s") as span:
        log.info("configured nothing")
    err = capsys.readouterr().err
    assert ("INFO [unit.corr] [test_log_handler.py:" in err
            and "[trace_id=%032x span_id=%016x resource.service.name=unit-svc trace_sampled=True] - "
                "configured nothing\n" % (span.context.trace_id, span.context.span_id) in err)
    assert logging.lastResort.formatter._fmt == DEFAULT_FORMAT
    logging.basicConfig(format="app: %(message)s")  # the application's own configuration wins
    log.info("configured")
    assert capsys.readouterr().err == "app: configured\n"
    assert root.level == logging.WARNING  # the root level is the application's
