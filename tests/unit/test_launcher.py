"""``otel-run``: option parsing (stopping at the command, so the command's own flags are
untouched), usage errors (exit 2), a command that cannot be found (exit 127), --version,
--help, and the environment the command gets (PYTHONPATH: bootstrap first, the user's
entries kept after it, never duplicated by a nested otel-run)."""

import os
import stat

import pytest

from otel_autoinstrument.cli import launcher
from otel_autoinstrument.version import __version__
from support.agent import OTEL_RUN, PYTHON
from support.processes import base_env, run

BOOT = launcher.bootstrap_dir()


# --- parsing ----------------------------------------------------------------------------

@pytest.mark.parametrize("argv, settings, flags, command", [
    (["--service-name=shop", "python", "app.py"], {"OTEL_SERVICE_NAME": "shop"}, set(), ["python", "app.py"]),
    (["--service-name", "shop", "python", "app.py"], {"OTEL_SERVICE_NAME": "shop"}, set(), ["python", "app.py"]),
    (["--service-name=a=b", "cmd"], {"OTEL_SERVICE_NAME": "a=b"}, set(), ["cmd"]),
    (["--service-name=", "cmd"], {"OTEL_SERVICE_NAME": ""}, set(), ["cmd"]),
    (["--", "python", "--service-name=x"], {}, set(), ["python", "--service-name=x"]),
    (["--endpoint", "http://c:4318", "--", "--odd-command"], {"OTEL_EXPORTER_OTLP_ENDPOINT": "http://c:4318"},
     set(), ["--odd-command"]),
    # parsing stops at the first argument that is not ours: the command's flags are its own
    (["python", "--service-name", "x", "-m", "--", "--help"], {}, set(),
     ["python", "--service-name", "x", "-m", "--", "--help"]),
    (["gunicorn", "--version"], {}, set(), ["gunicorn", "--version"]),
    (["-", "x"], {}, set(), ["-", "x"]),
    (["--sampler=traceidratio", "--sampler-arg", "0.5", "--propagators=b3,tracecontext",
      "--traces-exporter", "console", "--logs-exporter=none", "--protocol=http/json",
      "--disabled-instrumentations", "flask,django", "gunicorn", "-w", "2", "app:app"],
     {"OTEL_TRACES_SAMPLER": "traceidratio", "OTEL_TRACES_SAMPLER_ARG": "0.5",
      "OTEL_PROPAGATORS": "b3,tracecontext", "OTEL_TRACES_EXPORTER": "console", "OTEL_LOGS_EXPORTER": "none",
      "OTEL_EXPORTER_OTLP_PROTOCOL": "http/json", "OTEL_PYTHON_DISABLED_INSTRUMENTATIONS": "flask,django"},
     set(), ["gunicorn", "-w", "2", "app:app"]),
    (["--service-name=a", "--service-name=b", "x"], {"OTEL_SERVICE_NAME": "b"}, set(), ["x"]),
    (["--version"], {}, {"--version"}, []),
    (["-h"], {}, {"-h"}, []),
    (["--help", "python"], {}, {"--help"}, ["python"]),
    ([], {}, set(), []),
    (["--"], {}, set(), []),
])
def test_parse(argv, settings, flags, command):
    assert launcher.parse(argv) == (settings, flags, command)


@pytest.mark.parametrize("argv, message", [
    (["--bogus", "python"], "unknown option --bogus"),
    (["-x", "python"], "unknown option -x"),
    (["--service", "x", "python"], "unknown option --service"),
    (["--service-name"], "option --service-name needs a value"),
    (["--endpoint"], "option --endpoint needs a value"),
])
def test_parse_errors(argv, message):
    with pytest.raises(launcher.UsageError, match=message):
        launcher.parse(argv)


# --- exit statuses and messages (in process: nothing is exec'd on these paths) ------------

@pytest.mark.parametrize("argv, message", [
    (["--bogus", "python"], "otel-run: unknown option --bogus"),
    ([], "otel-run: no command given"),
    (["--service-name=x"], "otel-run: no command given"),
    (["--"], "otel-run: no command given"),
    (["--service-name"], "needs a value"),
    (["--json", "python"], "--json only goes with --info"),
])
def test_usage_errors_exit_2(argv, message, capsys):
    assert launcher.main(argv) == 2
    out, err = capsys.readouterr()
    assert out == ""
    assert message in err and "usage: otel-run" in err


def test_command_not_found_exits_127_naming_it(capsys, monkeypatch):
    monkeypatch.setenv("PATH", os.path.dirname(PYTHON))
    assert launcher.main(["no-such-command-xyz", "--flag"]) == 127
    assert "otel-run: no-such-command-xyz: command not found" in capsys.readouterr().err
    assert launcher.main(["./no/such/path"]) == 127
    assert "./no/such/path" in capsys.readouterr().err


