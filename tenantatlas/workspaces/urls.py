from django.urls import path

from tenantatlas.workspaces import views

app_name = "workspaces"

urlpatterns = [
    path("", views.home, name="home"),
    path("switch/", views.switch_workspace, name="switch"),
    path("w/<slug:slug>/", views.workspace_home, name="workspace"),
    path("w/<slug:slug>/members/", views.member_list, name="members"),
    path("w/<slug:slug>/members/<int:pk>/role/", views.member_role, name="member_role"),
    path("w/<slug:slug>/members/<int:pk>/remove/", views.member_remove, name="member_remove"),
]
