from django.urls import path

from tenantatlas.inventory import views

app_name = "inventory"

urlpatterns = [
    path("inventory/", views.item_list, name="list"),
    path("inventory/export.csv", views.item_export, name="export"),
    path("inventory/<int:pk>/", views.item_detail, name="item"),
    path("compliance/", views.compliance_history, name="compliance"),
]
