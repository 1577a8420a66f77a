"""A hostile operator's config: every bad value is a ConfigError naming file and field.

Never a traceback, never a value silently read as another (``true`` as 1), never a
secret echoed back. The fuzz test feeds random YAML values to every field.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import pytest
import yaml
from bite.config.loader import MAX_CONFIG_BYTES, canonical_dump, load_config
from bite.config.schema import StrategyConfig
from bite.errors import ConfigError, ExitCode
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

# (name, raw bytes of strategy.local.yaml, the field named, words of the message)
CASES: list[tuple[str, bytes, str, str]] = [
    ("inf float", b"entry:\n  min_vol_premium: .inf\n", "entry.min_vol_premium", "finite"),
    ("-inf float", b"entry:\n  dvol_max: -.inf\n", "entry.dvol_max", "finite"),
    ("nan float", b"exit:\n  profit_take_pct: .nan\n", "exit.profit_take_pct", "finite"),
    ("nan as text", b'execution:\n  fill_timeout_s: "nan"\n', "execution.fill_timeout_s", "finite"),
    ("nan decimal", b"execution:\n  combo_tick: .nan\n", "execution.combo_tick", "finite"),
    ("inf in a list", b"execution:\n  retry_waits_s: [1, .inf]\n", "retry_waits_s", "finite"),
    ("nan inside faults", b"paper:\n  faults: {x: {d: .nan}}\n", "paper.faults.x.d", "finite"),
    ("bool as int", b"sizing:\n  max_contracts: true\n", "sizing.max_contracts", "true/false"),
    ("bool as float", b"execution:\n  fill_timeout_s: false\n", "fill_timeout_s", "true/false"),
    ("bool in a list", b"execution:\n  retry_waits_s: [1, true]\n", "retry_waits_s", "true/false"),
    ("not UTF-8", b"entry:\n  min_vol_premium: \xff\n", "", "not UTF-8 text (byte 27, line 2)"),
    ("a list on top", b"- 1\n- 2\n", "", "top level must be a mapping"),
    ("a section as a number", b"entry: 5\n", "entry", ""),
    ("unknown key", b"entry:\n  dvol_mni: 3\n", "entry.dvol_mni", "unknown key"),
    ("bad YAML", b"entry: [1, 2\n", "", "YAML syntax error"),
    ("key twice", b"entry:\n  dvol_min: 1\n  dvol_min: 2\n", "", "given twice"),
    ("a date for a text", b"services:\n  macro:\n    calendar_file: 2024-01-01\n", "", ""),
    ("a null section", b"sizing: null\n", "sizing", ""),
]


def _write(tmp_path: Path, local: bytes) -> Path:
    base = tmp_path / "strategy.yaml"
    base.write_text("underlying: ETH\n", encoding="utf-8")
    (tmp_path / "strategy.local.yaml").write_bytes(local)
    return base


@pytest.mark.parametrize(("name", "raw", "field", "words"), CASES, ids=[c[0] for c in CASES])
def test_each_bad_value_is_a_config_error_naming_file_and_field(
    tmp_path: Path, name: str, raw: bytes, field: str, words: str
) -> None:
    with pytest.raises(ConfigError) as caught:
        load_config(_write(tmp_path, raw))
    text = str(caught.value)
    assert caught.value.exit_code == ExitCode.USAGE
    assert "strategy.local.yaml" in text, name
    assert field in text, name
    assert words in text, name


def test_a_secret_given_as_a_number_is_refused_without_echoing_it(tmp_path: Path) -> None:
    with pytest.raises(ConfigError) as caught:
        load_config(_write(tmp_path, b"paper:\n  serve_token: 987654321012\n"))
    assert "paper.serve_token" in str(caught.value)
    assert "987654321012" not in str(caught.value)
    assert "not shown" in str(caught.value)


def test_a_huge_file_is_refused_before_it_is_parsed(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="larger than"):
        load_config(_write(tmp_path, b"#" * (MAX_CONFIG_BYTES + 10)))


def test_a_directory_in_place_of_the_file_is_a_config_error(tmp_path: Path) -> None:
    (tmp_path / "strategy.yaml").mkdir()
    with pytest.raises(ConfigError, match="not a regular file"):
        load_config(tmp_path / "strategy.yaml")


def _leaf_paths() -> list[str]:
    out: list[str] = []

    def walk(node: Any, prefix: str) -> None:
        if isinstance(node, dict) and node:
            for key, value in node.items():
                walk(value, f"{prefix}{key}.")
        else:
            out.append(prefix.rstrip("."))

    walk(StrategyConfig().model_dump(mode="json"), "")
    return out


LEAVES = _leaf_paths()

yaml_values = st.recursive(
    st.one_of(
        st.none(),
        st.booleans(),
        st.integers(min_value=-(10**30), max_value=10**30),
        st.floats(allow_nan=True, allow_infinity=True),
        st.text(max_size=20),
        st.sampled_from([".inf", "-.inf", ".nan", "1e999", "0x10", "~", "''", "[]", "{}"]),
    ),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=5), inner),
    max_leaves=6,
)


def _nest(dotted: str, value: Any) -> dict[str, Any]:
    node: Any = value
    for part in reversed(dotted.split(".")):
        node = {part: node}
    return dict(node)


@settings(
    max_examples=300,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(field=st.sampled_from(LEAVES), value=yaml_values)
def test_fuzz_every_field_either_loads_with_a_hash_or_is_a_config_error(
    tmp_path: Path, field: str, value: Any
) -> None:
    text = yaml.safe_dump(_nest(field, value), allow_unicode=True)
    base = _write(tmp_path, text.encode("utf-8"))
    error: ConfigError | None = None
    try:
        loaded = load_config(base)
    except ConfigError as caught:
        error = caught
    if error is not None:
        assert error.exit_code == ExitCode.USAGE
        assert "strategy.local.yaml" in str(error) or "strategy.yaml" in str(error)
        return
    assert len(loaded.hash) == 64
    assert "NaN" not in canonical_dump(loaded.config)
    assert "Infinity" not in canonical_dump(loaded.config)


@pytest.mark.parametrize("value", [math.inf, -math.inf, math.nan])
def test_no_float_field_accepts_a_non_finite_value_from_python(value: float) -> None:
    with pytest.raises(ValueError, match="finite"):
        StrategyConfig.model_validate({"entry": {"min_vol_premium": value}})
