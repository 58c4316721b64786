from django.contrib.auth import views as auth_views
from django.urls import path

from tenantatlas.accounts import microsoft_views, views

app_name = "accounts"

urlpatterns = [
    path("accounts/login/", views.SignInView.as_view(), name="login"),
    path("accounts/logout/", auth_views.LogoutView.as_view(), name="logout"),
    path("accounts/", microsoft_views.account, name="account"),
    path("accounts/microsoft/", microsoft_views.microsoft_sign_in, name="microsoft_sign_in"),
    path(
        "accounts/microsoft/callback/",
        microsoft_views.microsoft_callback,
        name="microsoft_callback",
    ),
    path("accounts/microsoft/link/", microsoft_views.microsoft_link, name="microsoft_link"),
    path(
        "accounts/microsoft/<int:pk>/unlink/",
        microsoft_views.microsoft_unlink,
        name="microsoft_unlink",
    ),
    path(
        "accounts/break-glass/<str:uidb64>/<str:token>/",
        microsoft_views.break_glass,
        name="break_glass",
    ),
    path("w/<slug:slug>/tokens/", views.token_list, name="tokens"),
    path("w/<slug:slug>/tokens/<int:pk>/revoke/", views.token_revoke, name="token_revoke"),
]
