from django.urls import path

from carloop.finance import views

urlpatterns = [
    path("", views.index, name="index"),
    path("calculator/", views.calculator, name="calculator"),
    path("apply/", views.apply, name="apply"),
    path("apply/preview/", views.apply_preview, name="apply_preview"),
    path("applications/<uuid:application_id>/", views.application_detail, name="application"),
    path("applications/<uuid:application_id>/contract/", views.offer_contract, name="offer_contract"),
    path("loans/<uuid:loan_id>/", views.loan_detail, name="loan"),
    path("loans/<uuid:loan_id>/contract/", views.contract, name="contract"),
    path("ops/", views.ops, name="ops"),
    path("cob/", views.cob_runs, name="cob_runs"),
    path("cob/<str:day>/", views.cob_run, name="cob_run"),
    path("collections/", views.collections, name="collections"),
    path("collections/export.csv", views.collections_export, name="collections_export"),
    path("collections/<uuid:loan_id>/", views.collection_case, name="collection_case"),
    path("partners/", views.partners, name="partners"),
    path("partners/<uuid:org_id>/", views.partner, name="partner"),
]
