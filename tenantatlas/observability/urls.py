from django.urls import path

from tenantatlas.observability import views

urlpatterns = [path("", views.metrics, name="metrics")]
