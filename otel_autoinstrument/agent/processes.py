"""Processes: the trace a process was started in, and the trace its children join.

Carrier: the OpenTelemetry environment-variable carrier, ``TRACEPARENT``,
``TRACESTATE`` and ``BAGGAGE`` (the W3C headers, upper-cased).

- In: a process started with ``TRACEPARENT`` set (by a CI job, a shell script, an
  instrumented parent) continues that trace. The config module read the variables
  once at start; here they are parsed by the configured propagators and made the
  current context of the main thread, so root spans started there (and in tasks and
  executor jobs started from it) become children of the remote parent. Server spans
  are unaffected: they take their parent from the request, or start a trace.
- Out: when a span (or baggage) is active, a child process gets the carrier in its
  environment: ``subprocess.Popen`` (patched at ``_execute_child``, where the
  environment is applied), ``os.execv``/``os.execve`` (and so every ``os.exec*`` and
  ``os.spawn*`` function, which call them; what is queued is flushed before the
  process image is replaced), ``os.posix_spawn[p]``. The caller's ``env`` mapping
  is copied, never changed; an ``env`` that sets a TRACEPARENT of its own (not the
  one this process inherited) is passed on as the caller chose. ``multiprocessing``
  children get the carrier on the ``Process`` object (pickled to spawn and forkserver
  children, inherited by fork children) and enter it in ``BaseProcess._bootstrap``.
- Exit: a ``multiprocessing`` child started by fork ends with ``os._exit()``, so
  ``atexit`` never runs there. ``BaseProcess._bootstrap`` is the clean point: it
  returns the exit code after ``run()``, the child's own exit handlers and the
  joining of its non-daemon threads; the agent flushes there, within the exit bound.
  (A spawn child runs ``atexit`` as well; the second shutdown is a no-op.)
  billiard (Celery's fork of multiprocessing) gets the same two patches on its own
  ``BaseProcess``. Its pool workers, though, never return to ``_bootstrap``: the
  worker's ``_do_exit`` ends the process with ``os._exit()`` from inside ``run()``
  (after each ``--max-tasks-per-child`` batch, and at shutdown), so the agent flushes
  there first.

Every hook is guarded: a failure here is the agent's own error (logged, or raised in
strict mode) and the application's call proceeds unchanged.
"""

import os

from .. import _log
from ..config import CARRIER_VARIABLES
from .importhooks import when_imported
from ..trace.context import _baggage, _span

_agent = None  # the agent of this process, given by install()


def install(agent):
    """Called once at start: continue the inherited trace, patch ``os`` now and
    ``subprocess`` / ``multiprocessing`` when the application imports them."""
    global _agent
    if _agent is not None:
        return
    _agent = agent
    try:
        continue_environment_trace(agent)
    except Exception:
        _log.internal_error("continuing the trace of TRACEPARENT")
    try:
        _patch_os(os)
    except Exception:
        _log.internal_error("patching os.exec* for context propagation")
    when_imported("subprocess", _patch_subprocess)
    when_imported("multiprocessing.process", _patch_multiprocessing)
    when_imported("billiard.process", _patch_multiprocessing)
    when_imported("billiard.pool", _patch_billiard_pool)


# --- in: the trace this process was started in -----------------------------------

def continue_environment_trace(agent):
    carrier = getattr(agent.settings, "environment_carrier", None)
    if not carrier:
        return
    carried = agent.propagator.extract(carrier.get)
    _enter(carried)


def _enter(carried):
    """Make a ``Carried`` current in this context; returns tokens for ``_leave``."""
    from ..trace.span import NonRecordingSpan

    tokens = [None, None]
    if carried.span_context is not None:
        tokens[0] = _span.set(NonRecordingSpan(carried.span_context))
    if carried.baggage:
        tokens[1] = _baggage.set(carried.baggage)
    return tokens


def _leave(tokens):
    for var, token in zip((_span, _baggage), tokens):
        if token is not None:
            try:
                var.reset(token)
            except ValueError:
                pass


# --- out: the carrier for a child process ----------------------------------------

def carrier():
    """``{"TRACEPARENT": value or None, ...}`` for the active context, or None when
    there is nothing to pass (no agent, no active span nor baggage, no propagator)."""
    if _span.get() is None and not _baggage.get():
        return None
    agent = _agent
    if agent is None:
        return None
    headers = {}
    agent.propagator.inject(headers.__setitem__)
    if not headers:
        return None
    return {name: headers.get(header) for header, name in CARRIER_VARIABLES}


def child_environment(env):
    """``env`` (None: this process's environment) plus the carrier, as a new mapping;
    ``env`` itself when there is nothing to pass. Variables of the carrier that the
    active context does not set are removed, so a stale one is not passed on."""
    values = carrier()
    if values is None or _chosen_by_caller(env):
        return env
    source = os.environ if env is None else env
    as_bytes = env is not None and any(isinstance(key, bytes) for key in env)
    new = dict(source)
    for name, value in values.items():
        key = name.encode("ascii") if as_bytes else name
        if value is None:
            new.pop(key, None)
        else:
            new[key] = value.encode("ascii", "replace") if as_bytes else value
    return new


