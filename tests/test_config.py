"""Settings mistakes are one line for a person: the setting, the values it takes and the fix; never a traceback,
never silently ignored."""

import pytest
from hypothesis import given
from hypothesis import strategies as st

import app
import config
from config import ConfigError, ServiceConfig, settings_from_context

CASES = [
    ({"log_retention_days": "abc"}, "log_retention_days", "7, 14, 30, 90, 180, 365"),
    ({"log_retention_days": "31"}, "log_retention_days", "7, 14, 30, 90, 180, 365"),
    ({"retain_data": "yes"}, "retain_data", "true or false"),
    ({"api_auth": "cognito"}, "api_auth", "iam or none"),
    ({"log_level": "verbose"}, "log_level", "DEBUG, INFO, WARN or ERROR"),
    ({"error_rate_threshold_percent": "0"}, "error_rate_threshold_percent", "above 0 and at most 100"),
    ({"error_rate_threshold_percent": "many"}, "error_rate_threshold_percent", "above 0 and at most 100"),
    ({"alarm_email": "not-an-address"}, "alarm_email", "an e-mail address"),
    ({"compliance": "cis-benchmark"}, "compliance", ", ".join(config.COMPLIANCE_PROFILES)),
    ({"compliance": "control-tower;hipaa-security"}, "compliance", "comma-separated list"),
    ({"compliance": "every"}, "compliance", "empty, all, or"),
    ({"compliance": ["control-tower", 5]}, "compliance", "comma-separated list"),
    ({"compliance": 5}, "compliance", "comma-separated list"),
]


@pytest.mark.parametrize(("context", "setting", "allowed"), CASES)
def test_a_bad_value_names_the_setting_the_allowed_values_and_the_fix(context, setting, allowed):
    with pytest.raises(ConfigError) as error:
        ServiceConfig.from_settings(context)
    message = str(error.value)
    assert "\n" not in message
    assert setting in message and allowed in message and f"-c {setting}=" in message


def test_a_misspelled_setting_is_refused_with_the_one_it_resembles():
    with pytest.raises(ConfigError, match="log_retension_days.*did you mean log_retention_days"):
        settings_from_context({"log_retension_days": "7"})


def test_an_unknown_setting_lists_the_known_ones():
    with pytest.raises(ConfigError, match="unknown setting colour.*alarm_email.*retain_data"):
        settings_from_context({"colour": "blue"})


def test_cdks_own_context_keys_are_not_settings():
    context = {"@aws-cdk/core:checkSecretUsage": True, "aws:cdk:enable-path-metadata": True, "log_level": "WARN"}
    assert settings_from_context(context) == {"log_level": "WARN"}


def test_typed_values_from_cdk_json_and_strings_from_the_command_line_are_the_same_setting():
    assert ServiceConfig.from_settings({"log_retention_days": 7, "retain_data": True}) == ServiceConfig.from_settings(
        {"log_retention_days": "7", "retain_data": "TRUE"}
    )


def test_profiles_from_cdk_json_and_from_the_command_line_are_the_same_setting():
    from_cdk_json = ServiceConfig.from_settings({"compliance": ["control-tower", "pci-dss-321"]})
    from_command_line = ServiceConfig.from_settings({"compliance": " control-tower,pci-dss-321,control-tower,"})
    assert from_cdk_json == from_command_line
    assert from_cdk_json.compliance == ("control-tower", "pci-dss-321")
    assert ServiceConfig.from_settings({"compliance": ""}).compliance == ServiceConfig().compliance == ()
    assert ServiceConfig.from_settings({"compliance": "all"}).compliance == config.COMPLIANCE_PROFILES
    assert ServiceConfig.from_settings({"compliance": ["all"]}).compliance == config.COMPLIANCE_PROFILES


JSON_VALUES = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4),
    max_leaves=12,
)


@given(st.text() | st.lists(st.sampled_from([*config.COMPLIANCE_PROFILES, "", " nist-800-53-r5 "])) | JSON_VALUES)
def test_any_compliance_value_is_known_profiles_or_one_line_naming_them(value):
    """-c gives any text, cdk.json any JSON value: either profiles the app knows, or the one-line error."""
    try:
        profiles = ServiceConfig.from_settings({"compliance": value}).compliance
    except ConfigError as error:
        assert "\n" not in str(error) and "compliance must be" in str(error)
    else:
        assert set(profiles) <= set(config.COMPLIANCE_PROFILES) and len(profiles) == len(set(profiles))


@pytest.mark.parametrize(
    ("argv", "expected"),
    [
        (["-c", "api_auth"], "-c api_auth: expected KEY=VALUE, for example -c api_auth=iam"),
        (["-c", "=iam"], "-c =iam: expected KEY=VALUE"),
        (["-c", "log_retension_days=7"], "did you mean log_retention_days"),
        (["-c", "log_retention_days=abc"], "log_retention_days must be one of 7, 14, 30, 90, 180, 365"),
        (["-c", "compliance=cis"], "compliance must be empty, all, or a comma-separated list of control-tower"),
    ],
)
def test_the_app_prints_one_line_and_exits_non_zero(argv, expected, capsys):
    with pytest.raises(SystemExit) as exited:
        app.main(argv)
    assert exited.value.code == 2
    err = capsys.readouterr().err
    assert expected in err and err.count("\n") == 1 and "Traceback" not in err


def test_cdk_jsons_defaults_are_the_declared_defaults():
    """cdk.json is what `cdk` and `python app.py` read; the declarations in config.py are the one source."""
    from dataclasses import fields

    from app import cdk_json_context

    context = cdk_json_context()
    for declared in fields(ServiceConfig):
        default = list(declared.default) if isinstance(declared.default, tuple) else declared.default
        assert context[declared.name] == default, declared.name


def test_config_and_the_stack_agree_on_log_retention():
    import main

    assert tuple(main.LOG_RETENTION) == config.LOG_RETENTION_DAYS
