import logging

import pytest

from carloop.core import pii


def test_masks() -> None:
    assert pii.mask_phone("13812345678") == "138****5678"
    assert pii.mask_phone("+86 138-1234-5678") == "138****5678"
    assert pii.mask_id("11010519491231002X") == "1101**********002X"
    assert pii.mask_bank_card("6222 0212 3456 7890") == "************7890"


def test_scrub_masks_ids_and_phones_in_free_text() -> None:
    text = "applicant 11010519491231002X called from 13812345678 about order 20261122000001"
    assert pii.scrub(text) == "applicant 1101**********002X called from 138****5678 about order 20261122000001"


def test_blind_index_matches_equal_values_after_normalisation() -> None:
    assert pii.blind_index("phone", "+86 138 1234 5678") == pii.blind_index("phone", "13812345678")
    assert pii.blind_index("phone", "13812345678") != pii.blind_index("id_number", "13812345678")


def test_encryption_round_trip_and_ciphertext_hides_value() -> None:
    token = pii.encrypt("11010519491231002X")
    assert "11010519491231002X" not in token
    assert pii.decrypt(token) == "11010519491231002X"


def test_log_filter_masks(caplog: pytest.LogCaptureFixture) -> None:
    logger = logging.getLogger("carloop.test.pii")
    logger.addFilter(pii.MaskPiiFilter())
    with caplog.at_level(logging.INFO, logger="carloop.test.pii"):
        logger.info("phone %s", "13812345678")
    assert "13812345678" not in caplog.text
    assert "138****5678" in caplog.text


@pytest.mark.django_db
def test_phone_is_encrypted_at_rest() -> None:
    from django.db import connection

    from carloop.identity import services

    user = services.register_customer(phone="13912345678", password="Tr0ub4dour&3x")
    with connection.cursor() as cursor:
        cursor.execute("SELECT phone FROM identity_user WHERE id = %s", [user.pk.hex if connection.vendor == "sqlite" else user.pk])
        (stored,) = cursor.fetchone()
    assert "13912345678" not in stored
