"""The resource: who produced the telemetry (service, process, host, this SDK).

Built from facts that cost nothing to read (no socket or platform import at start).
``process.pid`` changes after ``fork()``; ``for_this_process()`` refreshes it.
"""

import os
import sys

from .version import __version__


class Resource:
    __slots__ = ("attributes",)

    def __init__(self, attributes):
        self.attributes = attributes

    def for_this_process(self):
        if self.attributes.get("process.pid") == os.getpid():
            return self
        return Resource(dict(self.attributes, **{"process.pid": os.getpid()}))

    @property
    def service_name(self):
        return self.attributes.get("service.name", "")


def from_settings(settings):
    info = sys.implementation
    attributes = {
        "telemetry.sdk.name": "otel-autoinstrument",
        "telemetry.sdk.language": "python",
        "telemetry.sdk.version": __version__,
        "process.pid": os.getpid(),
        "process.executable.path": sys.executable,
        "process.runtime.name": info.name,
        "process.runtime.version": "%d.%d.%d" % sys.version_info[:3],
    }
    try:
        attributes["host.name"] = os.uname().nodename
    except (AttributeError, OSError):
        pass
    attributes.update(settings.resource_attributes)
    if settings.service_name:
        attributes["service.name"] = settings.service_name
    elif not attributes.get("service.name"):
        executable = os.path.basename(sys.executable) or "python"
        attributes["service.name"] = "unknown_service:" + executable
    return Resource(attributes)
