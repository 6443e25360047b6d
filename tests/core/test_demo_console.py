"""What a newcomer sees of ``make demo``: DEBUG off by default, plain progress lines when piped, messages sent
while seeding in files (not between the progress lines), the login table aligned for Chinese text."""

from __future__ import annotations

import io
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from django.test import override_settings

from carloop.core import notifications
from carloop.core.seeding import DEMO_PASSWORD, SeedContext, display_width, login_table


def test_unknown_url_with_default_settings_is_the_sites_own_404(tmp_path: Path) -> None:
    """Without CARLOOP_DEBUG the site runs with DEBUG off: an unknown URL is the site's 404 page, listing no URL
    patterns."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("CARLOOP_")} | {
        "CARLOOP_VAR_DIR": str(tmp_path), "DJANGO_SETTINGS_MODULE": "carloop.settings"}
    script = ("import django; django.setup()\n"
              "from django.conf import settings; from django.test import Client\n"
              "r = Client().get('/no-such-page/')\n"
              "print(settings.DEBUG, r.status_code, r.content.decode())")
    result = subprocess.run([sys.executable, "-c", script], env=env, capture_output=True, text=True, check=True)
    debug, status, body = result.stdout.split(" ", 2)
    assert (debug, status) == ("False", "404")
    assert "页面不存在" in body and "URLconf" not in body and "admin/" not in body and "api/docs" not in body


def test_progress_piped_is_one_plain_line_per_loop() -> None:
    out = io.StringIO()
    ctx = SeedContext(scale="demo", stdout=out)
    assert list(ctx.progress(range(3), "customers")) == [0, 1, 2]
    lines = out.getvalue().splitlines()
    assert "\r" not in out.getvalue()
    assert len(lines) == 1 and lines[0].startswith("  customers: 3 in ")


def test_quiet_progress_prints_nothing() -> None:
    out = io.StringIO()
    assert list(SeedContext(scale="demo", stdout=out, quiet=True).progress([1], "x")) == [1]
    assert out.getvalue() == ""


def test_login_table_aligns_wide_characters() -> None:
    assert display_width("京车会·01（A）") == 14  # 京车会 6, · 1, 01 2, full-width brackets 2 each, A 1
    table = login_table([("车主 car owner", "owner"), ("运营 ops", "ops"), ("supplier (博世（苏州）)", "supplier")])
    header, *rows = table.splitlines()
    assert DEMO_PASSWORD in header and not any(DEMO_PASSWORD in row for row in rows)
    columns = {display_width(row[: row.rindex("  ")]) for row in rows}
    assert len(columns) == 1
    assert [row.split()[-1] for row in rows] == ["owner", "ops", "supplier"]


@pytest.mark.django_db
def test_console_backend_writes_files_while_seeding(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    with override_settings(NOTIFICATION_BACKEND="console", NOTIFICATION_DIR=tmp_path):
        with notifications.console_to_files() as sent:
            notifications.send_sms_now("13800138000", "您的验证码是 123456", "Your code is 123456")
        assert capsys.readouterr().out == ""
        assert sent.count == 1 and sent.files == [str(tmp_path / "sms.jsonl")]
        written = json.loads((tmp_path / "sms.jsonl").read_text(encoding="utf-8"))
        assert written == {"to": "138****8000", "channel": "sms", "zh": "您的验证码是 123456", "en": "Your code is 123456"}

        notifications.send_sms_now("13800138000", "您的验证码是 654321", "Your code is 654321")
        printed = capsys.readouterr().out
        assert printed == "[sms → 138****8000] 您的验证码是 654321 / Your code is 654321\n"
        assert len((tmp_path / "sms.jsonl").read_text(encoding="utf-8").splitlines()) == 1
