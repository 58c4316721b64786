from django.urls import path

from tenantatlas.inventory import change_views, views

app_name = "inventory"

urlpatterns = [
    path("inventory/", views.item_list, name="list"),
    path("inventory/export.csv", views.item_export, name="export"),
    path("inventory/<int:pk>/", views.item_detail, name="item"),
    path("inventory/<int:pk>/changes/", change_views.item_changes, name="item_changes"),
    path("changes/", change_views.change_list, name="changes"),
    path("changes/export.csv", change_views.change_export, name="changes_export"),
    path("compliance/", views.compliance_history, name="compliance"),
]
