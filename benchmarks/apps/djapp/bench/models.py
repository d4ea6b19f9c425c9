from django.db import models


class Item(models.Model):
    name = models.CharField(max_length=64)
    value = models.IntegerField()

    class Meta:
        app_label = "bench"
