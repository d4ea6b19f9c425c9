"""redis-py: one CLIENT span per command, one per pipeline or transaction; sync and asyncio.

Patched where redis-py defines them: ``Redis.execute_command`` (every command method
of ``redis.Redis`` and ``redis.asyncio.Redis`` ends there) and ``Pipeline.execute``
(the pipeline's own ``execute_command`` only queues). Commands a ``WATCH``ing pipeline
sends immediately, and the cluster clients, are not traced.

What a span carries: ``db.system.name`` ``redis``, ``db.namespace`` the database index,
``server.address`` / ``server.port`` (or the unix socket path), ``db.operation.name``
the command (``GET``, ``CLIENT SETNAME``), and ``db.query.text`` the command followed by
one ``?`` per argument: keys and values carry user data, so neither is kept, only how
many there are (``SET ? ? ?`` for ``SET key value EX 10``; past 32 arguments the
count: ``MSET ... (200 arguments)``). With OTEL_PYTHON_DB_QUERY_SANITIZE=false the
arguments are recorded as sent (text, bytes decoded, cut to the attribute length limit).

A pipeline is one span: ``db.operation.batch.size`` the number of commands (two or
more), ``db.operation.name`` ``BATCH <command>`` when they are all the same command,
else ``MULTI`` (a transaction) or ``PIPELINE``, and ``db.query.text`` each command's
text on a line of its own. Errors (connection refused, a command the server rejects)
end the span with ``error.type``; redis-py's messages name the address, never the
password.
"""

from otel_autoinstrument.instrumentation import Instrumentor, capture_internal_errors, semconv

SYSTEM = "redis"
_MAX_SHAPED_ARGUMENTS = 32
_TARGET = "_otel_autoinstrument_db"


class RedisInstrumentor(Instrumentor):
    name = "redis"
    requires = ("redis >= 4.5",)
    modules = ("redis",)

    def patches(self):
        from otel_autoinstrument.instrumentation.db import DbSpans

        self._spans = DbSpans(self.tracer, self.settings, self.meter)  # its settings, metrics, finishing
        self._sanitize = self._spans.sanitize
        self._limit = self._spans.length_limit
        self._shapes = {}  # (command, argument count) -> query text
        return [
            ("redis.client", "Redis.execute_command", self._command),
            ("redis.client", "Pipeline.execute", self._pipeline),
            ("redis.asyncio.client", "Redis.execute_command", self._command_async),
            ("redis.asyncio.client", "Pipeline.execute", self._pipeline_async),
        ]

    # --- wrappers -----------------------------------------------------------------

    def _command(self, wrapped, instance, args, kwargs):
        return self._call(self._guarded_start(instance, args, None), wrapped, args, kwargs)

    def _pipeline(self, wrapped, instance, args, kwargs):
        return self._call(self._guarded_start(instance, None, instance), wrapped, args, kwargs)

    def _call(self, span, wrapped, args, kwargs):
        return self._spans.run(span, wrapped, args, kwargs, "redis")

    def _command_async(self, wrapped, instance, args, kwargs):
        return self._run_async(wrapped, instance, args, kwargs, None)

    def _pipeline_async(self, wrapped, instance, args, kwargs):
        return self._run_async(wrapped, instance, args, kwargs, instance)

    async def _run_async(self, wrapped, instance, args, kwargs, pipeline):
        span = self._guarded_start(instance, args if pipeline is None else None, pipeline)
        return await self._spans.run_async(span, wrapped, args, kwargs, "redis")

    def _guarded_start(self, client, command, pipeline):
        with capture_internal_errors("redis: starting a client span"):
            if pipeline is not None:
                return self._start_pipeline(client, pipeline)
            if command:
                return self._start_command(client, command)
        return None

    # --- spans --------------------------------------------------------------------

    def _start_command(self, client, command):
        operation = _operation(command[0])
        attributes = self._target(client).copy()
        attributes[semconv.DB_OPERATION_NAME] = operation
        attributes[semconv.DB_QUERY_TEXT] = self._text(operation, command)
        return self._spans.start_span(operation, attributes)

    def _start_pipeline(self, client, pipeline):
        stack = pipeline.command_stack
        if not stack:
            return None  # nothing is sent (a WATCH-only pipeline resetting)
        commands = [entry[0] if entry.__class__ is tuple else entry.args for entry in stack]
        operations = [_operation(command[0]) for command in commands]
        attributes = self._target(client).copy()
        if len(commands) > 1:
            attributes[semconv.DB_OPERATION_BATCH_SIZE] = len(commands)
            if all(op == operations[0] for op in operations):
                operation = "BATCH " + operations[0]
            else:
                transaction = getattr(pipeline, "transaction", None)
                if transaction is None:
                    transaction = getattr(pipeline, "is_transaction", False)
                operation = "MULTI" if transaction or pipeline.explicit_transaction else "PIPELINE"
        else:
            operation = operations[0]
        attributes[semconv.DB_OPERATION_NAME] = operation
        text = "\n".join(self._text(op, command) for op, command in zip(operations, commands))
        attributes[semconv.DB_QUERY_TEXT] = text[:self._limit] if self._limit else text
        return self._spans.start_span(operation, attributes)

    def _text(self, operation, command):
        count = len(command) - 1
        if not self._sanitize:
            text = " ".join(_as_text(part) for part in command)
            return text[:self._limit] if self._limit else text
        key = (operation, count)
        text = self._shapes.get(key)
        if text is None:
            if count > _MAX_SHAPED_ARGUMENTS:
                text = "%s ... (%d arguments)" % (operation, count)
            else:
                text = operation + " ?" * count
            if len(self._shapes) >= 1024:
                self._shapes.clear()
            self._shapes[key] = text
        return text

    def _target(self, client):
        pool = client.connection_pool
        target = pool.__dict__.get(_TARGET)
        if target is None:
            params = pool.connection_kwargs
            address = params.get("path") or params.get("host", "localhost")
            port = None if params.get("path") else params.get("port", 6379)
            target = {semconv.DB_SYSTEM_NAME: SYSTEM, semconv.DB_NAMESPACE: str(params.get("db", 0)),
                      semconv.SERVER_ADDRESS: str(address)}
            if port:
                target[semconv.SERVER_PORT] = int(port)
            pool.__dict__[_TARGET] = target
        return target


def _operation(name):
    """The command's name, upper case: ``b"get"`` -> ``GET``, ``"CLIENT SETNAME"`` kept whole."""
    if name.__class__ is not str:
        name = name.decode("utf-8", "replace") if isinstance(name, (bytes, bytearray)) else str(name)
    return name.upper()


def _as_text(part):
    if isinstance(part, (bytes, bytearray, memoryview)):
        return bytes(part).decode("utf-8", "replace")
    return str(part)
