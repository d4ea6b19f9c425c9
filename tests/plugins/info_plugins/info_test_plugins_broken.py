"""An instrumentor module that cannot be loaded: --info reports it as failed to load."""

raise ImportError("info-broken cannot load: a dependency of the plugin is missing")
