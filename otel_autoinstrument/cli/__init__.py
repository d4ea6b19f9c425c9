"""otel-run: the command line, apart from what runs inside the application."""
