from django.urls import path

from carloop.payments import views

urlpatterns = [
    path("checkout/", views.checkout, name="checkout"),
    path("intents/<uuid:intent_id>/pay/", views.pay, name="pay"),
    path("intents/<uuid:intent_id>/", views.intent_page, name="intent"),
    path("intents/<uuid:intent_id>/status/", views.intent_status, name="intent_status"),
    path("sim/pay/<str:order_no>/", views.simulator_pay, name="sim_pay"),
    path("ops/", views.ops, name="ops"),
    path("settlement/", views.settlement_list, name="settlement"),
    path("settlement/<uuid:statement_id>/", views.settlement_detail, name="settlement_detail"),
    path("settlement/<uuid:statement_id>/csv/", views.settlement_csv, name="settlement_csv"),
    path("payouts/", views.payouts_list, name="payouts"),
    path("payouts/<uuid:batch_id>/", views.payout_batch, name="payout_batch"),
    path("reconciliation/", views.reconciliation, name="reconciliation"),
]
