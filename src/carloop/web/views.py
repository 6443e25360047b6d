"""Site shell pages: home per role, sign-in/out, sign-up and the caller's profile with real-name verification."""

from __future__ import annotations

import logging
from typing import Any

from django import forms
from django.contrib import messages
from django.contrib.auth import login
from django.contrib.auth import views as auth_views
from django.contrib.auth.decorators import login_required
from django.db import connection
from django.http import HttpRequest, HttpResponse, HttpResponseServerError, JsonResponse
from django.shortcuts import redirect, render

from carloop.core import labels, notifications
from carloop.core.errors import Problem
from carloop.core.http import client_ip
from carloop.core.i18n import lt, t
from carloop.core.pages import denied
from carloop.identity import selectors, services

logger = logging.getLogger(__name__)


def home(request: HttpRequest) -> HttpResponse:
    held = selectors.roles_held(selectors.subject_of(request))
    roles = [labels.label("identity.platformrole.role", role) for role in held.platform_roles]
    return render(request, "web/home.html", {"roles": t("、", ", ").join(roles)})


class LoginView(auth_views.LoginView):
    template_name = "web/login.html"
    redirect_authenticated_user = True


class LogoutView(auth_views.LogoutView):
    pass


class SignupForm(forms.Form):
    """Two steps on one form: "send code" needs the number only; signing up needs the code and a password too."""

    phone = forms.CharField(label=lt("手机号", "Mobile number"), max_length=20)
    code = forms.CharField(label=lt("短信验证码", "SMS code"), max_length=10, required=False)
    display_name = forms.CharField(label=lt("昵称", "Display name"), max_length=100, required=False)
    password = forms.CharField(label=lt("密码", "Password"), widget=forms.PasswordInput, min_length=8, required=False)

    def sending_code(self) -> bool:
        return self.data.get("action") == "send_code"

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        if not self.sending_code():
            for name in ("code", "password"):
                if not data.get(name) and name not in self.errors:
                    self.add_error(name, t("必填", "Required"))
        return data


class KycForm(forms.Form):
    real_name = forms.CharField(label=lt("真实姓名", "Legal name"), max_length=30)
    id_number = forms.CharField(label=lt("居民身份证号", "Resident ID number"), max_length=20)
    city = forms.CharField(label=lt("所在城市", "City"), max_length=50, required=False)


def _apply_problem(form: forms.Form, problem: Problem) -> None:
    lang_en = t("zh", "en") == "en"
    for error in problem.errors or []:
        field = error.pointer.strip("/").split("/")[0]
        form.add_error(field if field in form.fields else None, error.en if lang_en else error.zh)
    if not problem.errors:
        form.add_error(None, problem.en if lang_en else problem.zh)


def signup(request: HttpRequest) -> HttpResponse:
    form = SignupForm(request.POST or None)
    context: dict[str, Any] = {"form": form}
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        try:
            if form.sending_code():
                services.send_signup_code(phone=data["phone"], client_ip=client_ip(request))
                context["code_sent"] = t(*services.SIGNUP_CODE_SENT)
            else:
                user = services.sign_up(phone=data["phone"], code=data["code"], password=data["password"],
                                        display_name=data["display_name"])
                login(request, user, backend="carloop.identity.auth.PhoneOrUsernameBackend")
                messages.success(request, t("注册成功，请完成实名认证", "Welcome! Please complete real-name verification."))
                return redirect("web:profile")
        except Problem as problem:
            _apply_problem(form, problem)
            if problem.status == 429:
                response = render(request, "web/signup.html", context, status=429)
                for name, value in problem.headers.items():
                    response[name] = value
                return response
    return render(request, "web/signup.html", context)


@login_required
def profile(request: HttpRequest) -> HttpResponse:
    user = request.user
    form = KycForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            profile = services.verify_kyc(user, **form.cleaned_data)  # type: ignore[arg-type]
        except Problem as problem:
            _apply_problem(form, problem)
        else:
            if profile.kyc_status == profile.Kyc.VERIFIED:
                messages.success(request, t("实名认证已完成", "Real-name verification complete"))
            else:
                messages.warning(request, t("已提交，实名核验服务尚未确认，目前为自行申报", "Submitted: the KYC provider has not confirmed it, so it is self-declared for now"))
            return redirect("web:profile")
    facts = selectors.customer_facts(str(user.pk))
    return render(request, "web/profile.html", {"facts": facts, "form": form})


@login_required
def inbox(request: HttpRequest) -> HttpResponse:
    """The messages carloop sent the caller (repayment reminders, order and loan news), newest first."""
    return render(request, "web/inbox.html", {"messages_sent": notifications.inbox(f"user:{request.user.pk}")})


def permission_denied(request: HttpRequest, exception: Exception | None = None) -> HttpResponse:
    return denied(request)


def csrf_failure(request: HttpRequest, reason: str = "") -> HttpResponse:
    """A form posted without a valid CSRF token (usually an old tab): 403 with what to do, not a sign-in prompt."""
    return render(request, "403.html", {"expired": True}, status=403)


def page_not_found(request: HttpRequest, exception: Exception | None = None) -> HttpResponse:
    return render(request, "404.html", status=404)


def server_error(request: HttpRequest) -> HttpResponse:
    """The site's 500 page in the shell; if the shell itself cannot be drawn (say the database is gone), a bare
    page in the same language."""
    try:
        return render(request, "500.html", status=500)
    except Exception:
        logger.exception("the 500 page could not be rendered")
        title = t("出错了", "Something went wrong")
        body = t("服务器处理这个请求时出错，请稍后再试。", "The server failed while handling this request; please try again later.")
        return HttpResponseServerError(
            f'<!doctype html><html lang="{t("zh-Hans", "en")}"><meta charset="utf-8"><title>{title} · carloop</title>'
            f'<h1>{title}</h1><p>{body}</p><p><a href="/">{t("返回首页", "Back to the home page")}</a></p></html>')


def healthz(request: HttpRequest) -> JsonResponse:
    with connection.cursor() as cursor:
        cursor.execute("SELECT 1")
    return JsonResponse({"status": "ok", "database": connection.vendor})
