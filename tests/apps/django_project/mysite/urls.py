"""URL routes of the test project."""

from django.contrib import admin
from django.urls import path

from shop import async_views, views

urlpatterns = [
    path("", views.index),
    path("health/", views.health),
    path("users/<int:pk>/", views.user),
    path("error/", views.error),
    path("stream/", views.stream),
    path("slow-stream/", views.slow_stream),
    path("file/", views.file),
    path("upstream/", views.upstream),
    path("log/", views.log),
    path("db/", views.db),
    path("db-error/", views.db_error),
    path("login-signal/", views.login_signal),
    path("async/users/<int:pk>/", async_views.async_user),
    path("async/error/", async_views.async_error),
    path("admin/", admin.site.urls),
]
