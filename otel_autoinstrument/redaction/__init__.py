"""Secrets out of telemetry and out of the agent's own messages: URL, header and SQL
redaction (``urls``, ``sql``), the redaction processor of the export path
(``processor``), and the masking of the agent's own messages (``secrets``)."""

# The redaction processor's built-in rules, in the order they are tried (read by the
# config at start-up, so this package's ``__init__`` stays this small).
REDACTION_RULES = ("url_credentials", "url_query", "key_value", "bearer", "jwt", "aws_key", "email", "card",
                   "sql_error")
