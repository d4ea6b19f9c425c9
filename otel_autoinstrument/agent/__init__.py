"""What runs inside the application: start-up, import hooks, plugin discovery, process and thread hooks, the pipelines."""
