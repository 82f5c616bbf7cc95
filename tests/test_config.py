"""Settings: one list, one parser, clear messages; README's table is that list."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

from restoration import ConfigError, config

ROOT = Path(__file__).resolve().parents[1]


@pytest.mark.parametrize(("name", "raw", "value"), [
    ("RESTORATION_QUEUE_SIZE", "8", 8),
    ("RESTORATION_QUEUE_SIZE", " 12 ", 12),
    ("RESTORATION_GPU_MEMORY_GB", "1.5", 1.5),
    ("RESTORATION_COMPILE", "yes", True),
    ("RESTORATION_CUDNN_BENCHMARK", "0", False),
    ("RESTORATION_MODELS_DIR", "~/w", Path("~/w").expanduser()),
    ("RESTORATION_QUEUE_SIZE", "", 32),  # empty: the default
])
def test_values_are_parsed_by_kind(monkeypatch, name, raw, value):
    monkeypatch.setenv(name, raw)
    assert config.get(name) == value


@pytest.mark.parametrize(("name", "raw", "expect"), [
    ("RESTORATION_QUEUE_SIZE", "abc", "RESTORATION_QUEUE_SIZE='abc' is not valid: expected a whole number of at "
                                      "least 1 (default 32)"),
    ("RESTORATION_CONCURRENCY", "0", "expected a whole number of at least 1"),
    ("RESTORATION_MAX_PIXELS", "1.5", "RESTORATION_MAX_PIXELS='1.5'"),
    ("RESTORATION_GPU_MEMORY_GB", "nan", "expected a number of at least 0.25"),
    ("RESTORATION_COMPILE", "maybe", "expected 1/true/yes/on or 0/false/no/off"),
])
def test_a_bad_value_names_the_variable_and_what_is_expected(monkeypatch, name, raw, expect):
    monkeypatch.setenv(name, raw)
    with pytest.raises(ConfigError, match=re.escape(expect)):
        config.get(name)
    with pytest.raises(ConfigError):
        config.check_all()


def test_the_library_reads_its_limits_through_config(monkeypatch, tmp_path):
    from restoration import read_image

    monkeypatch.setenv("RESTORATION_MAX_PIXELS", "lots")
    with pytest.raises(ConfigError, match="RESTORATION_MAX_PIXELS"):
        read_image(b"\x89PNG\r\n\x1a\n" + b"\0" * 64)


def test_the_app_stops_with_one_line_on_a_bad_setting(tmp_path):
    env = {"PATH": "/usr/bin:/bin", "RESTORATION_QUEUE_SIZE": "abc", "HOME": str(tmp_path)}
    r = subprocess.run([sys.executable, "app.py"], cwd=ROOT, env=env, capture_output=True, text=True, timeout=120)
    assert r.returncode == 2
    assert r.stderr.strip().splitlines()[-1] == (
        "error: RESTORATION_QUEUE_SIZE='abc' is not valid: expected a whole number of at least 1 (default 32); "
        "fix or unset it")
    assert "Traceback" not in r.stderr


def test_the_settings_table_lists_exactly_the_settings():
    text = (ROOT / "docs" / "app.md").read_text()
    section = text.split("## Settings", 1)[1].split("\n## ", 1)[0]
    rows = [line for line in section.splitlines() if line.startswith("| `")]
    documented: dict[str, str] = {}
    for row in rows:
        cells = [c.strip() for c in row.strip("|").split("|")]
        for name in re.findall(r"`([A-Z_]+)`", cells[0]):
            documented[name] = cells[-1]
    assert set(documented) == set(config.SETTINGS)
    for name, s in config.SETTINGS.items():  # the default column says the same as the code
        if s.default is not None and s.kind in ("int", "float"):
            assert float(documented[name].replace(",", "")) == s.default, name
        if s.kind == "flag":
            assert documented[name] == ("on" if s.default else "off"), name
