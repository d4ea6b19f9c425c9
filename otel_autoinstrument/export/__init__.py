"""Export: batching, OTLP/HTTP (protobuf and JSON), console. Runs off the hot path."""
