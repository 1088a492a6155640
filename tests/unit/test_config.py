"""flows.config: loading, resolving and the exact error messages for bad input."""

from __future__ import annotations

import hashlib
import json
import textwrap
from datetime import date
from pathlib import Path
from types import SimpleNamespace

import pydantic
import pytest

from flows.config import (
    AppConfig,
    AwsAccount,
    ConfigError,
    config_from_mapping,
    known_aws_regions,
    load_config,
    validate_thresholds,
)

CONFIG_NAME = "soc2-evidence.yaml"

FAKE_SPECS = {
    "aws.s3.default_encryption": SimpleNamespace(
        thresholds={"allowed_algorithms": ["AES256", "aws:kms", "aws:kms:dsse"], "require_kms": False}
    ),
    "aws.s3.public_access_block": SimpleNamespace(thresholds={}),
    "aws.iam.password_policy": SimpleNamespace(
        thresholds={"min_length": 14, "max_age_days": 90.0, "mode": "strict", "anything": None}
    ),
}

MINIMAL = """\
organization: Dexo.chat
period: {start: 2026-01-01, end: 2026-12-31}
"""

FULL = """\
organization: Dexo.chat
period: {start: 2026-01-01, end: 2026-12-31}
aws:
  regions: [us-east-1, eu-west-1]
  accounts:
    - id: "111111111111"
      name: prod
      role_arn: arn:aws:iam::111111111111:role/soc2-evidence-reader
      regions: [us-east-1]
    - id: 222222222222
      name: staging
  organization:
    discover: true
    role_name: soc2-evidence-reader
    exclude: ["333333333333"]
  retry_mode: adaptive
  max_attempts: 7
gcp:
  projects: [dexo-prod]
endpoints:
  - host: app.dexo.chat
    port: 443
    sni: app.dexo.chat
  - host: api.dexo.chat
thresholds:
  aws.s3.default_encryption: {require_kms: true}
catalog: controls.yaml
exceptions: sub/exceptions.yaml
output: ./evidence
orchestration:
  task_runner: thread
  max_workers: 4
  per_task_concurrency: 32
"""

LEAKS = ("Traceback", "pydantic", "input_value", "errors.pydantic.dev", "Value error,")


def write(folder: Path, text: str, name: str = CONFIG_NAME) -> Path:
    path = folder / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(textwrap.dedent(text), encoding="utf-8")
    return path


def config_error(path: Path, **kw) -> str:
    with pytest.raises(ConfigError) as info:
        load_config(path, **kw)
    message = info.value.message
    assert str(info.value) == message
    for leak in LEAKS:
        assert leak not in message, message
    for line in message.splitlines():
        assert line.startswith(f"{path}: "), message
    return message


def assert_problem(message: str, path: Path, key: str, problem: str) -> None:
    assert f"{path}: {key}: " in message, message
    line = next(line for line in message.splitlines() if line.startswith(f"{path}: {key}: "))
    assert problem in line, message


# --------------------------------------------------------------------------- valid configs


@pytest.fixture
def full(tmp_path: Path) -> AppConfig:
    (tmp_path / "controls.yaml").write_text("controls: []\n")
    (tmp_path / "sub").mkdir()
    (tmp_path / "sub" / "exceptions.yaml").write_text("exceptions: []\n")
    return load_config(write(tmp_path, FULL), check_specs=FAKE_SPECS)


def test_full_config_loads_every_field(full: AppConfig, tmp_path: Path) -> None:
    cfg = full
    assert cfg.organization == "Dexo.chat"
    assert cfg.period.start == date(2026, 1, 1)
    assert cfg.period.end == date(2026, 12, 31)

    assert cfg.aws.regions == ("us-east-1", "eu-west-1")
    prod, staging = cfg.aws.accounts
    assert isinstance(prod, AwsAccount)
    assert prod.id == "111111111111"
    assert prod.name == "prod"
    assert prod.role_arn == "arn:aws:iam::111111111111:role/soc2-evidence-reader"
    assert prod.regions == ("us-east-1",)
    assert staging.id == "222222222222"  # given as an int
    assert staging.role_arn is None
    assert staging.regions == ("us-east-1", "eu-west-1")  # resolved from aws.regions
    assert staging.regions_or(["ap-south-1"]) == ("us-east-1", "eu-west-1")
    assert cfg.aws.organization.discover is True
    assert cfg.aws.organization.role_name == "soc2-evidence-reader"
    assert cfg.aws.organization.exclude == ("333333333333",)
    assert cfg.aws.retry_mode == "adaptive"
    assert cfg.aws.max_attempts == 7

    assert cfg.gcp.projects == ("dexo-prod",)

    assert cfg.endpoints.discover is False
    assert cfg.endpoints.timeout_seconds == 10.0
    first, second = cfg.endpoints.targets
    assert (first.host, first.port, first.sni) == ("app.dexo.chat", 443, "app.dexo.chat")
    assert (second.host, second.port, second.sni) == ("api.dexo.chat", 443, None)

    assert cfg.thresholds == {
        "aws.s3.default_encryption": {"require_kms": True},
        "aws.iam.privileged_roles": {"tool_roles": ["soc2-evidence-reader"]},
    }

    assert cfg.catalog == tmp_path / "controls.yaml"
    assert cfg.exceptions == tmp_path / "sub" / "exceptions.yaml"
    assert cfg.output == str(tmp_path / "evidence")

    assert cfg.orchestration.task_runner == "thread"
    assert cfg.orchestration.max_workers == 4
    assert cfg.orchestration.per_task_concurrency == 32

    raw = (tmp_path / CONFIG_NAME).read_bytes()
    assert cfg.sha256 == hashlib.sha256(raw).hexdigest()
    assert cfg.source == str(tmp_path / CONFIG_NAME)


