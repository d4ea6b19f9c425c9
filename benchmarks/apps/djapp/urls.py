from django.urls import path

from djapp.bench import views

urlpatterns = [path("item", views.item)]
