from django.urls import path

from tenantatlas.providers import credential_views, views

app_name = "providers"

urlpatterns = [
    path("", views.connection_list, name="list"),
    path("new/", views.connection_create, name="create"),
    path("run-all/<str:operation_type>/", views.connections_run_all, name="run_all"),
    path("<int:pk>/", views.connection_detail, name="detail"),
    path("<int:pk>/actions/", views.connection_actions, name="actions"),
    path("<int:pk>/edit/", views.connection_edit, name="edit"),
    path("<int:pk>/rotate/", credential_views.credential_rotate, name="rotate"),
    path("<int:pk>/rotate/verify/", credential_views.credential_verify, name="rotate_verify"),
    path("<int:pk>/rotate/discard/", credential_views.credential_discard, name="rotate_discard"),
    path("<int:pk>/default/", views.connection_set_default, name="set_default"),
    path("<int:pk>/status/", views.connection_status, name="status"),
    path("<int:pk>/delete/", views.connection_delete, name="delete"),
    path("<int:pk>/run/<str:operation_type>/", views.connection_start_operation, name="start"),
    path("<int:pk>/schedules/", views.connection_schedules, name="schedules"),
]
