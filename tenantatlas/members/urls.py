from django.urls import path

from tenantatlas.members import views

app_name = "members"

urlpatterns = [
    path("start/", views.start, name="start"),
    path("invitations/", views.my_invitations, name="invitations"),
    path("invitations/<int:pk>/accept/", views.invitation_accept, name="invitation_accept"),
    path("invitations/<int:pk>/decline/", views.invitation_decline, name="invitation_decline"),
    path("invitations/join/<str:token>/", views.invitation_link, name="invitation_link"),
    path("w/<slug:slug>/members/", views.member_list, name="list"),
    path("w/<slug:slug>/members/<int:pk>/role/", views.member_role, name="role"),
    path("w/<slug:slug>/members/<int:pk>/remove/", views.member_remove, name="remove"),
    path(
        "w/<slug:slug>/invitations/<int:pk>/revoke/",
        views.invitation_revoke,
        name="invitation_revoke",
    ),
]
