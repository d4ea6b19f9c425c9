"""The redaction processor: secrets and personal data out of every exported string.

Configured by ``OTEL_PYTHON_REDACTION`` (see ``config.parse_redaction``). It runs in the
export thread, never on the application's: ``RedactingExporter`` wraps each exporter
(``pipeline.py``) and rewrites the batch it is handed, then calls the real exporter.
Every string is scanned: span attributes, the status message, event and link
attributes, log bodies and log attributes (also inside lists and maps). A match becomes
``[REDACTED:<rule>]``.

Built-in rules (``default`` turns them all on):

* ``url_credentials``: userinfo in any URL (``https://user:pw@host``, ``https://token@host``);
* ``url_query``: values of sensitive query parameters (``?``, ``&``, ``;`` or ``#`` then
  ``name=value``) inside any text, e.g. in an HTTP library's exception message;
* ``key_value``: values of other ``name=value`` pairs with a sensitive name
  (``password=hunter2``, ``api_key='k'``, ``Authorization=Bearer t``), e.g. in log lines
  and exception messages. Both decide names by the pattern of ``names`` (plus
  OTEL_PYTHON_URL_SENSITIVE_QUERY_PARAMS);
* ``bearer``: the token after ``Bearer`` (the word is kept);
* ``jwt``: JSON Web Tokens (``eyJ...``.``ey...``.``...``);
* ``aws_key``: AWS access key ids (``AKIA``/``ASIA`` + 16 characters);
* ``email``: e-mail addresses;
* ``card``: payment card numbers (13 to 19 digits, optionally grouped by spaces or
  dashes, first digit 2 to 6) that pass the Luhn check;
* ``sql_error``: in SQLAlchemy's exception messages, the literals of ``[SQL: ...]``
  (sanitized like db.query.text) and the whole ``[parameters: ...]``.

Every rule runs in time linear in the length of the string (see ``rules``). Cost: a few
substring tests choose the rules that can match a string at all; those run as one
precompiled alternation, searched once; strings shorter than the shortest possible match
and non-strings are skipped, and recent short strings are answered from a cache. A
failure here raises: the batch processor then drops the batch, counted (an unredacted
export is never the fallback).
"""

from .. import _log
from . import REDACTION_RULES
from .rules import TextRedactor, luhn_ok  # noqa: F401  (luhn_ok: part of this module's API)

__all__ = ["Redactor", "RedactingExporter", "redactor_from_settings", "luhn_ok"]


class Redactor(TextRedactor):
    """Rewrites strings (``text``, from ``rules.TextRedactor``) and the spans and log
    records holding them."""

    def value(self, value):
        """An attribute value or log body: strings, and strings inside lists and maps."""
        kind = type(value)
        if kind is str:
            return self.text(value) if len(value) >= self.min_length else value
        if kind is tuple or kind is list:
            return kind(self.value(v) for v in value)
        if kind is dict:
            return {k: self.value(v) for k, v in value.items()}
        return value

    def attributes(self, attributes):
        """Rewrite a dict's values in place (its keys and size never change)."""
        value = self.value
        for key, item in attributes.items():
            kind = type(item)
            if kind is str or kind is tuple or kind is list or kind is dict:
                new = value(item)
                if new is not item and new != item:
                    attributes[key] = new

    # --- spans and log records -------------------------------------------------------

    def span(self, span):
        self.attributes(span.attributes)
        events = span.events
        if events and self.scrubs_database_errors:
            for event in events:
                if event.name == "exception" and event.attributes:
                    message, shown = self.database_exception(event.attributes)
                    if shown is not None and span.status_message and message in span.status_message:
                        span.status_message = span.status_message.replace(message, shown)
        if span.status_message:
            span.status_message = self.text(span.status_message)
        for event in events or ():
            if event.attributes:
                self.attributes(event.attributes)
        for link in span.links or ():
            if link.attributes:
                self.attributes(link.attributes)

    def log(self, record):
        record.body = self.value(record.body)
        if record.attributes:
            if self.scrubs_database_errors:
                self.database_exception(record.attributes)
            self.attributes(record.attributes)


class RedactingExporter:
    """An exporter that redacts the batch, then hands it to the real one. Everything
    else (``after_fork``, ``stop_by``, ``shutdown``, ...) is the real exporter's."""

    def __init__(self, exporter, signal, make_redactor):
        self.exporter = exporter
        self.signal = signal
        self._make_redactor = make_redactor
        self._redactor = None

    def prepare(self):
        """Compile the redactor (and prepare the real exporter) as the export thread starts."""
        self._ready()
        prepare = getattr(self.exporter, "prepare", None)
        if prepare is not None:
            prepare()

    def _ready(self):
        redactor = self._redactor
        if redactor is None:
            from ..export import preload

            # Compiled in the export thread; first imports under the fork lock (see preload).
            preload.modules("re", "otel_autoinstrument.redaction.urls", "otel_autoinstrument.redaction.sql")
            redactor = self._redactor = self._make_redactor()
        return redactor

    def export(self, items, deadline):
        redactor = self._ready()
        if redactor.enabled:
            rewrite = redactor.span if self.signal == "traces" else redactor.log
            for item in items:
                rewrite(item)
        return self.exporter.export(items, deadline)

    def __getattr__(self, name):
        return getattr(self.exporter, name)


_VARIABLE = "OTEL_PYTHON_REDACTION"


def resolve(items):
    """Config items -> (built-in rule names, [(name, pattern)])."""
    rules, regexes = [], []
    removed = set()
    for item in items:
        if item == "default":
            rules.extend(r for r in REDACTION_RULES if r not in rules)
        elif item.startswith("-"):
            removed.add(item[1:])
        elif item.startswith("regex:"):
            regexes.append(("regex", item[6:]))
        elif item.startswith("regex("):
            name, _, pattern = item[6:].partition("):")
            regexes.append((name or "regex", pattern))
        elif item in REDACTION_RULES and item not in rules:
            rules.append(item)
    return [r for r in REDACTION_RULES if r in rules and r not in removed], regexes


def redactor_from_settings(settings):
    """The settings' Redactor; an invalid user pattern is left out with one warning."""
    import re

    rules, regexes = resolve(settings.python_redaction)
    valid = []
    for name, pattern in regexes:
        try:
            re.compile(pattern)
        except re.error as exc:
            _log.warning("%s: pattern %r left out: %s", _VARIABLE, pattern, exc)
            continue
        valid.append((name, pattern))
    from .names import from_settings

    return Redactor(rules, valid, from_settings(settings))


def wrap(exporter, signal, settings):
    """``exporter`` behind the redaction processor, unless OTEL_PYTHON_REDACTION=none."""
    if settings.python_redaction == ["none"]:
        return exporter
    return RedactingExporter(exporter, signal, lambda: redactor_from_settings(settings))
