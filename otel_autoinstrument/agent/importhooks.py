"""Post-import hooks: run a function right after a module is imported, or at once if it
already is.

wrapt offers the same (``wrapt.register_post_import_hook``), but importing wrapt costs
about the agent's whole start-up budget for ``python -c pass`` (figures in
docs/architecture.md); this finder is a few lines and imports nothing.
wrapt is still what patches, imported when the first hooked library is.

The finder sits first on ``sys.meta_path`` and only ever answers for hooked names: it
asks the other finders for the spec, then wraps the loader's ``exec_module`` so the
hooks run after the module body. The module's ``__loader__`` and ``__spec__.loader`` are
the original loader again before the body runs, so libraries that inspect their loader
(Flask's root path lookup, importlib.resources) see nothing unusual. Every hook is
guarded: an exception in a hook is the agent's own error and never fails the import.
"""

import sys

from .. import _log

_hooks = {}  # module name -> list of callables(module), run after the module body
_before = {}  # module name -> list of callables(), run before the module body
_finder = None


def when_imported(name, hook):
    """Call ``hook(module)`` once ``name`` is imported (now, if it already is)."""
    module = sys.modules.get(name)
    if module is not None:
        _run(name, [hook], module)
        return
    _install()
    _hooks.setdefault(name, []).append(hook)


def before_import(name, hook):
    """Call ``hook()`` right before the body of ``name`` runs, if it is not imported yet
    (returns False, and never calls it, when it already is)."""
    if name in sys.modules:
        return False
    _install()
    _before.setdefault(name, []).append(hook)
    _hooks.setdefault(name, [])  # the finder answers for names in _hooks
    return True


def _run(name, hooks, module):
    for hook in hooks:
        try:
            hook(module)
        except Exception:
            _log.internal_error("the import hook of %s" % name)


def _install():
    global _finder
    if _finder is None:
        _finder = _PostImportFinder()
        sys.meta_path.insert(0, _finder)


def _bind_on_parent(name, module):
    """Make ``package.sub`` an attribute of ``package`` now, as the import system does
    right after this loader returns: a hook that runs ``import package.sub`` (or
    ``from package import sub``) would otherwise not find it."""
    parent_name, _, child = name.rpartition(".")
    parent = sys.modules.get(parent_name) if parent_name else None
    if parent is not None:
        try:
            setattr(parent, child, module)
        except Exception:
            pass


class _PostImportFinder:
    def __init__(self):
        self._busy = set()

    def find_spec(self, fullname, path=None, target=None):
        if (fullname not in _hooks and fullname not in _before) or fullname in self._busy:
            return None
        self._busy.add(fullname)
        try:
            spec = None
            for finder in sys.meta_path:
                if finder is self or not hasattr(finder, "find_spec"):
                    continue
                spec = finder.find_spec(fullname, path, target)
                if spec is not None:
                    break
        finally:
            self._busy.discard(fullname)
        if spec is None or spec.loader is None or not hasattr(spec.loader, "exec_module"):
            return spec
        spec.loader = _HookedLoader(spec.loader)
        return spec

    def invalidate_caches(self):
        pass


class _HookedLoader:
    def __init__(self, loader):
        self.loader = loader

    def create_module(self, spec):
        # spec.loader stays this loader here: importlib reads it again to call
        # exec_module, which puts the original back before the module body runs.
        return self.loader.create_module(spec)

    def exec_module(self, module):
        spec = getattr(module, "__spec__", None)
        if spec is not None:
            spec.loader = self.loader
        try:
            module.__loader__ = self.loader
        except AttributeError:
            pass
        name = module.__name__
        before = _before.pop(name, None)
        if before:
            _run(name, [lambda _module, hook=hook: hook() for hook in before], module)
        self.loader.exec_module(module)
        hooks = _hooks.pop(name, None)
        if hooks:
            module = sys.modules.get(name, module)
            _bind_on_parent(name, module)
            _run(name, hooks, module)

    def __getattr__(self, name):
        return getattr(self.loader, name)
