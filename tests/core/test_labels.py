import re
from io import StringIO

import pytest
from django.core.management import call_command
from django.template import Context, Template
from django.utils import translation

from carloop.core import labels

HAN = re.compile(r"[\u3400-\u9fff]")
# Codes whose label is the same symbol in both languages.
SAME_IN_BOTH = {("vehicles.conditionreport.grade", code) for code in "ABCDE"}


def test_every_label_has_chinese_and_english_text() -> None:
    for vocabulary, entries in labels.vocabularies().items():
        for code, (zh, en) in entries.items():
            assert not HAN.search(en), f"{vocabulary}:{code} English label {en!r} has Chinese text"
            if (vocabulary, code) not in SAME_IN_BOTH:
                assert HAN.search(zh), f"{vocabulary}:{code} Chinese label {zh!r} has no Chinese text"


def test_model_choices_are_registered_and_display_in_the_active_language() -> None:
    from carloop.commerce.models import CarOrder

    order = CarOrder(state="deposit_paid")
    with translation.override("zh-hans"):
        assert order.get_state_display() == "已付定金"
        assert labels.label("commerce.carorder.state", "deposit_paid") == "已付定金"
    with translation.override("en"):
        assert order.get_state_display() == "Deposit paid"
        assert labels.label("commerce.carorder.state", "deposit_paid") == "Deposit paid"


def test_the_label_filter_renders_one_language() -> None:
    template = Template('{{ code|label:"vehicles.powertrain" }}|{{ missing|label:"vehicles.powertrain" }}')
    with translation.override("zh-hans"):
        assert template.render(Context({"code": "BEV", "missing": None})) == "纯电动|—"
    with translation.override("en"):
        assert template.render(Context({"code": "BEV"})) == "Battery electric (BEV)|—"


def test_a_code_cannot_be_registered_twice_with_different_text() -> None:
    labels.register("tests.sample", {"x": ("甲", "X")})
    labels.register("tests.sample", {"x": ("甲", "X")})
    with pytest.raises(ValueError):
        labels.register("tests.sample", {"x": ("乙", "X")})


def test_admin_model_names_are_translated() -> None:
    from django.contrib import admin

    for model in admin.site._registry:
        if not model.__module__.startswith("carloop."):
            continue
        with translation.override("zh-hans"):
            assert HAN.search(str(model._meta.verbose_name_plural)), f"{model.__name__} has no Chinese name"
        with translation.override("en"):
            assert not HAN.search(str(model._meta.verbose_name_plural)), model.__name__


@pytest.mark.django_db
def test_migrations_match_the_models() -> None:
    """Labels are lazy texts; the migrations record them as the default (Chinese) text and must stay in step."""
    call_command("makemigrations", "--check", "--dry-run", stdout=StringIO())
