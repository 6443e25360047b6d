from django.urls import path

from carloop.commerce import views

urlpatterns = [
    path("", views.catalog, name="catalog"),
    path("compare/", views.compare, name="compare"),
    path("configure/<uuid:trim_id>/", views.configure, name="configure"),
    path("configure/<uuid:trim_id>/price/", views.configure_price, name="configure_price"),
    path("configure/<uuid:trim_id>/order/", views.order_create, name="order_create"),
    path("orders/", views.orders, name="orders"),
    path("orders/<uuid:order_id>/", views.order_detail, name="order"),
    path("orders/<uuid:order_id>/<slug:action>/", views.order_action, name="order_action"),
    path("garage/", views.garage, name="garage"),
    path("garage/<uuid:vehicle_id>/<slug:action>/", views.garage_action, name="garage_action"),
    path("test-drives/", views.test_drives, name="test_drives"),
    path("test-drives/bookings/<uuid:booking_id>/cancel/", views.test_drive_cancel, name="test_drive_cancel"),
    path("campaigns/", views.campaigns, name="campaigns"),
    path("campaigns/<uuid:campaign_id>/", views.questionnaire, name="questionnaire"),
    path("campaigns/<uuid:campaign_id>/report/", views.report, name="report"),
    path("campaigns/<uuid:campaign_id>/report.csv", views.report_csv, name="report_csv"),
]
