from django.urls import path

from tenantatlas.operations import views

app_name = "operations"

urlpatterns = [
    path("", views.run_list, name="runs"),
    path("<int:pk>/", views.run_detail, name="run"),
    path("<int:pk>/cancel/", views.run_cancel, name="cancel"),
]
