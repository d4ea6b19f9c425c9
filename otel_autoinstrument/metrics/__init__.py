"""Metrics: instruments that aggregate in process, read periodically and exported.

* ``series``: one attribute set's aggregation (sum, last value, histogram): what the
  application's threads update, a short lock per measurement.
* ``storage``: the series of one instrument, keyed by attribute set, under the
  cardinality limit (overflow into ``otel.metric.overflow=true``).
* ``instruments``: counters, up-down counters, histograms, gauges and the observable
  (callback) kinds, created through a ``Meter``.
* ``provider``: the meters and instruments of this process, collection, fork handling.
* ``collector``: one consumer's view of a collection (temporality, start times).
* ``reader``: the one background thread per process that collects and exports.
* ``runtime``: process and CPython metrics read at collection time.
* ``prometheus`` (package): the scrape endpoint and the pre-fork shared directory.

Nothing here is imported at start-up: the agent builds the pipeline when the first
instrument is created (see ``agent.startup.Agent.metrics``).
"""
