"""The Prometheus scrape endpoint (``OTEL_METRICS_EXPORTER=prometheus``): ``sink`` (one
endpoint per process tree), ``rundir`` (the directory the processes share), ``snapshot``
(their files and how they add up), ``text`` (the exposition format), ``server`` (HTTP)."""
