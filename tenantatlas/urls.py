from django.urls import include, path

from tenantatlas.api.api import api, unknown_endpoint
from tenantatlas.lib import health_views
from tenantatlas.onboarding import views as onboarding_views

urlpatterns = [
    path("healthz", health_views.healthz, name="healthz"),
    path("readyz", health_views.readyz, name="readyz"),
    path("metrics", include("tenantatlas.observability.urls")),  # Prometheus, token or network
    path("", include("tenantatlas.overview.urls")),
    path("", include("tenantatlas.workspaces.urls")),
    path("", include("tenantatlas.members.urls")),
    path("", include("tenantatlas.accounts.urls")),
    path("w/<slug:slug>/connections/", include("tenantatlas.providers.urls")),
    path("w/<slug:slug>/onboarding/", include("tenantatlas.onboarding.urls")),
    # Microsoft redirects to exactly one registered address: one for the whole install.
    path(
        "onboarding/consent/callback/",
        onboarding_views.consent_callback,
        name="onboarding_callback",
    ),
    path("w/<slug:slug>/audit/", include("tenantatlas.audit.urls")),
    path("w/<slug:slug>/runs/", include("tenantatlas.operations.urls")),
    path("w/<slug:slug>/notifications/", include("tenantatlas.notifications.urls")),
    path("w/<slug:slug>/alerts/", include("tenantatlas.alerts.urls")),
    path("w/<slug:slug>/", include("tenantatlas.inventory.urls")),
    path("api/v1/", api.urls),
    # Any other /api/ path answers the API's envelope, not the HTML 404 page.
    path("api/", unknown_endpoint),
    path("api/<path:rest>", unknown_endpoint),
]

# Inside /w/<slug>/ the error pages keep the workspace navigation for its members.
handler403 = "tenantatlas.workspaces.error_pages.permission_denied"
handler404 = "tenantatlas.workspaces.error_pages.page_not_found"
handler500 = "tenantatlas.workspaces.error_pages.server_error"