def _chosen_by_caller(env):
    """True when the caller's ``env`` carries a TRACEPARENT of its own choosing (not the
    one this process inherited): that one is passed on as it is."""
    if not env:
        return False
    value = None
    for key in ("TRACEPARENT", b"TRACEPARENT"):
        try:
            value = env.get(key)
        except (TypeError, AttributeError):
            continue  # os.environ refuses bytes keys
        if value is not None:
            break
    if value is None:
        return False
    if isinstance(value, bytes):
        value = value.decode("ascii", "replace")
    agent = _agent
    inherited = getattr(agent.settings, "environment_carrier", {}).get("traceparent") if agent else None
    return value != inherited


def _guarded_env(env):
    try:
        return child_environment(env)
    except Exception:
        _log.internal_error("passing the trace context to a child process")
        return env


def _mark(wrapper, original):
    wrapper.__name__ = getattr(original, "__name__", wrapper.__name__)
    wrapper.__qualname__ = getattr(original, "__qualname__", wrapper.__name__)
    wrapper.__doc__ = getattr(original, "__doc__", None)
    wrapper.__wrapped__ = original
    wrapper._otel_autoinstrument = True
    return wrapper


def _patch_os(module):
    execv, execve = module.execv, module.execve
    if getattr(execv, "_otel_autoinstrument", False):
        return

    def patched_execv(path, argv):
        env = _guarded_env(None)
        _flush_before_exec()
        if env is None:
            return execv(path, argv)
        return execve(path, argv, env)

    def patched_execve(path, argv, env):
        env = _guarded_env(env)
        _flush_before_exec()
        return execve(path, argv, env)

    module.execv = _mark(patched_execv, execv)
    module.execve = _mark(patched_execve, execve)
    for name in ("posix_spawn", "posix_spawnp"):
        original = getattr(module, name, None)
        if original is not None:
            setattr(module, name, _mark(_spawn_wrapper(original), original))


def _flush_before_exec():
    """exec replaces the process without exit handlers: export what is queued first
    (within the exit bound; if exec then fails, the process simply carries on)."""
    try:
        agent = _agent
        if agent is not None:
            agent.force_flush(agent.settings.python_exit_timeout / 1000.0)
    except Exception:
        _log.internal_error("flushing before exec")


def _spawn_wrapper(original):
    def patched(path, argv, env, *args, **kwargs):
        return original(path, argv, _guarded_env(env), *args, **kwargs)

    return patched


def _patch_subprocess(module):
    popen = module.Popen
    original = popen.__dict__.get("_execute_child")
    if original is None or getattr(original, "_otel_autoinstrument", False):
        return
    code = getattr(original, "__code__", None)  # None: replaced by another library (gevent...)
    names = code.co_varnames[:code.co_argcount] if code is not None else ()
    if "env" not in names:
        _log.debug("subprocess.Popen._execute_child has no env parameter here; not patched")
        return
    index = names.index("env") - 1  # position in args, self excluded

    def _execute_child(self, *args, **kwargs):
        if "env" in kwargs:
            kwargs["env"] = _guarded_env(kwargs["env"])
        elif len(args) > index:
            args = args[:index] + (_guarded_env(args[index]),) + args[index + 1:]
        return original(self, *args, **kwargs)

    popen._execute_child = _mark(_execute_child, original)


# --- multiprocessing ---------------------------------------------------------------

def _patch_multiprocessing(module):
    cls = module.BaseProcess
    start = cls.__dict__.get("start")
    bootstrap = cls.__dict__.get("_bootstrap")
    if start is None or bootstrap is None or getattr(bootstrap, "_otel_autoinstrument", False):
        return

    def patched_start(self):
        try:
            values = carrier()
            if values:
                self._otel_carrier = {header: values[name] for header, name in CARRIER_VARIABLES
                                      if values[name] is not None}
        except Exception:
            _log.internal_error("passing the trace context to a multiprocessing child")
        return start(self)

    def patched_bootstrap(self, *args, **kwargs):
        tokens = _enter_process_carrier(self)
        try:
            return bootstrap(self, *args, **kwargs)
        finally:
            _leave(tokens)
            flush_at_exit()

    cls.start = _mark(patched_start, start)
    cls._bootstrap = _mark(patched_bootstrap, bootstrap)


def _patch_billiard_pool(module):
    worker = getattr(module, "Worker", None)
    do_exit = worker.__dict__.get("_do_exit") if worker is not None else None
    if do_exit is None or getattr(do_exit, "_otel_autoinstrument", False):
        return

    def patched_do_exit(self, *args, **kwargs):
        flush_at_exit()
        return do_exit(self, *args, **kwargs)

    worker._do_exit = _mark(patched_do_exit, do_exit)


def _enter_process_carrier(process):
    try:
        values = process.__dict__.get("_otel_carrier")
        if not values:
            return (None, None)
        agent = _agent
        if agent is None:
            return (None, None)
        return _enter(agent.propagator.extract(values.get))
    except Exception:
        _log.internal_error("entering the trace context of a multiprocessing child")
        return (None, None)


def flush_at_exit():
    """Flush and stop the agent within the exit bound: from ``atexit``, and from a
    multiprocessing child's ``_bootstrap`` (where ``atexit`` will not run). Then the
    internal errors repeated since they were last reported are summed up."""
    try:
        from ..export.prefork import hold_exit_signals

        agent = _agent
        if agent is not None:
            hold_exit_signals()
            agent.shutdown()
    except Exception:
        _log.internal_error("flushing at process exit")
    _log.report_repeated_errors()
