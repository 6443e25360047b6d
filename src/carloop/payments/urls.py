from django.urls import path

from carloop.payments import views

urlpatterns = [
    path("checkout/", views.checkout, name="checkout"),
    path("intents/<uuid:intent_id>/pay/", views.pay, name="pay"),
    path("intents/<uuid:intent_id>/", views.intent_page, name="intent"),
    path("intents/<uuid:intent_id>/status/", views.intent_status, name="intent_status"),
    path("sim/pay/<str:order_no>/", views.simulator_pay, name="sim_pay"),
    path("ops/", views.ops, name="ops"),
]
