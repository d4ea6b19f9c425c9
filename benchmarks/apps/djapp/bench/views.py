import itertools

from django.http import JsonResponse

from djapp.bench.models import Item

_ids = itertools.cycle(range(1, 101))


def item(request):
    row = Item.objects.filter(pk=next(_ids)).values("id", "name", "value").first()
    return JsonResponse(row)
