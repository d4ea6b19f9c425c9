"""The libraries whose own test suites run under the agent: one entry each.

Adding a library is adding a ``Library(...)`` to ``LIBRARIES``. Each entry says which
release to test (its sdist provides the tests), what the suite needs installed besides
the library, which part of the suite to run and with which runner (``runners.RUNNERS``:
``pytest`` or ``django``), and which local servers the suite talks to (``services``:
started for the library's runs by ``services.py``; ``{redis_url}`` in ``args`` becomes
the server's URL). The subsets are chosen to exercise what the agent patches
(WSGI entry points, ``Session.send``, engine events, logging) while each run stays
within a few minutes on two cores; docs/compatibility.md explains each choice.
"""

from dataclasses import dataclass, field
from typing import Dict, Tuple


@dataclass(frozen=True)
class Library:
    name: str  # distribution name, as pip spells it
    version: str  # pinned release: the venv gets it, and its sdist gives the tests
    tests: Tuple[str, ...]  # pytest paths / node ids, or Django test labels
    why: str  # one line for the report: why this subset
    runner: str = "pytest"  # a key of runners.RUNNERS
    requires: Tuple[str, ...] = ()  # test dependencies (pip requirement strings)
    extras: str = ""  # extras of the library itself, e.g. "testing" -> gunicorn[testing]
    args: Tuple[str, ...] = ()  # extra runner arguments (-k, --deselect, -o ...)
    python_flags: Tuple[str, ...] = ()  # interpreter options, e.g. -s
    env: Dict[str, str] = field(default_factory=dict)  # extra environment of every run
    timeout: int = 900  # seconds for one run of the subset; the run is killed after it
    test_timeout: int = 120  # seconds for one test (pytest-timeout), pytest runner only
    services: Tuple[str, ...] = ()  # local servers the suite needs, e.g. ("redis",)

    @property
    def key(self):
        return "%s-%s" % (self.name.lower(), self.version)

    @property
    def requirement(self):
        extras = "[%s]" % self.extras if self.extras else ""
        return "%s%s==%s" % (self.name, extras, self.version)


