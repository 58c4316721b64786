from django.contrib.auth import views as auth_views
from django.urls import path

from tenantatlas.accounts import views

app_name = "accounts"

urlpatterns = [
    path(
        "accounts/login/",
        auth_views.LoginView.as_view(
            template_name="accounts/login.html", redirect_authenticated_user=True
        ),
        name="login",
    ),
    path("accounts/logout/", auth_views.LogoutView.as_view(), name="logout"),
    path("w/<slug:slug>/tokens/", views.token_list, name="tokens"),
    path("w/<slug:slug>/tokens/<int:pk>/revoke/", views.token_revoke, name="token_revoke"),
]
