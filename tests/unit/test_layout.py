"""The house keeps its shape: no import cycles, instrumentors use only the plugin API,
and nothing that runs inside the application imports the command line.

Imports are read from the source with ``ast`` (module-level and lazy ones inside
functions alike: a lazy import is still a dependency).
"""

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
PACKAGE = "otel_autoinstrument"
PLUGIN_API = PACKAGE + ".instrumentation"


def _modules():
    """{dotted name: path} of the runtime package and the built-in instrumentors."""
    found = {}
    for path in (ROOT / PACKAGE).rglob("*.py"):
        parts = path.relative_to(ROOT).with_suffix("").parts
        found[".".join(parts[:-1] if parts[-1] == "__init__" else parts)] = path
    for path in (ROOT / "instrumentors").glob("*.py"):
        stem = path.stem
        found[PACKAGE + ".instrumentors" + ("" if stem == "__init__" else "." + stem)] = path
    return found


MODULES = _modules()


def _imports(name, path):
    """The modules of this project that ``name`` imports."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    is_package = path.name == "__init__.py"
    here = name.split(".") if is_package else name.split(".")[:-1]
    out = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            candidates = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                base = ".".join(here[: len(here) - node.level + 1] + ([base] if base else []))
            candidates = [base + "." + alias.name for alias in node.names] + [base]
        else:
            continue
        for candidate in candidates:
            while candidate and candidate not in MODULES:
                candidate = candidate.rpartition(".")[0]
            if candidate and candidate != name:
                out.add(candidate)
                break
    return out


GRAPH = {name: _imports(name, path) for name, path in MODULES.items()}


def _cycles(graph):
    """Strongly connected components with more than one module (Tarjan)."""
    index, low, stack, on_stack, found = {}, {}, [], set(), []

    def visit(node):
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for target in graph.get(node, ()):
            if target not in index:
                visit(target)
                low[node] = min(low[node], low[target])
            elif target in on_stack:
                low[node] = min(low[node], index[target])
        if low[node] == index[node]:
            component = []
            while True:
                member = stack.pop()
                on_stack.discard(member)
                component.append(member)
                if member == node:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for node in sorted(graph):
        if node not in index:
            visit(node)
    return found


def _is_package_parent(importer, imported):
    """``from . import x`` in a package's module names the package itself too: a module
    importing its own package's ``__init__`` is not a dependency cycle of concern."""
    return importer.startswith(imported + ".")


def test_the_import_graph_has_no_cycles():
    graph = {name: {t for t in targets if not _is_package_parent(name, t)} for name, targets in GRAPH.items()}
    assert _cycles(graph) == []


def test_the_cycle_finder_finds_a_cycle():
    assert _cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]


def test_instrumentors_import_only_the_plugin_api():
    offenders = {}
    for name, targets in GRAPH.items():
        if not name.startswith(PACKAGE + ".instrumentors"):
            continue
        bad = sorted(t for t in targets if not (t == PLUGIN_API or t.startswith(PLUGIN_API + ".")
                                                or t.startswith(PACKAGE + ".instrumentors")))
        if bad:
            offenders[name] = bad
    assert offenders == {}


def test_the_runtime_never_imports_the_command_line():
    cli = PACKAGE + ".cli"
    offenders = {name: sorted(t for t in targets if t == cli or t.startswith(cli + "."))
                 for name, targets in GRAPH.items() if not name.startswith(cli)}
    assert {name: bad for name, bad in offenders.items() if bad} == {}


def _third_party_imports(path):
    tree = ast.parse(path.read_text(encoding="utf-8"))
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            yield from (alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and not node.level and node.module:
            yield node.module


def test_only_the_bridge_imports_the_opentelemetry_api():
    """The core, the agent and the instrumentors never import the API (opentelemetry-proto,
    the wire format, is not the API): it is served by the adapter at the edge."""
    offenders = {}
    for name, path in MODULES.items():
        if name == PACKAGE + ".bridge" or name.startswith(PACKAGE + ".bridge."):
            continue
        api = sorted(m for m in _third_party_imports(path)
                     if (m == "opentelemetry" or m.startswith("opentelemetry.")) and not m.startswith("opentelemetry.proto"))
        if api:
            offenders[name] = api
    assert offenders == {}


def test_instrumentors_use_only_the_documented_names_of_the_plugin_api():
    """What built-ins use, plugins can use: every name a built-in imports from the plugin
    API is in that module's ``__all__`` (the documented, stable surface)."""
    import importlib

    offenders = []
    for name, path in MODULES.items():
        if not name.startswith(PACKAGE + ".instrumentors"):
            continue
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.ImportFrom) and (node.module or "").startswith(PLUGIN_API):
                public = set(importlib.import_module(node.module).__all__)
                offenders += ["%s: %s.%s" % (name, node.module, a.name) for a in node.names if a.name not in public]
    assert offenders == []
