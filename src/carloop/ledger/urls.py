from django.urls import path

from carloop.ledger import views

urlpatterns = [
    path("", views.accounts, name="accounts"),
    path("accounts/<uuid:account_id>/", views.statement, name="statement"),
]
