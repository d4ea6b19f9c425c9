"""Third-party plugins, each its own distribution installed with pip next to the agent:
a urllib3 and an http.client plugin (tests/plugins/) and the Jinja2 example
(examples/jinja2-plugin). Each passes its own tests, written with the testing kit, and
produces correct spans end to end under otel-run, where the receiver gets exactly the
application's spans (no span of the agent's own exports: the export path calls neither
library the HTTP plugins wrap, its transport being the agent's own on the standard
library's sockets). Also: the start-up line lists only what will be patched.
"""

import json
import shutil

import pytest

from support.agent import agent_env, otel_run
from support.plugin_site import installed_site
from support.processes import APPS_DIR, PYTHON, TESTS_DIR, Server, free_port, run

ROOT = TESTS_DIR.parent
SCRIPTS = TESTS_DIR / "scripts"
DISTRIBUTIONS = {
    "urllib3": TESTS_DIR / "plugins" / "urllib3_plugin",
    "http.client": TESTS_DIR / "plugins" / "httpclient_plugin",
    "jinja2": ROOT / "examples" / "jinja2-plugin",
}


@pytest.fixture(scope="module")
def site():
    return installed_site("third-party-site", list(DISTRIBUTIONS.values()))


@pytest.fixture(scope="module")
def upstream():
    port = free_port()
    with Server([PYTHON, APPS_DIR / "upstream.py", port], port=port):
        yield port


@pytest.mark.parametrize("library", sorted(DISTRIBUTIONS))
def test_each_plugin_passes_its_own_tests_with_the_testing_kit(library, site, tmp_path):
    source = DISTRIBUTIONS[library]
    shutil.copytree(str(source / "tests"), str(tmp_path / "tests"))
    shutil.copy(str(source / "pyproject.toml"), str(tmp_path))
    result = run([PYTHON, "-m", "pytest", "-q", "-c", tmp_path / "pyproject.toml", tmp_path / "tests"],
                 env=agent_env(PYTHONPATH=str(site)), cwd=tmp_path, timeout=120)
    assert result.returncode == 0, result.stdout + result.stderr
    assert " passed" in result.stdout and "failed" not in result.stdout


def test_http_plugins_trace_the_application_and_never_the_agents_exports(receiver, service_name, site, upstream):
    # The built-in urllib3 and http_client instrumentors are turned off: this is the plugins' test.
    env = agent_env(receiver, service_name, PYTHONPATH=str(site),
                    OTEL_PYTHON_DISABLED_INSTRUMENTATIONS="urllib3,http_client")
    result = run(otel_run("python", SCRIPTS / "plugins_http.py", upstream), env=env)
    assert result.returncode == 0, result.stderr
    shown = json.loads(result.stdout)
    assert shown["export_calls"] == 0, "the export path went through urllib3 or http.client"
    spans = receiver.spans(service=service_name)
    (script,) = [s for s in spans if s.name == "script"]
    clients = {s.scope_name: s for s in spans if s.kind == "CLIENT"}
    assert set(clients) == {"otel_autoinstrument.test-urllib3", "otel_autoinstrument.test-http-client"}
    assert len(spans) == 3, [str(s) for s in spans]   # exactly the application's spans
    for library, scope in (("urllib3", "test-urllib3"), ("http.client", "test-http-client")):
        span = clients["otel_autoinstrument." + scope]
        assert span.trace_id == script.trace_id and span.parent_span_id == script.span_id
        assert span.name == "GET" and span.attributes["http.response.status_code"] == 200
        assert span.attributes["url.full"] == "http://127.0.0.1:%d/echo-headers" % upstream
        assert shown["traceparent"][library] == "00-%s-%s-01" % (span.trace_id, span.span_id)


def test_the_jinja2_example_end_to_end(receiver, service_name, site):
    result = run(otel_run("python", SCRIPTS / "plugins_jinja2.py"),
                 env=agent_env(receiver, service_name, PYTHONPATH=str(site)))
    assert (result.returncode, result.stdout) == (0, "<h1>hello</h1><p>bye</p>\n"), result.stderr
    spans = receiver.wait_for_spans(count=6, service=service_name)
    by_id = {s.span_id: s for s in spans}
    (request,) = [s for s in spans if s.name == "request"]
    (render,) = [s for s in spans if s.name == "jinja2.render"]
    assert render.parent_span_id == request.span_id and render.scope_name == "otel_autoinstrument.jinja2"
    assert render.attributes == {"jinja2.template_name": "page.html"}
    loads = {s.attributes["jinja2.template_name"]: s for s in spans if s.name == "jinja2.load"}
    assert by_id[loads["page.html"].parent_span_id] is request
    assert by_id[loads["footer.html"].parent_span_id] is render
    assert sorted(s.name for s in spans).count("jinja2.compile") == 2


def test_the_startup_line_lists_only_what_will_be_patched(service_name):
    """tests/plugins/info_plugins registers one instrumentor per status (--info's test)."""
    env = agent_env(None, service_name, PYTHONPATH=str(TESTS_DIR / "plugins" / "info_plugins"),
                    OTEL_LOG_LEVEL="info", OTEL_TRACES_EXPORTER="none", OTEL_LOGS_EXPORTER="none",
                    OTEL_PYTHON_DISABLED_INSTRUMENTATIONS="info-disabled", AUTOINSTRUMENT_STRICT="0")
    result = run(otel_run("python", "-c", "pass"), env=env)
    assert result.returncode == 0, result.stderr
    (line,) = [l for l in result.stderr.splitlines() if "started in pid" in l]
    listed = set(line.split("instrumentors: ", 1)[1].split(", "))
    assert {"info-flask", "info-watched", "info-alternative", "flask", "requests", "logging"} <= listed
    assert not listed & {"info-missing", "info-too-old", "info-disabled", "info-broken"}, line
