import json

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError

from carloop.identity import services as identity
from carloop.risk import platform_model
from carloop.risk.models import ModelVersion


def test_train_json_and_bad_input_exit_code(tmp_path, capsys):
    data = tmp_path / "platform.csv"
    call_command("risk", "synthetic", "--out", str(data), "--rows", "600")
    out = tmp_path / "model"
    call_command("risk", "train", "--data", str(data), "--target", "bad", "--bad-value", "1", "--cv", "3", "--inner-cv", "2",
                 "--cost-bad-as-good", "5", "--cost-good-as-bad", "1", "--out", str(out), "--json")  # fmt: skip
    doc = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert list(doc) == ["model", "auc", "auc_std", "ks", "gini", "cost", "threshold", "n_rows", "n_features", "out"]
    assert doc["n_rows"] == 600 and doc["n_features"] == 18 and (out / "meta.json").is_file()
    with pytest.raises(SystemExit) as exc:
        call_command("risk", "train", "--data", str(data), "--target", "missing", "--bad-value", "1", "--json")
    assert exc.value.code == 2
    assert "unknown-target" in capsys.readouterr().err


@pytest.mark.django_db
def test_register_and_promote_need_a_risk_analyst(capsys):
    identity.create_staff_user(username="ana", password="Tr0ub4dour&3x", platform_roles=("risk_analyst",))
    identity.create_staff_user(username="opsy", password="Tr0ub4dour&3x", platform_roles=("ops",))
    with pytest.raises(CommandError):
        call_command("risk", "register", str(platform_model.BUILTIN_DIR), "--by", "opsy")
    call_command("risk", "register", str(platform_model.BUILTIN_DIR), "--by", "ana")
    call_command("risk", "promote", platform_model.BUILTIN_VERSION, "--role", "champion", "--by", "ana")
    mv = ModelVersion.objects.get(version=platform_model.BUILTIN_VERSION)
    assert mv.role == "champion" and mv.promoted_by.startswith("user:")
    call_command("risk", "models")
    assert platform_model.BUILTIN_VERSION in capsys.readouterr().out
    with pytest.raises(CommandError):
        call_command("risk", "promote", "nope", "--role", "champion", "--by", "ana")


def test_builtin_retrains_the_shipped_scorecard(tmp_path, capsys):
    out = tmp_path / "builtin"
    call_command("risk", "builtin", "--out", str(out))
    assert capsys.readouterr().out.strip() == str(out)
    written = json.loads((out / "meta.json").read_text())
    shipped = json.loads((platform_model.BUILTIN_DIR / "meta.json").read_text())
    assert written["version"] == shipped["version"] == platform_model.BUILTIN_VERSION
    assert written["created_at"] == "builtin"