LIBRARIES = [
    Library(
        name="requests",
        version="2.34.2",
        requires=("pytest", "pytest-httpbin==2.1.0", "httpbin~=0.10.0", "pytest-mock", "trustme",
                  "PySocks"),
        tests=("tests/test_requests.py", "tests/test_adapters.py", "tests/test_hooks.py",
               "tests/test_lowlevel.py", "tests/test_testserver.py", "tests/test_structures.py"),
        # Session.send against pytest-httpbin's local server and raw-socket servers on
        # 127.0.0.1. Left out: tests that need a route to the internet (TARPIT
        # 10.255.255.1 for connect timeouts) -- see docs/compatibility.md.
        args=("-k", "not test_connect_timeout and not test_total_timeout_connect"),
        why="Session.send, adapters, redirects, hooks, streaming: the patched send path, offline",
    ),
    Library(
        name="Flask",
        version="3.1.3",
        # pytest as in the release's uv.lock: its conftest uses monkeypatch.notset, gone in 9.2
        requires=("pytest==9.0.2", "asgiref", "greenlet"),
        # The whole suite: under two seconds. test_basic, test_testing and test_reqctx
        # drive Flask.wsgi_app and full_dispatch_request (both patched) through the test client.
        tests=("tests",),
        why="the whole suite: wsgi_app and full_dispatch_request (patched) via the test client",
    ),
    Library(
        name="Werkzeug",
        version="3.1.9",
        requires=("pytest==9.1.1", "pytest-timeout", "ephemeral-port-reserve", "cryptography", "watchdog"),
        # The whole suite: about ten seconds. test_test (the test client), test_wsgi and
        # test_serving (the dev server, in subprocesses that load the agent) matter most.
        tests=("tests",),
        why="the whole suite: test client, WSGI helpers, the dev server (subprocesses)",
    ),
    Library(
        name="SQLAlchemy",
        version="2.1.9",
        requires=("pytest",),
        tests=("test/engine/test_execute.py", "test/engine/test_transaction.py",
               "test/engine/test_logging.py", "test/engine/test_reconnect.py",
               "test/engine/test_pool.py", "test/base/test_events.py",
               "test/orm/test_events.py", "test/orm/test_session.py",
               "test/orm/test_transaction.py", "test/orm/test_unitofworkv2.py"),
        # -s: without it the suite's conftest puts the sdist's lib/ (pure Python) first
        # on sys.path; with it the installed release (compiled extensions) is tested.
        python_flags=("-s",),
        args=("-o", "addopts=--tb native -r sfxX -p warnings -p logging --strict-markers"),
        why="engine execution, events (the agent listens on each engine from its first connect), pool, ORM session on SQLite",
    ),
    Library(
        name="Django",
        version="5.2.19",
        runner="django",
        requires=("argon2-cffi", "bcrypt", "tblib"),
        tests=("wsgi", "handlers", "requests_tests", "responses", "middleware", "middleware_exceptions",
               "backends", "logging_tests", "auth_tests", "test_client", "test_client_regress",
               "servers", "builtin_server", "basic", "transactions", "queries", "signals",
               "sessions_tests", "csrf_tests", "view_tests", "asgi"),
        why="WSGIHandler and load_middleware (patched), the ORM cursor (patched), logging, auth",
    ),
    Library(
        name="gunicorn",
        version="27.0.1",
        extras="testing",
        requires=("pytest-timeout",),
        tests=("tests",),
        # The suite's own addopts turn coverage on; coverage is not what is compared.
        args=("-o", "addopts=--assert=plain"),
        why="the whole unit suite: the server every WSGI app of the agent's users runs on",
    ),
    Library(
        name="redis",
        version="8.2.0",
        # Its dev_requirements.txt, less linters, coverage and benchmarks (its own
        # observability tests need the OpenTelemetry SDK: the agent's API bridge serves them).
        requires=("pytest", "pytest-asyncio>=0.24.0", "pytest-timeout", "ujson>=4.2.0", "numpy", "aiohttp",
                  "pybreaker>=1.4.0", "xxhash", "opentelemetry-api>=1.30.0", "opentelemetry-sdk>=1.30.0",
                  "opentelemetry-exporter-otlp-proto-http>=1.30.0"),
        services=("redis",),
        # A standalone Redis on 127.0.0.1 (no modules, no cluster, no TLS): commands,
        # pipelines and transactions, the connection pool, sync and asyncio -- the paths the
        # agent patches (Redis.execute_command, Pipeline.execute).
        tests=("tests/test_commands.py", "tests/test_pipeline.py", "tests/test_connection_pool.py",
               "tests/test_asyncio/test_commands.py", "tests/test_asyncio/test_pipeline.py",
               "tests/test_asyncio/test_connection_pool.py"),
        args=("--redis-url={redis_url}", "-m", "not onlycluster and not redismod and not ssl and not replica",
              "-o", "addopts=", "-o", "log_cli=false"),
        why="commands, pipelines, transactions and pools, sync and asyncio, on a local Redis",
    ),
    Library(
        name="celery",
        version="5.7.0",
        requires=("pytest==9.1.1", "pytest-celery[all]>=1.3.0", "pytest-subtests==0.15.0", "pytest-timeout==2.4.0",
                  "pytest-click==1.1.0", "pytest-order==1.5.0", "freezegun==1.5.5", "moto==5.2.3", "boto3",
                  "msgpack", "pyyaml", "pydantic"),
        # The unit suite's task, canvas, trace and request tests: apply_async/send_task (the
        # producer patch), the task tracer (the consumer signals) and the worker's request,
        # on Celery's in-memory broker.
        tests=("t/unit/tasks", "t/unit/app/test_app.py", "t/unit/app/test_amqp.py", "t/unit/worker/test_request.py",
               "t/unit/worker/test_strategy.py"),
        args=("-p", "no:cacheprovider"),
        why="send_task, canvas, the task tracer and worker requests (the patched paths), in memory",
    ),
    Library(
        name="httpx",
        version="0.29.0",
        # The sdist ships its source at the top, so the tests import that copy of the
        # same release.
        extras="brotli,cli,http2,socks,zstd",
        requires=("pytest", "uvicorn", "trustme", "trio", "chardet", "cryptography"),
        tests=("tests",),
        why="the whole suite: Client/AsyncClient.send and _send_single_request (patched), redirects, "
            "auth, event hooks, streaming, transports, a uvicorn server on 127.0.0.1",
    ),
    Library(
        name="starlette",
        version="1.10.0",
        extras="full",
        # The release's "dev" dependency group, less its linters and type checkers.
        requires=("httpx2[zstd]>=2.0.0", "blockbuster>=1.5.23", "opentelemetry-sdk>=1.44.0", "pytest>=9.1.1",
                  "trio>=0.34.0", "importlib-metadata>=9.0.1"),
        tests=("tests",),
        why="the whole suite: every app's middleware stack (built by the patched build_middleware_stack), "
            "routing and mounts, streaming, background tasks, WebSockets, lifespan, through the test client",
    ),
]


def by_name(names):
    """The entries named (case-insensitive), in the order of LIBRARIES."""
    wanted = {n.lower() for n in names}
    unknown = wanted - {lib.name.lower() for lib in LIBRARIES}
    if unknown:
        raise SystemExit("unknown library: %s (known: %s)" % (
            ", ".join(sorted(unknown)), ", ".join(lib.name for lib in LIBRARIES)))
    return [lib for lib in LIBRARIES if lib.name.lower() in wanted]
