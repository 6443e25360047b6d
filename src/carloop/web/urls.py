from django.urls import path
from django.views.generic import RedirectView

from carloop.web import views

urlpatterns = [
    path("", views.home, name="home"),
    path("login/", views.LoginView.as_view(), name="login"),
    path("logout/", views.LogoutView.as_view(), name="logout"),
    path("signup/", views.signup, name="signup"),
    path("me/", views.profile, name="profile"),
    path("me/inbox/", views.inbox, name="inbox"),
    path("docs/api/", RedirectView.as_view(url="/api/docs"), name="api_docs"),
    path("healthz", views.healthz, name="healthz"),
]
