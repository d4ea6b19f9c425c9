"""Loaded by every Python process whose PYTHONPATH starts with this folder (``otel-run``
puts it there): start the agent, then run the ``sitecustomize`` this one shadows.

Nothing here may raise: an error while starting is logged once on the
``otel_autoinstrument`` logger and the application runs on uninstrumented.
"""


def _start_agent():
    try:
        from otel_autoinstrument.agent.startup import start
    except ImportError:
        # This Python cannot import the agent (another interpreter or virtualenv
        # inherited PYTHONPATH). It runs uninstrumented; `otel-run --info` warns about it.
        return
    start()


def _chain_shadowed_sitecustomize():
    """Import the next ``sitecustomize`` on sys.path, as if this one did not exist."""
    import os
    import sys

    here = os.path.dirname(os.path.abspath(__file__))
    paths = [p for p in sys.path if os.path.abspath(p or ".") != here]
    from importlib.machinery import PathFinder

    spec = PathFinder.find_spec("sitecustomize", paths)
    if spec is None or spec.loader is None:
        return
    from importlib.util import module_from_spec

    module = module_from_spec(spec)
    ours = sys.modules.get("sitecustomize")
    sys.modules["sitecustomize"] = module
    try:
        spec.loader.exec_module(module)
    except BaseException:
        sys.modules["sitecustomize"] = ours
        raise


try:
    _start_agent()
except Exception:  # the agent logs its own errors; this is the last line of defence
    pass

_chain_shadowed_sitecustomize()
