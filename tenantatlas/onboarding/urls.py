from django.urls import path

from tenantatlas.onboarding import bulk_views, views

app_name = "onboarding"

urlpatterns = [
    path("", views.onboarding_list, name="list"),
    path("new/", views.onboarding_start, name="start"),
    path("partner-app/", views.partner_app_detail, name="partner_app"),
    path("partner-app/edit/", views.partner_app_edit, name="partner_app_edit"),
    path("partner-app/rotate/verify/", views.partner_app_verify, name="partner_app_verify"),
    path("partner-app/rotate/discard/", views.partner_app_discard, name="partner_app_discard"),
    path("bulk/", bulk_views.bulk_add, name="bulk_add"),
    path("bulk/check/", bulk_views.bulk_check, name="bulk_check"),
    path("<int:pk>/renew/", views.onboarding_renew, name="renew"),
    path("<int:pk>/cancel/", views.onboarding_cancel, name="cancel"),
]
