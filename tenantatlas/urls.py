from django.urls import include, path

urlpatterns = [
    path("", include("tenantatlas.workspaces.urls")),
    path("accounts/", include("tenantatlas.accounts.urls")),
    path("w/<slug:slug>/connections/", include("tenantatlas.providers.urls")),
    path("w/<slug:slug>/audit/", include("tenantatlas.audit.urls")),
    path("w/<slug:slug>/runs/", include("tenantatlas.operations.urls")),
    path("w/<slug:slug>/notifications/", include("tenantatlas.notifications.urls")),
    path("w/<slug:slug>/", include("tenantatlas.inventory.urls")),
]
