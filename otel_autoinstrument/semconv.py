"""Attribute names of the stable OpenTelemetry semantic conventions, in one place.

One version of the conventions (stable HTTP and database conventions), no dual modes.
"""

# HTTP (stable)
HTTP_REQUEST_METHOD = "http.request.method"
HTTP_REQUEST_METHOD_ORIGINAL = "http.request.method_original"
HTTP_RESPONSE_STATUS_CODE = "http.response.status_code"
HTTP_REQUEST_RESEND_COUNT = "http.request.resend_count"
HTTP_ROUTE = "http.route"
URL_FULL = "url.full"
URL_PATH = "url.path"
URL_QUERY = "url.query"
URL_SCHEME = "url.scheme"
SERVER_ADDRESS = "server.address"
SERVER_PORT = "server.port"
CLIENT_ADDRESS = "client.address"
CLIENT_PORT = "client.port"
NETWORK_PROTOCOL_VERSION = "network.protocol.version"
NETWORK_PEER_ADDRESS = "network.peer.address"
NETWORK_PROTOCOL_NAME = "network.protocol.name"
USER_AGENT_ORIGINAL = "user_agent.original"
ERROR_TYPE = "error.type"
ENDUSER_ID = "enduser.id"

# The methods the HTTP conventions know; any other is recorded as _OTHER.
KNOWN_HTTP_METHODS = frozenset(
    ("CONNECT", "DELETE", "GET", "HEAD", "OPTIONS", "PATCH", "POST", "PUT", "TRACE"))

# Database (stable)
DB_SYSTEM_NAME = "db.system.name"
DB_NAMESPACE = "db.namespace"
DB_QUERY_TEXT = "db.query.text"
DB_OPERATION_NAME = "db.operation.name"
DB_COLLECTION_NAME = "db.collection.name"
DB_RESPONSE_STATUS_CODE = "db.response.status_code"
DB_OPERATION_BATCH_SIZE = "db.operation.batch.size"

# Messaging (development conventions: the only ones there are)
MESSAGING_SYSTEM = "messaging.system"
MESSAGING_OPERATION_NAME = "messaging.operation.name"
MESSAGING_OPERATION_TYPE = "messaging.operation.type"
MESSAGING_DESTINATION_NAME = "messaging.destination.name"
MESSAGING_MESSAGE_ID = "messaging.message.id"
MESSAGING_CONSUMER_GROUP_NAME = "messaging.consumer.group.name"
MESSAGING_CLIENT_ID = "messaging.client.id"

# Exceptions
EXCEPTION_TYPE = "exception.type"
EXCEPTION_MESSAGE = "exception.message"
EXCEPTION_STACKTRACE = "exception.stacktrace"

# Code and threads (log records)
CODE_FILE_PATH = "code.file.path"
CODE_FUNCTION_NAME = "code.function.name"
CODE_LINE_NUMBER = "code.line.number"
THREAD_ID = "thread.id"
THREAD_NAME = "thread.name"

# Metrics (stable HTTP and database conventions)
HTTP_SERVER_REQUEST_DURATION = "http.server.request.duration"
HTTP_SERVER_ACTIVE_REQUESTS = "http.server.active_requests"
HTTP_CLIENT_REQUEST_DURATION = "http.client.request.duration"
DB_CLIENT_OPERATION_DURATION = "db.client.operation.duration"

# Process and CPython runtime metrics, and their attributes
PROCESS_CPU_TIME = "process.cpu.time"
PROCESS_CPU_UTILIZATION = "process.cpu.utilization"
PROCESS_MEMORY_USAGE = "process.memory.usage"
PROCESS_MEMORY_VIRTUAL = "process.memory.virtual"
PROCESS_THREAD_COUNT = "process.thread.count"
PROCESS_FILE_DESCRIPTOR_COUNT = "process.unix.file_descriptor.count"
PROCESS_CONTEXT_SWITCHES = "process.context_switches"
CPYTHON_GC_COLLECTIONS = "cpython.gc.collections"
CPYTHON_GC_COLLECTED_OBJECTS = "cpython.gc.collected_objects"
CPYTHON_GC_UNCOLLECTABLE_OBJECTS = "cpython.gc.uncollectable_objects"
CPU_MODE = "cpu.mode"
PROCESS_CONTEXT_SWITCH_TYPE = "process.context_switch.type"
CPYTHON_GC_GENERATION = "cpython.gc.generation"

# The agent's own (not a convention): a response nobody closed, its span ended when the
# response object was collected or at exit (WSGI bodies, httpx streams).
RESPONSE_UNCLOSED = "otel_autoinstrument.response.unclosed"
