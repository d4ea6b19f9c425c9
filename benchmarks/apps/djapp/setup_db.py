"""Migrate (syncdb: the app has no migrations) and seed the Django DB once, untimed.
Run as: python -m djapp.setup_db   (cwd benchmarks/apps, BENCH_DJANGO_DB set)"""
import os

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "djapp.settings")

import django  # noqa: E402

django.setup()

from django.core.management import call_command  # noqa: E402

from djapp.bench.models import Item  # noqa: E402

call_command("migrate", run_syncdb=True, verbosity=0)
Item.objects.all().delete()
Item.objects.bulk_create([Item(id=i, name="item-%d" % i, value=i * 7) for i in range(1, 101)])
print("seeded", Item.objects.count())
