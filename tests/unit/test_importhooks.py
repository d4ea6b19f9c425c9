"""Post-import hooks: a hook runs right after its module's body (or at once if the module
is already imported), a hook that raises never fails the application's import (outside
strict mode), and the module sees its own loader, not the agent's."""

import importlib
import importlib.machinery
import importlib.resources
import inspect
import sys
import uuid

import pytest

from otel_autoinstrument import _log
from otel_autoinstrument.agent import importhooks


@pytest.fixture
def site(tmp_path, monkeypatch):
    """A folder on sys.path for this test's made-up modules, cleaned up afterwards."""
    monkeypatch.syspath_prepend(str(tmp_path))
    names = []

    def module(source, package=False, data=None):
        name = "hooked_%s" % uuid.uuid4().hex[:10]
        names.append(name)
        if package:
            folder = tmp_path / name
            folder.mkdir()
            (folder / "__init__.py").write_text(source)
            for leaf, text in (data or {}).items():
                (folder / leaf).write_text(text)
        else:
            (tmp_path / (name + ".py")).write_text(source)
        importlib.invalidate_caches()
        return name

    yield module
    for name in names:
        for loaded in [m for m in sys.modules if m == name or m.startswith(name + ".")]:
            del sys.modules[loaded]
        importhooks._hooks.pop(name, None)
        importhooks._before.pop(name, None)


@pytest.fixture
def logged(monkeypatch):
    lines = []
    monkeypatch.setattr(_log, "STRICT", False)
    monkeypatch.setattr(_log, "log", lambda level, msg, *args, **kw: lines.append(msg % args))
    return lines


BODY = """
import sys
LOADER_SEEN = type(__loader__).__name__
SPEC_LOADER_SEEN = type(__spec__.loader).__name__
BODY_RAN = True
"""


def test_hook_runs_after_the_module_body(site):
    name = site(BODY)
    calls = []
    importhooks.when_imported(name, lambda module: calls.append((module.__name__, module.BODY_RAN)))
    assert calls == []
    module = importlib.import_module(name)
    assert calls == [(name, True)]
    importlib.import_module(name)                 # imported again: no second call
    assert calls == [(name, True)]
    assert module is sys.modules[name]


def test_hook_runs_at_once_when_already_imported(site):
    name = site(BODY)
    module = importlib.import_module(name)
    calls = []
    importhooks.when_imported(name, calls.append)
    assert calls == [module]


def test_several_hooks_run_in_order(site):
    name = site(BODY)
    calls = []
    importhooks.when_imported(name, lambda m: calls.append("first"))
    importhooks.when_imported(name, lambda m: calls.append("second"))
    importlib.import_module(name)
    assert calls == ["first", "second"]


def test_the_module_sees_its_original_loader(site):
    name = site(BODY)
    importhooks.when_imported(name, lambda m: None)
    module = importlib.import_module(name)
    assert module.LOADER_SEEN == "SourceFileLoader"        # while its body ran
    assert module.SPEC_LOADER_SEEN == "SourceFileLoader"
    assert type(module.__loader__) is importlib.machinery.SourceFileLoader   # and afterwards
    assert type(module.__spec__.loader) is importlib.machinery.SourceFileLoader
    assert "BODY_RAN = True" in inspect.getsource(module)


def test_package_data_and_submodules_through_a_hooked_package(site):
    name = site("VALUE = 1\n", package=True, data={"data.txt": "payload", "sub.py": "X = 2\n"})
    seen = []
    importhooks.when_imported(name, lambda m: seen.append(m.__name__))
    importhooks.when_imported(name + ".sub", lambda m: seen.append(m.__name__))
    package = importlib.import_module(name)
    assert importlib.resources.files(package).joinpath("data.txt").read_text() == "payload"
    assert importlib.import_module(name + ".sub").X == 2
    assert seen == [name, name + ".sub"]