def test_a_file_that_cannot_run_exits_126(tmp_path, capsys):
    script = tmp_path / "not-executable"
    script.write_text("#!/bin/sh\necho hi\n")
    script.chmod(stat.S_IRUSR | stat.S_IWUSR)
    assert launcher.main([str(script)]) == 126
    assert "cannot run" in capsys.readouterr().err


def test_version(capsys):
    assert launcher.main(["--version"]) == 0
    out = capsys.readouterr().out
    assert out.startswith("otel-run (otel-autoinstrument) %s" % __version__)


def test_help_lists_every_option_and_its_variable(capsys):
    assert launcher.main(["--help"]) == 0
    out = capsys.readouterr().out
    assert out.startswith("usage: otel-run")
    for option, (variable, metavar, _) in launcher.OPTIONS.items():
        assert "%s %s" % (option, metavar) in out
        assert variable in out
    for flag in ("--version", "--help", "--info"):
        assert flag in out


def test_find_command(tmp_path):
    tool = tmp_path / "tool"
    tool.write_text("#!/bin/sh\n")
    tool.chmod(0o755)
    plain = tmp_path / "plain"
    plain.write_text("")
    path = os.pathsep.join(["/nonexistent", str(tmp_path)])
    assert launcher.find_command("tool", path) == str(tool)
    assert launcher.find_command("plain", path) is None          # not executable: keep looking
    assert launcher.find_command("missing", path) is None
    assert launcher.find_command(str(tool), "") == str(tool)     # a path is used as is


# --- the environment of the command --------------------------------------------------------

@pytest.mark.parametrize("before, after", [
    (None, [BOOT]),
    ("", [BOOT]),
    ("/user/lib", [BOOT, "/user/lib"]),
    ("/a" + os.pathsep + "/b", [BOOT, "/a", "/b"]),
    ("/a" + os.pathsep + os.pathsep + "/b", [BOOT, "/a", "/b"]),
    (BOOT + os.pathsep + "/a", [BOOT, "/a"]),                    # otel-run under otel-run
    ("/a" + os.pathsep + BOOT, [BOOT, "/a"]),
])
def test_pythonpath(before, after):
    environ = {"HOME": "/root"} if before is None else {"PYTHONPATH": before}
    env = launcher.child_environment(environ, {})
    assert env["PYTHONPATH"].split(os.pathsep) == after
    assert launcher.CLI_MARKER not in env


def test_options_become_variables_and_are_marked():
    env = launcher.child_environment({"OTEL_SERVICE_NAME": "from-env", "KEEP": "1"},
                                     {"OTEL_SERVICE_NAME": "from-option", "OTEL_TRACES_SAMPLER": "always_on"})
    assert env["OTEL_SERVICE_NAME"] == "from-option" and env["KEEP"] == "1"
    assert env[launcher.CLI_MARKER] == "OTEL_SERVICE_NAME,OTEL_TRACES_SAMPLER"


SHOW = ("import os, sys, json; print(json.dumps({'pythonpath': os.environ.get('PYTHONPATH'), "
        "'name': os.environ.get('OTEL_SERVICE_NAME'), 'argv': sys.argv[1:]}))")


def test_the_real_command_line(tmp_path):
    """The installed console script: options, exec, PYTHONPATH, nested otel-run."""
    import json

    env = base_env(PATH=os.path.dirname(PYTHON) + os.pathsep + os.environ.get("PATH", ""),
                   PYTHONPATH=str(tmp_path), OTEL_SDK_DISABLED="true")
    result = run([OTEL_RUN, "--service-name", "svc", "python", "-c", SHOW, "--service-name", "mine"],
                 env=env, timeout=30)
    assert result.returncode == 0, result.stderr
    shown = json.loads(result.stdout)
    assert shown["pythonpath"].split(os.pathsep) == [BOOT, str(tmp_path)]
    assert shown["name"] == "svc"
    assert shown["argv"] == ["--service-name", "mine"]                  # the command's own flags
    nested = run([OTEL_RUN, OTEL_RUN, "--service-name=inner", "python", "-c", SHOW], env=env, timeout=30)
    assert nested.returncode == 0, nested.stderr
    shown = json.loads(nested.stdout)
    assert shown["pythonpath"].split(os.pathsep) == [BOOT, str(tmp_path)]  # not duplicated
    assert shown["name"] == "inner"


def test_the_real_command_line_errors():
    env = base_env(PATH=os.path.dirname(PYTHON))
    bad = run([OTEL_RUN, "--nope", "python"], env=env, timeout=30)
    assert bad.returncode == 2 and "unknown option --nope" in bad.stderr
    missing = run([OTEL_RUN, "definitely-not-a-command"], env=env, timeout=30)
    assert missing.returncode == 127 and "definitely-not-a-command: command not found" in missing.stderr
