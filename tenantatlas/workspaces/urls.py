from django.urls import path

from tenantatlas.workspaces import views

app_name = "workspaces"

urlpatterns = [
    path("switch/", views.switch_workspace, name="switch"),
    path("w/<slug:slug>/", views.workspace_home, name="workspace"),
]
