from django.urls import path

from carloop.risk import views

urlpatterns = [
    path("", views.dashboard, name="dashboard"),
    path("reviews/", views.reviews, name="reviews"),
    path("reviews/<uuid:review_id>/", views.review, name="review"),
    path("reviews/<uuid:review_id>/decide/", views.decide_review, name="decide_review"),
    path("decisions/<uuid:decision_id>/", views.decision, name="decision"),
    path("rings/", views.rings, name="rings"),
    path("blacklist/", views.blacklist, name="blacklist"),
    path("blacklist/<uuid:entry_id>/remove/", views.blacklist_remove, name="blacklist_remove"),
    path("rules/", views.rules, name="rules"),
    path("rules/<uuid:ruleset_id>/<str:action>/", views.ruleset_action, name="ruleset_action"),
]
