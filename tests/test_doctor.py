"""`zumen doctor`: every check passes on a good installation, and each broken thing fails its
check with a fix (tampered pack, no pack, no Japanese font, full disk, a crashing check)."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

pytest.importorskip("onnx")  # tiny packs are built with onnx

from engine import doctor  # noqa: E402
from engine.config import DEFAULT_PACK_DIR  # noqa: E402
from tests.tiny_pack import build_tiny_pack  # noqa: E402

REPO = Path(__file__).resolve().parent.parent
CHECK_NAMES = ["versions", "packages", "model pack", "ocr", "index and search", "japanese font",
               "desktop runtime", "disk space"]


@pytest.mark.skipif(not (DEFAULT_PACK_DIR / "manifest.json").is_file(), reason="default pack not built")
def test_doctor_json_passes_on_this_installation(tmp_path: Path) -> None:
    env = dict(os.environ, ZUMEN_LIBRARY=str(tmp_path / "lib"))
    proc = subprocess.run([sys.executable, "-m", "engine.cli", "doctor", "--json"], cwd=REPO, env=env,
                          capture_output=True, text=True, timeout=300)
    report = json.loads(proc.stdout)
    assert [c["name"] for c in report["checks"]] == CHECK_NAMES
    assert report["ok"] is True and proc.returncode == 0, report
    by_name = {c["name"]: c for c in report["checks"]}
    assert "焼入れ" in by_name["ocr"]["detail"] and "ZD-4711" in by_name["ocr"]["detail"]
    assert "checksums verified" in by_name["model pack"]["detail"]
    assert not (tmp_path / "lib").exists()  # the round trip used a temporary library


def test_pack_check_verifies_checksums(tmp_path: Path) -> None:
    pack = build_tiny_pack(tmp_path / "tiny")
    assert doctor.check_pack(pack).status == doctor.OK
    (pack / ".verified.json").unlink(missing_ok=True)  # no cached stamps: hash again
    onnx = pack / "text.onnx"
    data = bytearray(onnx.read_bytes())
    data[-1] ^= 0xFF
    onnx.write_bytes(bytes(data))
    check = doctor.check_pack(pack)
    assert check.status == doctor.FAIL and "install.sh" in check.fix
    missing = doctor.check_pack(tmp_path / "nowhere")
    assert missing.status == doctor.FAIL and "no model pack" in missing.detail


def test_round_trip_finds_each_document(tmp_path: Path) -> None:
    check = doctor.check_round_trip(build_tiny_pack(tmp_path / "tiny"))
    assert check.status == doctor.OK, check
    assert "'ZD-4711' -> spec_ZD-4711.txt" in check.detail


@pytest.mark.skipif(sys.platform != "linux", reason="fontconfig check is for Linux")
def test_missing_japanese_font_says_what_to_install(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(doctor.shutil, "which", lambda name: None)
    check = doctor.check_japanese_font()
    assert check.status == doctor.FAIL and "fonts-noto-cjk" in check.fix


def test_disk_space_thresholds(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    def free(n: int) -> None:
        monkeypatch.setattr(doctor.shutil, "disk_usage", lambda path: shutil._ntuple_diskusage(n + n, n, n))
    free(200 << 20)
    assert doctor.check_disk(tmp_path / "a" / "b").status == doctor.FAIL
    free(3 << 30)
    assert doctor.check_disk(tmp_path).status == doctor.WARN
    free(50 << 30)
    assert doctor.check_disk(tmp_path).status == doctor.OK


def test_a_crashing_check_fails_and_the_command_exits_nonzero(monkeypatch: pytest.MonkeyPatch,
                                                               capsys: pytest.CaptureFixture) -> None:
    def check_ocr() -> doctor.Check:
        raise RuntimeError("model file unreadable")

    monkeypatch.setattr(doctor, "check_ocr", check_ocr)
    monkeypatch.setattr(doctor, "check_round_trip", lambda pack: doctor.Check("index and search", "ok", "skipped"))
    monkeypatch.setattr(doctor, "check_pack", lambda pack: doctor.Check("model pack", "ok", "skipped"))
    from engine.cli import main

    assert main(["doctor"]) == 1
    out = capsys.readouterr().out
    assert "[FAIL] ocr: RuntimeError: model file unreadable" in out
    assert "fix: run the bundle's install.sh" in out
    assert "1 check(s) failed: ocr" in out