def test_a_raising_hook_does_not_fail_the_import(site, logged):
    name = site(BODY)
    calls = []

    def broken(module):
        raise RuntimeError("instrumentor bug")

    importhooks.when_imported(name, broken)
    importhooks.when_imported(name, calls.append)
    module = importlib.import_module(name)          # no exception reaches the application
    assert module.BODY_RAN and calls == [module]     # the next hook still ran
    assert len(logged) == 1 and name in logged[0] and "internal error" in logged[0]


def test_a_raising_hook_fails_loudly_in_strict_mode(site, monkeypatch):
    monkeypatch.setattr(_log, "STRICT", True)
    name = site(BODY)

    def broken(module):
        raise RuntimeError("instrumentor bug")

    importhooks.when_imported(name, broken)
    with pytest.raises(RuntimeError, match="instrumentor bug"):
        importlib.import_module(name)


def test_a_raising_hook_on_an_imported_module_is_contained(site, logged):
    name = site(BODY)
    importlib.import_module(name)
    importhooks.when_imported(name, lambda m: 1 / 0)
    assert len(logged) == 1


def test_a_failing_module_keeps_its_hooks_for_the_next_attempt(site, tmp_path):
    name = site("raise ValueError('not today')\n")
    calls = []
    importhooks.when_imported(name, calls.append)
    with pytest.raises(ValueError, match="not today"):   # the module's own error, unchanged
        importlib.import_module(name)
    assert calls == [] and name not in sys.modules
    (tmp_path / (name + ".py")).write_text("OK = 'fixed now'\n")
    importlib.invalidate_caches()
    module = importlib.import_module(name)
    assert calls == [module] and module.OK == "fixed now"


def test_missing_module_still_raises_module_not_found(site):
    name = "hooked_missing_%s" % uuid.uuid4().hex[:8]
    importhooks.when_imported(name, lambda m: None)
    try:
        with pytest.raises(ModuleNotFoundError):
            importlib.import_module(name)
    finally:
        importhooks._hooks.pop(name, None)
        importhooks._before.pop(name, None)


def test_unhooked_modules_are_not_touched(site):
    name = site(BODY)
    importhooks.when_imported("logging", lambda m: None)  # the finder is installed
    finder = importhooks._finder
    assert finder in sys.meta_path
    assert finder.find_spec(name) is None                # not hooked: other finders answer
    module = importlib.import_module(name)
    assert module.LOADER_SEEN == "SourceFileLoader"


def test_before_hook_runs_before_the_body_and_sees_what_it_set(site, monkeypatch):
    name = site("import os\nSEEN = os.environ.get('HOOKED_BEFORE')\n")
    order = []

    def before():
        order.append("before")
        monkeypatch.setenv("HOOKED_BEFORE", "yes")

    assert importhooks.before_import(name, before) is True
    importhooks.when_imported(name, lambda module: order.append(("after", module.SEEN)))
    module = importlib.import_module(name)
    assert order == ["before", ("after", "yes")]
    assert module.SEEN == "yes"


def test_before_hook_is_refused_for_an_imported_module(site):
    name = site(BODY)
    importlib.import_module(name)
    calls = []
    assert importhooks.before_import(name, lambda: calls.append(1)) is False
    assert calls == []


def test_a_raising_before_hook_never_fails_the_import(site, logged):
    name = site(BODY)
    importhooks.before_import(name, lambda: 1 / 0)
    assert importlib.import_module(name).BODY_RAN
    assert any(name in line for line in logged)


def test_a_hook_on_a_submodule_can_import_it_by_its_dotted_name(site):
    """A plugin for ``package.sub`` (``http.client``) imports it in its hook as any code
    does; the import system binds ``sub`` on ``package`` only after the loader returns."""
    package = site("", package=True, data={"sub.py": "VALUE = 7\n"})
    seen = []

    def hook(module):
        seen.append(importlib.import_module(package).sub.VALUE)
        exec("import %s.sub as again; seen.append(again.VALUE)" % package, {"seen": seen})

    importhooks.when_imported(package + ".sub", hook)
    importlib.import_module(package + ".sub")
    assert seen == [7, 7]
