from django.urls import path

from tenantatlas.overview import views

app_name = "overview"

urlpatterns = [
    path("", views.home, name="home"),
    path("w/<slug:slug>/overview/", views.workspace_overview, name="workspace"),
]
