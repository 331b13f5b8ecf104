"""The WordPress plugin's PHP outside WordPress: every file parses (``php -l``), and its request signer gives
exactly the shared test vectors (tests/signing_vectors.json) — the same file the Python signer is checked
against below, so the two signers cannot drift."""

from __future__ import annotations

import base64
import json
import subprocess
from pathlib import Path

import pytest

from service.signing import canonical_string, sign_headers

ROOT = Path(__file__).resolve().parent.parent
PLUGIN = ROOT / "wp-plugin" / "lop-sidecar"
VECTORS_FILE = ROOT / "tests" / "signing_vectors.json"
VECTORS = json.loads(VECTORS_FILE.read_text(encoding="utf-8"))["vectors"]
PHP_FILES = sorted(p for p in (ROOT / "wp-plugin").rglob("*.php") if ".venv" not in p.parts)


def test_there_are_php_files():
    assert PHP_FILES and (PLUGIN / "lop-sidecar.php") in PHP_FILES


@pytest.mark.parametrize("path", PHP_FILES, ids=lambda p: str(p.relative_to(ROOT)))
def test_php_file_parses(path):
    result = subprocess.run(["php", "-l", str(path)], capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stdout + result.stderr


@pytest.mark.parametrize("vector", VECTORS, ids=lambda v: v["name"])
def test_python_signer_gives_the_vectors(vector):
    body = base64.b64decode(vector["body_base64"])
    switched = vector["switched_from"]
    canonical = canonical_string(str(vector["timestamp"]), vector["nonce"], vector["method"], vector["path"],
                                 str(vector["user"]), "" if switched is None else str(switched), body)
    assert canonical == vector["canonical"]
    headers = sign_headers(vector["secret"], vector["method"], vector["path"], user=vector["user"], switched_from=switched,
                           body=body, timestamp=vector["timestamp"], nonce=vector["nonce"])
    assert headers["X-LOP-Signature"] == vector["signature"]
    assert ("X-LOP-Switched-From" in headers) == (switched is not None)


def test_php_signer_gives_the_vectors():
    result = subprocess.run(["php", str(PLUGIN / "tests" / "test-signing.php"), str(VECTORS_FILE)],
                            capture_output=True, text=True)
    assert result.returncode == 0, result.stdout + result.stderr
    assert f"{len(VECTORS)} vectors, 0 failed" in result.stdout


def test_php_signer_test_fails_on_a_wrong_vector(tmp_path):
    """The PHP test can fail: one changed signature makes it exit non-zero and name that vector."""
    vectors = json.loads(VECTORS_FILE.read_text(encoding="utf-8"))
    vectors["vectors"][1]["signature"] = "v1=" + "0" * 64
    wrong = tmp_path / "vectors.json"
    wrong.write_text(json.dumps(vectors), encoding="utf-8")
    result = subprocess.run(["php", str(PLUGIN / "tests" / "test-signing.php"), str(wrong)], capture_output=True, text=True)
    assert result.returncode == 1
    assert f"FAIL {VECTORS[1]['name']}" in result.stdout
