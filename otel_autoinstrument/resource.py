"""The resource: who produced the telemetry (service, process, host, this SDK).

Built from facts that cost nothing to read (no socket or platform import at start).
``process.pid`` changes after ``fork()``; ``for_this_process()`` refreshes it, and the
``service.instance.id`` the agent generated (a random UUID per process, unless
OTEL_RESOURCE_ATTRIBUTES sets one): each worker of a pre-fork server is its own
instance, so backends keep the workers' metric streams apart.
"""

import os
import sys

from .version import __version__


SERVICE_INSTANCE_ID = "service.instance.id"


def instance_id():
    """A random (version 4) UUID, as semantic conventions suggest for service.instance.id."""
    raw = bytearray(os.urandom(16))
    raw[6] = (raw[6] & 0x0F) | 0x40
    raw[8] = (raw[8] & 0x3F) | 0x80
    text = raw.hex()
    return "%s-%s-%s-%s-%s" % (text[:8], text[8:12], text[12:16], text[16:20], text[20:])


class Resource:
    __slots__ = ("attributes", "generated_instance_id", "_forked")

    def __init__(self, attributes, generated_instance_id=False):
        self.attributes = attributes
        self.generated_instance_id = generated_instance_id
        self._forked = None  # this resource as a forked child's: made once per pid

    def for_this_process(self):
        pid = os.getpid()
        if self.attributes.get("process.pid") == pid:
            return self
        forked = self._forked
        if forked is None or forked.attributes["process.pid"] != pid:
            attributes = dict(self.attributes, **{"process.pid": pid})
            if self.generated_instance_id:
                attributes[SERVICE_INSTANCE_ID] = instance_id()
            forked = self._forked = Resource(attributes, self.generated_instance_id)
        return forked

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
    generated = not attributes.get(SERVICE_INSTANCE_ID)
    if generated:
        attributes[SERVICE_INSTANCE_ID] = instance_id()
    return Resource(attributes, generated)
