"""Logs: the record model and pipeline (the logging handler lives with the instrumentors)."""
