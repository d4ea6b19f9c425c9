"""The official psycopg, psycopg2, redis and celery instrumentations stay off beside the
built-in ones: "built-in wins" compares the distributions and modules they declare."""

from otel_autoinstrument.agent.contrib import covered_libraries
from otel_autoinstrument.instrumentors.celery import CeleryInstrumentor
from otel_autoinstrument.instrumentors.psycopg import PsycopgInstrumentor
from otel_autoinstrument.instrumentors.psycopg2 import Psycopg2Instrumentor
from otel_autoinstrument.instrumentors.redis import RedisInstrumentor


def test_each_contrib_package_s_library_is_covered():
    ours = [(cls.name, cls.requires, cls.modules)
            for cls in (PsycopgInstrumentor, Psycopg2Instrumentor, RedisInstrumentor, CeleryInstrumentor)]
    distributions, modules = covered_libraries(ours)
    # What opentelemetry-instrumentation-{psycopg,psycopg2,redis,celery} name in "instruments".
    assert distributions["psycopg"] == "psycopg"
    assert distributions["psycopg2"] == distributions["psycopg2-binary"] == "psycopg2"
    assert distributions["redis"] == "redis"
    assert distributions["celery"] == "celery"
    assert modules == {"psycopg": "psycopg", "psycopg2": "psycopg2", "redis": "redis", "celery": "celery"}