def test_minimal_config_gets_defaults(tmp_path: Path) -> None:
    cfg = load_config(write(tmp_path, MINIMAL))
    assert cfg.aws.regions is None  # every region enabled per account, discovered at run time
    assert cfg.aws.exclude_regions == ()
    assert cfg.aws.accounts == ()
    assert cfg.aws.organization.discover is False
    assert cfg.aws.organization.role_name == "soc2-evidence-reader"
    assert cfg.aws.retry_mode == "standard"
    assert cfg.aws.max_attempts == 5
    assert cfg.gcp.projects == ()
    assert cfg.endpoints.targets == ()
    assert cfg.thresholds == {"aws.iam.privileged_roles": {"tool_roles": ["soc2-evidence-reader"]}}
    assert cfg.catalog is None
    assert cfg.exceptions is None
    assert cfg.output == str(tmp_path / "soc2-evidence-output")
    assert cfg.orchestration.task_runner == "thread"
    assert cfg.orchestration.max_workers == 8
    assert cfg.orchestration.per_task_concurrency == 16


def test_empty_sections_mean_defaults(tmp_path: Path) -> None:
    cfg = load_config(write(tmp_path, MINIMAL + "aws:\ngcp:\nendpoints:\nthresholds:\ncatalog:\n"))
    assert cfg.aws.regions is None
    assert cfg.catalog is None


