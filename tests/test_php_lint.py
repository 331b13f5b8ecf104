"""``php -l`` on every PHP file of wp-plugin/ (the plugin, its tests and the platform's scripts)."""

import pathlib
import shutil
import subprocess

import pytest

ROOT = pathlib.Path(__file__).resolve().parents[1]
PHP_FILES = sorted(p for p in (ROOT / "wp-plugin").rglob("*.php") if ".venv" not in p.parts)


def test_there_are_php_files():
    assert shutil.which("php"), "php is missing (bash .ci/run installs php-cli)"
    assert PHP_FILES


@pytest.mark.parametrize("path", PHP_FILES, ids=[str(p.relative_to(ROOT)) for p in PHP_FILES])
def test_php_lint(path):
    result = subprocess.run(["php", "-l", str(path)], capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stdout + result.stderr
