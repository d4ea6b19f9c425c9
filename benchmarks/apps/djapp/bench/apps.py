from django.apps import AppConfig


class BenchConfig(AppConfig):
    name = "djapp.bench"
    label = "bench"
