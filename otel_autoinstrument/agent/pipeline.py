"""Build the processing pipelines from the settings: provider -> processors -> exporters.

Imported on first use (the first tracer, log record or instrument), never at start-up.
"""

from .. import _log
from ..redaction import processor as redaction
from ..export.batch import BatchProcessor
from ..trace import sampling
from ..trace.tracer import Limits, TracerProvider


def _exporter(name, signal, settings, resource):
    if name == "otlp":
        from ..export.otlp_http import OtlpHttpExporter

        return OtlpHttpExporter(signal, settings.exporter(signal), resource)
    if name == "console":
        from ..export.console import ConsoleLogExporter, ConsoleSpanExporter

        return ConsoleSpanExporter() if signal == "traces" else ConsoleLogExporter()
    return None


def _processors(signal, names, settings, resource):
    prefix = "bsp" if signal == "traces" else "blrp"
    processors = []
    for name in names:
        try:
            exporter = _exporter(name, signal, settings, resource)
        except Exception:
            _log.internal_error("building the %s %s exporter" % (name, signal))
            continue
        if exporter is None:
            continue
        exporter = redaction.wrap(exporter, signal, settings)  # redacts in the export thread
        processors.append(BatchProcessor(
            exporter, signal,
            max_queue_size=getattr(settings, prefix + "_max_queue_size"),
            max_batch_size=getattr(settings, prefix + "_max_export_batch_size"),
            schedule_delay_ms=getattr(settings, prefix + "_schedule_delay"),
            export_timeout_ms=getattr(settings, prefix + "_export_timeout"),
        ))
    return processors


def build_tracer_provider(settings, resource, processors=None):
    """The tracer provider; ``processors`` replace the configured exporters (the testing kit)."""
    sampler = sampling.from_settings(settings.traces_sampler, settings.traces_sampler_arg)
    if processors is None:
        processors = _processors("traces", settings.traces_exporter, settings, resource)
    return TracerProvider(resource, sampler, Limits.from_settings(settings), processors)


def build_log_pipeline(settings, resource, processors=None):
    """The log pipeline, None when OTEL_LOGS_EXPORTER is none and no ``processors`` are given."""
    if processors is None:
        if settings.logs_exporter == ["none"]:
            return None
        processors = _processors("logs", settings.logs_exporter, settings, resource)
    from ..logs.record import LogPipeline

    return LogPipeline(resource, settings.logrecord_attribute_count_limit,
                       settings.logrecord_attribute_value_length_limit, processors)


def _metric_exporter(name, settings, resource):
    if name == "otlp":
        from ..export.otlp_http import OtlpHttpExporter

        return OtlpHttpExporter("metrics", settings.exporter("metrics"), resource)
    if name == "console":
        from ..export.console_metrics import ConsoleMetricExporter

        return ConsoleMetricExporter()
    return None


def build_metrics_pipeline(settings, resource, exporters=None):
    """The metrics pipeline, or None when OTEL_METRICS_EXPORTER is none; ``exporters``
    replace the configured ones (the testing kit: none, metrics read in memory)."""
    names = settings.metrics_exporter
    if names == ["none"]:
        return None
    from ..metrics import series
    from ..metrics.provider import MeterProvider
    from ..metrics.reader import MetricsPipeline

    modes = {"trace_based": series.EXEMPLARS_TRACE_BASED, "always_on": series.EXEMPLARS_ALWAYS_ON,
             "always_off": series.EXEMPLARS_OFF}
    provider = MeterProvider(settings.python_metrics_cardinality_limit, modes[settings.metrics_exemplar_filter])
    if exporters is not None:
        return MetricsPipeline(provider, resource, exporters, settings.metric_export_interval,
                               settings.metric_export_timeout, settings.exporter_otlp_metrics_temporality_preference)
    exporters = []
    for name in names:
        try:
            exporter = _metric_exporter(name, settings, resource)
        except Exception:
            _log.internal_error("building the %s metrics exporter" % name)
            continue
        if exporter is not None:
            exporters.append(exporter)
    prometheus = None
    if "prometheus" in names:
        try:
            from ..metrics.prometheus.sink import PrometheusSink

            prometheus = PrometheusSink(provider, resource, settings.exporter_prometheus_host,
                                        settings.exporter_prometheus_port)
        except Exception:
            _log.internal_error("building the prometheus endpoint")
    return MetricsPipeline(provider, resource, exporters, settings.metric_export_interval,
                           settings.metric_export_timeout, settings.exporter_otlp_metrics_temporality_preference,
                           prometheus)
