"""Loading strategy.yaml: the shipped file, errors that name file and field, merge, hash."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml
from bite.config.loader import canonical_dump, config_from_dump, load_config, redacted
from bite.config.schema import StrategyConfig
from bite.errors import ConfigError, ExitCode

ROOT = Path(__file__).resolve().parents[3]
SHIPPED = ROOT / "strategy.yaml"


def write(tmp_path: Path, text: str, name: str = "strategy.yaml") -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def problems_of(tmp_path: Path, text: str) -> ConfigError:
    with pytest.raises(ConfigError) as caught:
        load_config(write(tmp_path, text))
    assert caught.value.exit_code == ExitCode.USAGE
    return caught.value


def test_shipped_file_is_valid_and_equals_the_defaults() -> None:
    loaded = load_config(SHIPPED)
    assert loaded.config == StrategyConfig()
    assert loaded.config.execution.environment == "paper"


def _leaves(data: object, prefix: str = "") -> set[str]:
    if isinstance(data, dict):
        out: set[str] = set()
        for key, value in data.items():
            out |= _leaves(value, f"{prefix}{key}.")
        return out
    return {prefix.rstrip(".")}


def test_shipped_file_lists_every_parameter_with_a_comment() -> None:
    listed = _leaves(yaml.safe_load(SHIPPED.read_text(encoding="utf-8")))
    every = _leaves(StrategyConfig().model_dump(mode="json"))
    assert listed == every
    for line in SHIPPED.read_text(encoding="utf-8").splitlines():
        stripped = line.strip()
        if stripped and not stripped.startswith("#") and not stripped.endswith(":"):
            assert "#" in line, f"no comment on: {line}"


def test_an_out_of_range_field_names_the_file_and_dotted_path(tmp_path: Path) -> None:
    error = problems_of(tmp_path, "strikes:\n  dte_min: -1\n")
    assert str(tmp_path / "strategy.yaml") in str(error)
    assert "strikes.dte_min" in str(error)
    assert "-1" in str(error)


def test_a_cross_field_rule_names_a_field(tmp_path: Path) -> None:
    error = problems_of(tmp_path, "strikes:\n  dte_min: 15\n  dte_target: 12\n")
    assert error.problems == [("strikes.dte_min", "need dte_min <= dte_target <= dte_max")]


@pytest.mark.parametrize(
    ("text", "field"),
    [
        ("bias:\n  history_days: 55\n", "bias.history_days"),
        ("entry:\n  dvol_min: 120\n", "entry.dvol_min"),
        ("strikes:\n  short_delta_target: 0.3\n", "strikes.short_delta_min"),
        ("strikes:\n  width_pct_of_spot: 12\n", "strikes.width_min_pct"),
        ("execution:\n  environment: mainnet\n", "execution.allow_mainnet"),
        ("execution:\n  environment: moon\n", "execution.environment"),
        ("entry:\n  max_concurrent_positions: 5\n", "entry.max_concurrent_positions"),
        ("underlying: BTC\n", "underlying"),
        ("kill_switch:\n  exits_when_operational: some\n", "kill_switch.exits_when_operational"),
        ("services:\n  deribit:\n    transport: grpc\n", "services.deribit.transport"),
        ("anomaly:\n  max_age_minutes:\n    index: 0\n", "anomaly.max_age_minutes.index"),
        ("hedge:\n  mode: eur\n", "hedge.mode"),
        ("hedge:\n  instrument: BTC-PERPETUAL\n", "hedge.instrument"),
        ("hedge:\n  band_pct: 0\n", "hedge.band_pct"),
        ("hedge:\n  max_order_usd: 0.5\n", "hedge.max_order_usd"),
        ("hedge:\n  funding_reduced_fraction: 1\n", "hedge.funding_reduced_fraction"),
    ],
)
def test_each_bad_value_names_its_field(tmp_path: Path, text: str, field: str) -> None:
    error = problems_of(tmp_path, text)
    assert field in [f for f, _ in error.problems]


def test_unknown_keys_are_refused_with_their_path(tmp_path: Path) -> None:
    error = problems_of(tmp_path, "strikes:\n  dte_minn: 10\n")
    assert error.problems[0][0] == "strikes.dte_minn"
    assert "unknown key" in error.problems[0][1]


def test_mainnet_is_accepted_with_allow_mainnet(tmp_path: Path) -> None:
    path = write(tmp_path, "execution:\n  environment: mainnet\n  allow_mainnet: true\n")
    assert load_config(path).config.execution.environment == "mainnet"


def test_a_yaml_syntax_error_gives_the_line(tmp_path: Path) -> None:
    error = problems_of(tmp_path, "entry:\n  dvol_min: 40\n  dvol_max: [110\n")
    assert "line" in str(error)
    assert "YAML syntax error" in str(error)


def test_a_missing_file_is_a_config_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="file not found"):
        load_config(tmp_path / "nope.yaml")


def test_a_top_level_list_is_refused(tmp_path: Path) -> None:
    assert "mapping" in str(problems_of(tmp_path, "- a\n- b\n"))


def test_local_file_merges_over_the_base(tmp_path: Path) -> None:
    base = write(tmp_path, "entry:\n  dvol_min: 45\n  dvol_max: 100\n")
    write(tmp_path, "entry:\n  dvol_max: 90\n", "strategy.local.yaml")
    loaded = load_config(base)
    assert (loaded.config.entry.dvol_min, loaded.config.entry.dvol_max) == (45, 90)
    assert loaded.local_path == tmp_path / "strategy.local.yaml"


def test_an_error_set_by_the_local_file_names_the_local_file(tmp_path: Path) -> None:
    base = write(tmp_path, "entry:\n  dvol_min: 45\n")
    write(tmp_path, "entry:\n  fear_greed_min: -3\n", "strategy.local.yaml")
    with pytest.raises(ConfigError) as caught:
        load_config(base)
    assert caught.value.file == str(tmp_path / "strategy.local.yaml")


def test_hash_ignores_comments_and_key_order(tmp_path: Path) -> None:
    a = write(tmp_path, "entry:\n  dvol_min: 45\n  dvol_max: 100\n", "a.yaml")
    b = write(tmp_path, "# note\nentry:\n  dvol_max: 100   # cap\n  dvol_min: 45.0\n", "b.yaml")
    c = write(tmp_path, "entry:\n  dvol_min: 46\n  dvol_max: 100\n", "c.yaml")
    assert load_config(a).hash == load_config(b).hash
    assert load_config(a).hash != load_config(c).hash


def test_the_canonical_dump_round_trips() -> None:
    config = load_config(SHIPPED).config
    assert config_from_dump(canonical_dump(config)) == config


def test_redacted_hides_secrets_and_url_credentials(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        "paper:\n  serve_token: tok-SECRET-123\n"
        "services:\n  deribit:\n    url: https://user:pw-SECRET@mcp.example:9011/x\n",
    )
    data = redacted(load_config(path).config)
    text = repr(data)
    assert "SECRET" not in text
    assert data["paper"]["serve_token"] == "***"
    assert data["services"]["deribit"]["url"] == "https://***@mcp.example:9011/x"


def test_the_secret_stays_out_of_the_models_repr(tmp_path: Path) -> None:
    path = write(tmp_path, "paper:\n  serve_token: tok-SECRET-123\n")
    assert "SECRET" not in repr(load_config(path).config)


def test_the_stored_dump_keeps_no_secret_and_rebuilds_without_it(tmp_path: Path) -> None:
    from bite.config.loader import stored_dump

    config = load_config(write(tmp_path, "paper:\n  serve_token: tok-SECRET-123\n")).config
    dump = stored_dump(config)
    assert "SECRET" not in dump
    rebuilt = config_from_dump(dump)
    assert rebuilt.paper.serve_token is None
    assert rebuilt.entry == config.entry


def test_a_key_given_twice_is_refused_with_its_line(tmp_path: Path) -> None:
    error = problems_of(
        tmp_path, "paper:\n  seed: 3\nentry:\n  dvol_min: 40\npaper:\n  auto_approve: false\n"
    )
    assert "'paper' is given twice" in str(error)
    assert "line 5" in str(error)