def test_relative_paths_resolve_against_the_config_folder(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    folder = tmp_path / "conf"
    (folder / "data").mkdir(parents=True)
    (folder / "data" / "controls.yaml").write_text("x: 1\n")
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    monkeypatch.chdir(elsewhere)
    absolute_out = tmp_path / "abs-out"
    path = write(folder, MINIMAL + f"catalog: data/controls.yaml\noutput: {absolute_out}\n")
    cfg = load_config(path)
    assert cfg.catalog == folder / "data" / "controls.yaml"
    assert cfg.catalog.is_absolute()
    assert cfg.output == str(absolute_out)

    cfg = load_config(write(folder, MINIMAL + "output: ../out\n", name="b.yaml"))
    assert cfg.output == str(tmp_path / "out")


def test_int_account_id_is_zero_padded(tmp_path: Path) -> None:
    text = MINIMAL + "aws:\n  accounts: [{id: 12345}]\n  organization: {exclude: [42]}\n"
    cfg = load_config(write(tmp_path, text))
    assert cfg.aws.accounts[0].id == "000000012345"
    assert cfg.aws.organization.exclude == ("000000000042",)


def test_leading_zero_account_id_is_not_read_as_octal(tmp_path: Path) -> None:
    # YAML 1.1 reads 012345670123 as an octal number; an account id must keep its digits.
    cfg = load_config(write(tmp_path, MINIMAL + "aws:\n  accounts: [{id: 012345670123}]\n"))
    assert cfg.aws.accounts[0].id == "012345670123"


def test_account_listed_in_exclude_is_fine(tmp_path: Path) -> None:
    text = MINIMAL + 'aws:\n  accounts: [{id: "333333333333"}]\n  organization: {exclude: ["333333333333"]}\n'
    cfg = load_config(write(tmp_path, text))
    assert cfg.aws.accounts[0].id == "333333333333"


def test_endpoints_mapping_form(tmp_path: Path) -> None:
    text = MINIMAL + "endpoints:\n  discover: true\n  timeout_seconds: 3\n"
    text += "  targets: [{host: a.dexo.chat, port: 8443}]\n"
    cfg = load_config(write(tmp_path, text))
    assert cfg.endpoints.discover is True
    assert cfg.endpoints.timeout_seconds == 3.0
    assert cfg.endpoints.targets[0].port == 8443


def test_config_is_frozen(full: AppConfig) -> None:
    with pytest.raises(pydantic.ValidationError):
        full.organization = "other"  # type: ignore[misc]


def test_to_json_is_json_ready(full: AppConfig, tmp_path: Path) -> None:
    data = full.to_json()
    again = json.loads(json.dumps(data))
    assert again == data
    assert data["period"] == {"start": "2026-01-01", "end": "2026-12-31"}
    assert data["catalog"] == str(tmp_path / "controls.yaml")
    assert data["output"] == str(tmp_path / "evidence")
    assert data["aws"]["accounts"][1]["regions"] == ["us-east-1", "eu-west-1"]
    assert data["sha256"] == full.sha256
    assert data["source"] == full.source


def test_config_from_mapping(tmp_path: Path) -> None:
    (tmp_path / "controls.yaml").write_text("x: 1\n")
    data = {
        "organization": "Demo",
        "period": {"start": date(2026, 1, 1), "end": "2026-06-30"},
        "aws": {"accounts": [{"id": 111111111111}]},
        "catalog": "controls.yaml",
    }
    cfg = config_from_mapping(data, source="demo", base_dir=tmp_path)
    assert cfg.source == "demo"
    assert cfg.catalog == tmp_path / "controls.yaml"
    assert cfg.output == str(tmp_path / "soc2-evidence-output")
    assert cfg.period.end == date(2026, 6, 30)
    assert cfg.aws.accounts[0].id == "111111111111"
    assert len(cfg.sha256) == 64
    reordered = dict(reversed(list(data.items())))
    assert config_from_mapping(reordered, source="demo", base_dir=tmp_path).sha256 == cfg.sha256
    changed = {**data, "organization": "Other"}
    assert config_from_mapping(changed, source="demo", base_dir=tmp_path).sha256 != cfg.sha256


def test_config_from_mapping_errors_name_the_source(tmp_path: Path) -> None:
    with pytest.raises(ConfigError) as info:
        config_from_mapping({"organization": "x", "period": {"start": "soon"}}, source="demo", base_dir=tmp_path)
    message = info.value.message
    assert "demo: period.start: expected a date (YYYY-MM-DD), got 'soon'" in message
    assert "demo: period.end: required key is missing" in message


def test_known_regions_come_from_botocore() -> None:
    regions = known_aws_regions()
    assert {"us-east-1", "eu-west-1", "cn-north-1", "us-gov-west-1"} <= regions


# --------------------------------------------------------------------------- file-level problems


def test_missing_file(tmp_path: Path) -> None:
    path = tmp_path / "missing.yaml"
    assert config_error(path) == f"{path}: file not found"


def test_missing_file_relative_name(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    with pytest.raises(ConfigError) as info:
        load_config("missing.yaml")
    assert info.value.message == "missing.yaml: file not found"


def test_directory_instead_of_file(tmp_path: Path) -> None:
    message = config_error(tmp_path)
    assert "is a directory" in message


def test_yaml_syntax_error_gives_line_and_column(tmp_path: Path) -> None:
    path = write(tmp_path, "organization: Dexo\nperiod:\n  start: [2026-01-01\n  end: 2026-12-31\n")
    message = config_error(path)
    assert message.startswith(f"{path}: line 4, column ")
    assert "expected ',' or ']'" in message


def test_yaml_bad_indentation(tmp_path: Path) -> None:
    path = write(tmp_path, "organization: Dexo\n  period: x\n")
    message = config_error(path)
    # libyaml says "... not allowed in this context", the pure-Python parser "... not allowed here"
    assert message.startswith(f"{path}: line 2, column 9: mapping values are not allowed ")


def test_duplicate_yaml_key(tmp_path: Path) -> None:
    path = write(tmp_path, "organization: A\norganization: B\n")
    message = config_error(path)
    assert message == f"{path}: line 2, column 1: duplicate key 'organization' (first given on line 1)"


@pytest.mark.parametrize("text", ["", "\n\n", "# only a comment\n", "---\n"])
def test_empty_file(tmp_path: Path, text: str) -> None:
    path = tmp_path / CONFIG_NAME
    path.write_text(text)
    message = config_error(path)
    assert message == f"{path}: the file is empty; expected settings such as 'organization:' and 'period:'"


def test_top_level_list(tmp_path: Path) -> None:
    path = write(tmp_path, "- organization: Dexo\n- period: x\n")
    message = config_error(path)
    assert message == f"{path}: the top level must be a mapping of settings (key: value), got a list"


def test_top_level_scalar(tmp_path: Path) -> None:
    path = write(tmp_path, "just some text\n")
    message = config_error(path)
    assert "the top level must be a mapping" in message
    assert "'just some text'" in message


def test_not_utf8(tmp_path: Path) -> None:
    path = tmp_path / CONFIG_NAME
    path.write_bytes(b"organization: Dexo\xff\n")
    message = config_error(path)
    assert "not UTF-8 text" in message


def test_utf8_bom_is_accepted(tmp_path: Path) -> None:
    path = tmp_path / CONFIG_NAME
    path.write_bytes(b"\xef\xbb\xbf" + MINIMAL.encode())
    assert load_config(path).organization == "Dexo.chat"


def test_loader_fields_cannot_come_from_the_file(tmp_path: Path) -> None:
    path = write(tmp_path, MINIMAL + "sha256: abc\n")
    assert_problem(config_error(path), path, "sha256", "unknown key")


# --------------------------------------------------------------------------- validation problems

BAD_CASES = [
    # (id, YAML appended to MINIMAL or a whole document, key path, problem)
    ("unknown top-level key", "organizaton: Dexo\n", "organizaton", "unknown key (did you mean 'organization'?)"),
    (
        "unknown nested key",
        "aws:\n  accounts: [{id: '111111111111', nmae: prod}]\n",
        "aws.accounts[0].nmae",
        "unknown key (did you mean 'name'?)",
    ),
    (
        "unknown key without a close match",
        "orchestration: {zzz: 1}\n",
        "orchestration.zzz",
        "unknown key (allowed: task_runner, max_workers, per_task_concurrency, address, n_workers)",
    ),
    ("accounts not a list", "aws: {accounts: yes}\n", "aws.accounts", "expected a list, got true"),
    ("aws not a mapping", "aws: [us-east-1]\n", "aws", "expected a mapping (key: value), got a list"),
    ("port not a number", "endpoints: [{host: a.dexo.chat, port: abc}]\n", "endpoints[0].port", "expected an integer"),
    ("port out of range", "endpoints: [{host: a.dexo.chat, port: 70000}]\n", "endpoints[0].port", "at most 65535"),
    (
        "endpoint mapping form path",
        "endpoints: {targets: [{host: a.dexo.chat, port: 0}]}\n",
        "endpoints.targets[0].port",
        "must be at least 1, got 0",
    ),
    ("endpoint URL", "endpoints: [{host: 'https://a.dexo.chat'}]\n", "endpoints[0].host", "not a URL"),
    ("endpoint missing host", "endpoints: [{port: 443}]\n", "endpoints[0].host", "required key is missing"),
    ("bool as integer", "orchestration: {max_workers: true}\n", "orchestration.max_workers", "expected an integer"),
    ("workers below 1", "orchestration: {max_workers: 0}\n", "orchestration.max_workers", "must be at least 1"),
    ("task runner", "orchestration: {task_runner: ray}\n", "orchestration.task_runner", "expected 'thread' or 'dask'"),
    (
        "retry mode",
        "aws: {retry_mode: legacy}\n",
        "aws.retry_mode",
        "expected 'standard' or 'adaptive', got 'legacy'",
    ),
    ("max attempts", "aws: {max_attempts: 0}\n", "aws.max_attempts", "must be at least 1, got 0"),
    ("discover not a bool", "aws: {organization: {discover: 'yes'}}\n", "aws.organization.discover", "true or false"),
    (
        "unknown region",
        "aws:\n  accounts: [{id: '111111111111', regions: [us-east-1, us-east-9]}]\n",
        "aws.accounts[0].regions[1]",
        "unknown AWS region 'us-east-9' (did you mean 'us-east-1'?)",
    ),
    (
        "unknown default region",
        "aws: {regions: [eu-wst-1]}\n",
        "aws.regions[0]",
        "unknown AWS region 'eu-wst-1' (did you mean 'eu-west-1'?)",
    ),
    ("no regions", "aws: {regions: []}\n", "aws.regions", "give at least one region"),
    (
        "unknown excluded region",
        "aws: {exclude_regions: [{region: eu-wst-1, reason: unused}]}\n",
        "aws.exclude_regions[0].region",
        "unknown AWS region 'eu-wst-1' (did you mean 'eu-west-1'?)",
    ),
    (
        "exclusion without a reason",
        "aws: {exclude_regions: [{region: eu-west-1}]}\n",
        "aws.exclude_regions[0].reason",
        "required",
    ),
    (
        "exclusion with an empty reason",
        "aws: {exclude_regions: [{region: eu-west-1, reason: '  '}]}\n",
        "aws.exclude_regions[0].reason",
        "",
    ),
    (
        "excluded twice",
        "aws: {exclude_regions: [{region: eu-west-1, reason: a}, {region: eu-west-1, reason: b}]}\n",
        "aws.exclude_regions[1].region",
        "excluded twice",
    ),
    (
        "excluded and examined",
        "aws: {regions: [eu-west-1], exclude_regions: [{region: eu-west-1, reason: a}]}\n",
        "aws.exclude_regions[0].region",
        "also listed in aws.regions",
    ),
    (
        "excluded and examined by an account",
        "aws: {accounts: [{id: '111111111111', regions: [ap-south-1]}],"
        " exclude_regions: [{region: ap-south-1, reason: a}]}\n",
        "aws.exclude_regions[0].region",
        "also listed in aws.accounts[0].regions",
    ),
    (
        "exclusion unknown key",
        "aws: {exclude_regions: [{region: eu-west-1, reason: a, why: b}]}\n",
        "aws.exclude_regions[0].why",
        "unknown key (allowed: region, reason)",
    ),
    (
        "short account id",
        "aws: {accounts: [{id: '11111111111'}]}\n",
        "aws.accounts[0].id",
        "expected a 12-digit AWS account id, got '11111111111'",
    ),
    (
        "account id too big",
        "aws: {accounts: [{id: 1111111111111}]}\n",
        "aws.accounts[0].id",
        "expected a 12-digit AWS account id, got 1111111111111",
    ),
    (
        "account id with letters",
        "aws: {accounts: [{id: '11111111111a'}]}\n",
        "aws.accounts[0].id",
        "expected a 12-digit AWS account id",
    ),
    ("account id bool", "aws: {accounts: [{id: true}]}\n", "aws.accounts[0].id", "got true"),
    ("exclude id", "aws: {organization: {exclude: [abc]}}\n", "aws.organization.exclude[0]", "12-digit"),
    (
        "role ARN account mismatch",
        "aws: {accounts: [{id: '111111111111', role_arn: 'arn:aws:iam::222222222222:role/reader'}]}\n",
        "aws.accounts[0].role_arn",
        "role ARN is in account 222222222222, but the account id is 111111111111",
    ),
    (
        "role ARN not a role",
        "aws: {accounts: [{id: '111111111111', role_arn: 'arn:aws:iam::111111111111:user/bob'}]}\n",
        "aws.accounts[0].role_arn",
        "expected an IAM role ARN",
    ),
    (
        "duplicate account",
        "aws:\n  accounts:\n    - {id: '111111111111'}\n    - {id: '222222222222'}\n    - {id: 111111111111}\n",
        "aws.accounts[2].id",
        "duplicate account id '111111111111' (already at aws.accounts[0])",
    ),
    ("bad role name", "aws: {organization: {role_name: 'a b'}}\n", "aws.organization.role_name", "IAM role name"),
    ("gcp project", "gcp: {projects: [Dexo_Prod]}\n", "gcp.projects[0]", "expected a GCP project id"),
    ("gcp project short", "gcp: {projects: [dexo]}\n", "gcp.projects[0]", "got 'dexo'"),
    ("missing catalog", "catalog: controls.yaml\n", "catalog", "file not found: "),
    ("missing exceptions", "exceptions: nope/exceptions.yaml\n", "exceptions", "file not found: "),
    ("catalog not a path", "catalog: [a, b]\n", "catalog", "expected a path, got a list"),
    ("organization empty", "organization: '  '\n", "organization", "must not be empty"),
    ("timeout", "endpoints: {timeout_seconds: 0}\n", "endpoints.timeout_seconds", "greater than 0"),
    (
        "thresholds not a mapping",
        "thresholds: {aws.s3.default_encryption: 5}\n",
        "thresholds.aws.s3.default_encryption",
        "expected a mapping",
    ),
]


@pytest.mark.parametrize(("extra", "key", "problem"), [c[1:] for c in BAD_CASES], ids=[c[0] for c in BAD_CASES])
def test_bad_value(tmp_path: Path, extra: str, key: str, problem: str) -> None:
    # Later keys replace MINIMAL's, so write the document as a mapping merge.
    base = {"organization": "organization: Dexo.chat\n", "period": "period: {start: 2026-01-01, end: 2026-12-31}\n"}
    top = extra.split(":", 1)[0]
    text = "".join(v for k, v in base.items() if k != top) + extra
    path = write(tmp_path, text)
    message = config_error(path, check_specs=FAKE_SPECS)
    assert_problem(message, path, key, problem)


@pytest.mark.parametrize(
    ("period", "key", "problem"),
    [
        ("{start: 2026-01-01, end: 2025-01-01}", "period", "end 2025-01-01 is before start 2026-01-01"),
        ("{start: soon, end: 2026-12-31}", "period.start", "expected a date (YYYY-MM-DD), got 'soon'"),
        ("{start: 2026-13-01, end: 2026-12-31}", "period.start", "expected a date (YYYY-MM-DD), got '2026-13-01'"),
        ("{start: 20260101, end: 2026-12-31}", "period.start", "expected a date (YYYY-MM-DD), got 20260101"),
        ("{start: 2026-01-01}", "period.end", "required key is missing"),
        ("2026", "period", "expected a mapping (key: value), got 2026"),
    ],
)
def test_bad_period(tmp_path: Path, period: str, key: str, problem: str) -> None:
    path = write(tmp_path, f"organization: Dexo\nperiod: {period}\n")
    message = config_error(path)
    assert_problem(message, path, key, problem)


def test_period_example_message(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    write(tmp_path, "organization: Dexo\nperiod: {start: 2026-01-01, end: 2025-01-01}\n")
    with pytest.raises(ConfigError) as info:
        load_config(CONFIG_NAME)
    assert info.value.message == "soc2-evidence.yaml: period: end 2025-01-01 is before start 2026-01-01"


def test_missing_required_keys(tmp_path: Path) -> None:
    path = write(tmp_path, "aws: {}\n")
    message = config_error(path)
    assert_problem(message, path, "organization", "required key is missing")
    assert_problem(message, path, "period", "required key is missing")


def test_yes_as_a_key_is_explained(tmp_path: Path) -> None:
    path = write(tmp_path, MINIMAL + "on: 1\n")
    message = config_error(path)
    assert_problem(message, path, "true", "unknown key")
    assert "yes/no/on/off" in message


def test_every_problem_is_reported_at_once(tmp_path: Path) -> None:
    text = """\
    organizaton: Dexo
    period: {start: 2026-01-01, end: 2025-01-01}
    aws:
      regions: [us-east-9]
      accounts:
        - {id: '111111111111', role_arn: 'arn:aws:iam::222222222222:role/r'}
    endpoints: [{host: a.dexo.chat, port: abc}]
    """
    path = write(tmp_path, text)
    message = config_error(path)
    assert len(message.splitlines()) == 6, message
    assert_problem(message, path, "organizaton", "unknown key")
    assert_problem(message, path, "organization", "required key is missing")
    assert_problem(message, path, "period", "is before start")
    assert_problem(message, path, "aws.regions[0]", "unknown AWS region 'us-east-9'")
    assert_problem(message, path, "aws.accounts[0].role_arn", "account 222222222222")
    assert_problem(message, path, "endpoints[0].port", "expected an integer, got 'abc'")


def test_output_that_is_a_file(tmp_path: Path) -> None:
    (tmp_path / "evidence").write_text("not a folder")
    path = write(tmp_path, MINIMAL + "output: evidence\n")
    assert_problem(config_error(path), path, "output", "expected a directory")


# --------------------------------------------------------------------------- thresholds


def thresholds_error(thresholds: dict, specs: dict = FAKE_SPECS) -> str:
    with pytest.raises(ConfigError) as info:
        validate_thresholds(thresholds, specs, source="t.yaml")
    message = info.value.message
    for leak in LEAKS:
        assert leak not in message
    return message


def test_thresholds_valid_values_pass_through() -> None:
    out = validate_thresholds(
        {
            "aws.s3.default_encryption": {"require_kms": True, "allowed_algorithms": ["aws:kms"]},
            "aws.iam.password_policy": {"min_length": 16, "max_age_days": 60, "mode": "lax", "anything": [1]},
        },
        FAKE_SPECS,
    )
    assert out["aws.s3.default_encryption"] == {"require_kms": True, "allowed_algorithms": ["aws:kms"]}
    assert out["aws.iam.password_policy"]["max_age_days"] == 60.0  # an int is fine where a float is expected
    assert isinstance(out["aws.iam.password_policy"]["max_age_days"], float)
    assert out["aws.iam.password_policy"]["anything"] == [1]  # default None: any value
    assert validate_thresholds({}, FAKE_SPECS) == {}


def test_thresholds_unknown_check_id() -> None:
    message = thresholds_error({"aws.s3.default_encrypton": {"require_kms": True}})
    assert message == (
        "t.yaml: thresholds.aws.s3.default_encrypton: unknown check id 'aws.s3.default_encrypton' "
        "(did you mean 'aws.s3.default_encryption'?)"
    )


def test_thresholds_unknown_name_lists_known_ones() -> None:
    message = thresholds_error({"aws.s3.default_encryption": {"require_ksm": True}})
    assert message.startswith("t.yaml: thresholds.aws.s3.default_encryption.require_ksm: ")
    assert "unknown threshold 'require_ksm'" in message
    assert "did you mean 'require_kms'?" in message
    assert "known: allowed_algorithms, require_kms" in message


def test_thresholds_for_a_check_without_thresholds() -> None:
    message = thresholds_error({"aws.s3.public_access_block": {"x": 1}})
    assert "t.yaml: thresholds.aws.s3.public_access_block.x: unknown threshold 'x'" in message
    assert "this check has no thresholds" in message


@pytest.mark.parametrize(
    ("name", "value", "problem"),
    [
        ("min_length", True, "expected an integer (default 14), got true"),  # bool is not an int
        ("min_length", 14.5, "expected an integer (default 14), got 14.5"),
        ("min_length", "14", "expected an integer (default 14), got '14'"),
        ("max_age_days", False, "expected a number (default 90.0), got false"),
        ("max_age_days", "90", "expected a number (default 90.0), got '90'"),
        ("mode", 3, 'expected a string (default "strict"), got 3'),
    ],
)
def test_thresholds_wrong_type(name: str, value: object, problem: str) -> None:
    message = thresholds_error({"aws.iam.password_policy": {name: value}})
    assert message == f"t.yaml: thresholds.aws.iam.password_policy.{name}: {problem}"


def test_thresholds_wrong_type_bool_and_list() -> None:
    message = thresholds_error({"aws.s3.default_encryption": {"require_kms": 1, "allowed_algorithms": "aws:kms"}})
    lines = message.splitlines()
    assert lines == [
        "t.yaml: thresholds.aws.s3.default_encryption.require_kms: expected true or false (default false), got 1",
        "t.yaml: thresholds.aws.s3.default_encryption.allowed_algorithms: expected a list "
        '(default ["AES256", "aws:kms", "aws:kms:dsse"]), got \'aws:kms\'',
    ]


def test_thresholds_list_elements_keep_their_kind() -> None:
    message = thresholds_error({"aws.s3.default_encryption": {"allowed_algorithms": ["aws:kms", 5]}})
    assert message == "t.yaml: thresholds.aws.s3.default_encryption.allowed_algorithms[1]: expected a string, got 5"


def test_thresholds_not_a_mapping() -> None:
    assert "expected a mapping" in thresholds_error({"aws.s3.default_encryption": ["require_kms"]})
    with pytest.raises(ConfigError):
        validate_thresholds(["x"], FAKE_SPECS)  # type: ignore[arg-type]


def test_thresholds_through_load_config_with_fake_specs(tmp_path: Path) -> None:
    text = MINIMAL + "thresholds:\n  aws.iam.password_policy: {min_length: true}\n  aws.nope: {}\n"
    path = write(tmp_path, text)
    message = config_error(path, check_specs=FAKE_SPECS)
    assert_problem(message, path, "thresholds.aws.iam.password_policy.min_length", "expected an integer")
    assert_problem(message, path, "thresholds.aws.nope", "unknown check id 'aws.nope'")


@pytest.fixture
def real_registry() -> None:
    """The real check registry."""
    from collectors import registry

    assert "aws.s3.default_encryption" in registry.specs()


@pytest.mark.usefixtures("real_registry")
def test_thresholds_with_the_real_registry(tmp_path: Path) -> None:
    good = write(tmp_path, MINIMAL + "thresholds:\n  aws.s3.default_encryption: {require_kms: true}\n", "good.yaml")
    assert load_config(good).thresholds["aws.s3.default_encryption"] == {"require_kms": True}

    text = (
        MINIMAL + "thresholds:\n"
        "  aws.s3.default_encryption: {require_kms: 'yes', allowed_algorithms: [aws:kms], min_bits: 256}\n"
        "  aws.s3.default_encrypton: {}\n"
    )
    path = write(tmp_path, text)
    message = config_error(path)
    assert_problem(
        message, path, "thresholds.aws.s3.default_encryption.require_kms", "expected true or false (default false)"
    )
    assert_problem(message, path, "thresholds.aws.s3.default_encryption.min_bits", "unknown threshold 'min_bits'")
    assert "known: allowed_algorithms, require_kms" in message
    assert_problem(message, path, "thresholds.aws.s3.default_encrypton", "did you mean 'aws.s3.default_encryption'?")
    assert "allowed_algorithms:" not in message  # a valid value is not a problem


@pytest.mark.parametrize(
    ("value", "expected"),
    [("s3://dexo-evidence/soc2/", "s3://dexo-evidence/soc2"), ("gs://dexo-evidence", "gs://dexo-evidence")],
)
def test_output_may_be_an_evidence_locker_bucket(tmp_path: Path, value: str, expected: str) -> None:
    cfg = load_config(write(tmp_path, MINIMAL + f"output: {value}\n"))
    assert cfg.output == expected
    assert cfg.output_location.is_remote


def test_bad_locker_location_names_the_key(tmp_path: Path) -> None:
    path = write(tmp_path, MINIMAL + "output: ftp://x/y\n")
    message = config_error(path)
    assert "output:" in message and "ftp" in message


# --------------------------------------------------------------------------- access reviews


def test_access_reviews_directory_is_resolved_next_to_the_config(tmp_path: Path) -> None:
    from flows.access_review import reviews_root

    cfg = load_config(write(tmp_path, MINIMAL + "access_reviews: {directory: reviews}\n"))
    assert cfg.access_reviews.directory == tmp_path / "reviews"
    assert reviews_root(cfg) == tmp_path / "reviews"


def test_access_reviews_default_to_the_output_folder_and_to_none_for_a_bucket(tmp_path: Path) -> None:
    from flows.access_review import reviews_root

    cfg = load_config(write(tmp_path, MINIMAL + "output: out\n"))
    assert reviews_root(cfg) == tmp_path / "out" / "access-reviews"
    cfg = load_config(write(tmp_path, MINIMAL + "output: s3://locker/soc2\n"))
    assert reviews_root(cfg) is None
    cfg = load_config(write(tmp_path, MINIMAL + "output: s3://locker/soc2\naccess_reviews: {directory: /srv/rev}\n"))
    assert reviews_root(cfg) == Path("/srv/rev")


@pytest.mark.parametrize(
    ("value", "problem"),
    [("3", "expected a path, got 3"), ("''", "must not be empty"), ("afile", "expected a directory")],
)
def test_bad_access_reviews_directory(tmp_path: Path, value: str, problem: str) -> None:
    (tmp_path / "afile").write_text("x")
    path = write(tmp_path, MINIMAL + f"access_reviews: {{directory: {value}}}\n")
    assert_problem(config_error(path), path, "access_reviews.directory", problem)


def test_regions_default_to_discovery_and_exclusions_keep_their_reasons(tmp_path: Path) -> None:
    text = MINIMAL + (
        "aws:\n"
        "  exclude_regions:\n"
        "    - {region: ap-south-1, reason: 'No workloads; SCP denies it'}\n"
        "  accounts:\n"
        "    - {id: '111111111111'}\n"
        "    - {id: '222222222222', regions: [eu-west-1]}\n"
    )
    cfg = load_config(write(tmp_path, text))
    discovered, explicit = cfg.aws.accounts
    assert discovered.regions == ()  # empty: every enabled region of the account
    assert explicit.regions == ("eu-west-1",)  # an explicit list wins
    assert cfg.aws.excluded_regions() == {"ap-south-1": "No workloads; SCP denies it"}


def test_thousands_of_unknown_keys_are_rejected_with_a_capped_listing(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Issue 12, defect 8: 100,000 unknown keys took 90 s to reject and printed 17.5 MB, one
    line (and one "did you mean" search) per key. The listing stops at MAX_LISTED_PROBLEMS and
    says how many more; only the listed keys are searched for a suggestion."""
    from flows.config import humanize

    searched: list[str] = []
    real = humanize._did_you_mean

    def counting(word: str, candidates: object) -> str:
        searched.append(word)
        return real(word, candidates)  # type: ignore[arg-type]

    monkeypatch.setattr(humanize, "_did_you_mean", counting)
    n = 5_000
    keys = "".join(f"unknown_key_{i}: 1\n" for i in range(n))
    path = write(tmp_path, "organization: Dexo\nperiod: {start: 2026-01-01, end: 2026-12-31}\n" + keys)
    message = config_error(path)
    lines = message.splitlines()
    limit = humanize.MAX_LISTED_PROBLEMS
    assert len(lines) == limit + 1
    assert lines[0] == f"{path}: unknown_key_0: unknown key (allowed: " + lines[0].split("(allowed: ")[1]
    assert lines[-1] == f"{path}: ... and {n - limit:,} more problem(s) like these (the first {limit} are listed)"
    assert len(message) < 400 * (limit + 1)  # old: one ~250-character line per key
    assert len(searched) == limit


def test_the_listing_cap_counts_problems_inside_one_value(tmp_path: Path) -> None:
    """Many bad regions in one list are one pydantic error but one line each: counted as such."""
    regions = ", ".join(f"xx-nowhere-{i}" for i in range(50))
    path = write(
        tmp_path, f"organization: Dexo\nperiod: {{start: 2026-01-01, end: 2026-12-31}}\naws:\n  regions: [{regions}]\n"
    )
    lines = config_error(path).splitlines()
    assert len(lines) == 21 and lines[-1].endswith("... and 30 more problem(s) like these (the first 20 are listed)")


def test_the_roles_this_tool_assumes_are_the_privileged_roles_checks_tool_roles(tmp_path: Path) -> None:
    """aws.iam.privileged_roles lists (never fails) the roles the config makes this tool assume."""
    text = MINIMAL + (
        "aws:\n  organization: {discover: true, role_name: audit-reader}\n"
        "  accounts:\n    - {id: '111111111111', role_arn: 'arn:aws:iam::111111111111:role/path/legacy-auditor'}\n"
    )
    cfg = load_config(write(tmp_path, text))
    assert cfg.thresholds["aws.iam.privileged_roles"] == {"tool_roles": ["audit-reader", "legacy-auditor"]}
    explicit = text + "thresholds:\n  aws.iam.privileged_roles: {tool_roles: [only-this]}\n"
    assert load_config(write(tmp_path, explicit, "e.yaml")).thresholds["aws.iam.privileged_roles"] == {
        "tool_roles": ["only-this"]
    }


def test_gcp_projects_may_be_discover(tmp_path: Path) -> None:
    cfg = load_config(write(tmp_path, MINIMAL + "gcp: {projects: discover}\n"))
    assert cfg.gcp.discover is True and cfg.gcp.projects == ()
    both = load_config(write(tmp_path, MINIMAL + "gcp: {projects: [dexo-prod], discover: true}\n", "b.yaml"))
    assert both.gcp.discover is True and both.gcp.projects == ("dexo-prod",)
    message = config_error(write(tmp_path, MINIMAL + "gcp: {projects: everything}\n", "c.yaml"))
    assert "gcp.projects: expected a list of project ids or 'discover', got 'everything'" in message
