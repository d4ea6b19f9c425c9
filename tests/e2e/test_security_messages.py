"""Secrets planted in the exporter's configuration never appear in what the agent prints:
the start-up line, configuration warnings, export errors, ``otel-run --info`` (text and
JSON). Each case is a way a secret used to slip through:

* an endpoint written without a scheme (``bob:S3CRET@collector:4318``);
* a password holding a raw ``#``: the URL parser's own error quoted the half before it;
* a header list written ``Authorization: Bearer <token>=...``: the token sat in the
  header *name*, which the warning printed;
* a collector whose partial-success message echoes the API key (``test_secrets_masked``
  covers it in-process, with a collector answering that way).
"""

import json

import pytest

from support.agent import PYTHON, agent_env, otel_run
from support.processes import free_port, run

SCRIPT = "import logging; logging.getLogger('app').warning('hello')"
CASES = {
    "endpoint without a scheme": ("Sch3melessPw", {"OTEL_EXPORTER_OTLP_ENDPOINT": "bob:Sch3melessPw@127.0.0.1:{port}"}),
    "raw # in a password": ("Hash1234", {"OTEL_EXPORTER_OTLP_TRACES_ENDPOINT":
                                         "http://bob:Hash1234#Rest@127.0.0.1:{port}/v1/traces"}),
    "token in a header name": ("Hdr7Tok", {"OTEL_EXPORTER_OTLP_HEADERS": "Authorization: Bearer Hdr7Tok=1,x-ok=2"}),
    "credentials of a working endpoint": ("UsrPw77", {"OTEL_EXPORTER_OTLP_LOGS_ENDPOINT":
                                                      "http://u:UsrPw77@127.0.0.1:{port}/v1/logs"}),
}


@pytest.mark.parametrize("case", sorted(CASES))
def test_planted_secret_is_never_printed(case):
    secret, variables = CASES[case]
    port = free_port()  # nothing listens there: exports fail and say so
    env = agent_env(None, "messages", OTEL_LOG_LEVEL="debug", OTEL_EXPORTER_OTLP_TIMEOUT="500",
                    AUTOINSTRUMENT_STRICT="0",
                    **{name: value.format(port=port) for name, value in variables.items()})
    app = run(otel_run(PYTHON, "-c", SCRIPT), env=env, timeout=60)
    assert app.returncode == 0 and "started in pid" in app.stderr, app.stderr
    info_text = run(otel_run("--info"), env=env, timeout=60)
    info_json = run(otel_run("--info", "--json"), env=env, timeout=60)
    assert json.loads(info_json.stdout)["configuration"]  # the report is whole
    for output in (app.stdout, app.stderr, info_text.stdout, info_text.stderr, info_json.stdout, info_json.stderr):
        assert secret not in output
    shown = app.stderr + info_text.stdout
    assert "REDACTED" in shown or "***" in shown or "Authorization..." in shown
