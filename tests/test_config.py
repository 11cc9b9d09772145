"""Settings: accepted and rejected forms, auto-detection, .env files."""

import pytest

from voice_lab.config import ConfigError, configured_providers, load, mask
from voice_lab.variables import gather

AZURE = {
    "AZURE_OPENAI_ENDPOINT": "https://res.openai.azure.com/",
    "AZURE_OPENAI_API_KEY": "k" * 32,
    "AZURE_OPENAI_REALTIME_DEPLOYMENT": "gpt-realtime",
}


@pytest.mark.parametrize(
    ("given", "expected"),
    [
        ("https://res.openai.azure.com", "https://res.openai.azure.com"),
        ("https://res.openai.azure.com/", "https://res.openai.azure.com"),
        ("https://res.cognitiveservices.azure.com/", "https://res.cognitiveservices.azure.com"),
        ("https://gw.example.com/team/realtime/", "https://gw.example.com/team/realtime"),
        ("http://127.0.0.1:8123", "http://127.0.0.1:8123"),
        ("http://127.0.0.1:8123/emulator/", "http://127.0.0.1:8123/emulator"),
        ("https://res.openai.azure.com/openai/", "https://res.openai.azure.com"),
        (
            "https://res.openai.azure.com/openai/realtimeapi/sessions?api-version=2025-04-01-preview",
            "https://res.openai.azure.com",
        ),
        ('"https://res.openai.azure.com"', "https://res.openai.azure.com"),
    ],
)
def test_azure_endpoint_forms_accepted(given, expected):
    assert load({**AZURE, "AZURE_OPENAI_ENDPOINT": given})["AZURE_OPENAI_ENDPOINT"] == expected


@pytest.mark.parametrize(
    "given",
    [
        "res.openai.azure.com",
        "ftp://res.openai.azure.com",
        "https://",
        "not a url",
        "wss://res.openai.azure.com",
    ],
)
def test_azure_endpoint_forms_rejected(given):
    with pytest.raises(ConfigError) as info:
        load({**AZURE, "AZURE_OPENAI_ENDPOINT": given})
    assert info.value.variable == "AZURE_OPENAI_ENDPOINT"
    assert "https://NAME.openai.azure.com" in str(info.value)
    assert repr(given) in str(info.value)


def test_openai_base_url_default_and_override():
    assert load({"OPENAI_API_KEY": "sk-x"})["OPENAI_BASE_URL"] == "https://api.openai.com/v1"
    cfg = load({"OPENAI_API_KEY": "sk-x", "OPENAI_BASE_URL": "http://localhost:9/v1/"})
    assert cfg["OPENAI_BASE_URL"] == "http://localhost:9/v1"
    with pytest.raises(ConfigError, match="OPENAI_BASE_URL"):
        load({"OPENAI_API_KEY": "sk-x", "OPENAI_BASE_URL": "api.openai.com"})


@pytest.mark.parametrize(
    ("raw", "provider"),
    [
        ({}, "emulator"),
        (AZURE, "azure"),
        ({**AZURE, "AZURE_OPENAI_API_VERSION": "2025-04-01-preview"}, "azure-preview"),
        ({**AZURE, "AZURE_OPENAI_API_VERSION": "2025-08-28"}, "azure"),
        ({"OPENAI_API_KEY": "sk-x"}, "openai"),
        ({**AZURE, "OPENAI_API_KEY": "sk-x"}, "azure"),
        ({**AZURE, "OPENAI_API_KEY": "sk-x", "VOICE_LAB_PROVIDER": "openai"}, "openai"),
        ({"VOICE_LAB_PROVIDER": "Emulator"}, "emulator"),
    ],
)
def test_provider_auto_detection(raw, provider):
    assert load(raw)["VOICE_LAB_PROVIDER"] == provider


def test_emulator_on_by_default_only_without_credentials():
    assert load({})["VOICE_LAB_EMULATOR"] is True
    assert load(AZURE)["VOICE_LAB_EMULATOR"] is False
    cfg = load({**AZURE, "VOICE_LAB_EMULATOR": "on"})
    assert configured_providers(cfg) == ["azure", "emulator"]


def test_recording_on_unless_turned_off():
    assert load({})["VOICE_LAB_RECORDING"] is True
    assert load({"VOICE_LAB_RECORDING": "off"})["VOICE_LAB_RECORDING"] is False


@pytest.mark.parametrize(
    ("raw", "variable"),
    [
        ({"VOICE_LAB_PROVIDER": "bedrock"}, "VOICE_LAB_PROVIDER"),
        ({"VOICE_LAB_PROVIDER": "openai"}, "OPENAI_API_KEY"),
        ({"VOICE_LAB_PROVIDER": "azure", "AZURE_OPENAI_API_KEY": "k"}, "AZURE_OPENAI_ENDPOINT"),
        (
            {"AZURE_OPENAI_ENDPOINT": "https://r.openai.azure.com", "VOICE_LAB_AZURE_AUTH": "key"},
            "AZURE_OPENAI_API_KEY",
        ),
        ({**AZURE, "VOICE_LAB_AZURE_AUTH": "password"}, "VOICE_LAB_AZURE_AUTH"),
        ({**AZURE, "AZURE_OPENAI_REALTIME_DEPLOYMENT": ""}, "AZURE_OPENAI_REALTIME_DEPLOYMENT"),
        ({"VOICE_LAB_PORT": "http"}, "VOICE_LAB_PORT"),
        ({"VOICE_LAB_PORT": "70000"}, "VOICE_LAB_PORT"),
        ({"VOICE_LAB_EMULATOR": "maybe"}, "VOICE_LAB_EMULATOR"),
        ({"VOICE_LAB_PROVIDER": "emulator", "VOICE_LAB_EMULATOR": "off"}, "VOICE_LAB_EMULATOR"),
        ({"VOICE_LAB_EMULATOR_SCENARIO": "explode"}, "VOICE_LAB_EMULATOR_SCENARIO"),
        ({"VOICE_LAB_RECORDING": "stereo"}, "VOICE_LAB_RECORDING"),
        ({"VOICE_LAB_EMULATOR_PROTOCOL": "v2"}, "VOICE_LAB_EMULATOR_PROTOCOL"),
        (
            {
                **AZURE,
                "AZURE_OPENAI_API_VERSION": "2025-04-01-preview",
                "VOICE_LAB_AZURE_REGION": "mars",
            },
            "VOICE_LAB_AZURE_REGION",
        ),
        ({"VOICE_LAB_ALLOWED_ORIGINS": "app.example.com"}, "VOICE_LAB_ALLOWED_ORIGINS"),
        ({"VOICE_LAB_REQUEST_TIMEOUT": "0"}, "VOICE_LAB_REQUEST_TIMEOUT"),
    ],
)
def test_rejected_settings_name_the_variable(raw, variable):
    with pytest.raises(ConfigError) as info:
        load(raw)
    assert info.value.variable == variable
    assert str(info.value).startswith(f"{variable}: ")


def test_preview_region_not_needed_with_explicit_webrtc_url():
    cfg = load(
        {
            **AZURE,
            "AZURE_OPENAI_API_VERSION": "2025-04-01-preview",
            "VOICE_LAB_AZURE_REGION": "mars",
            "VOICE_LAB_WEBRTC_URL": "http://127.0.0.1:1/rtc",
        }
    )
    assert cfg["VOICE_LAB_WEBRTC_URL"] == "http://127.0.0.1:1/rtc"


def test_allowed_origins_parsed():
    cfg = load({"VOICE_LAB_ALLOWED_ORIGINS": "https://a.example.com/, http://localhost:3000"})
    assert cfg["VOICE_LAB_ALLOWED_ORIGINS"] == ("https://a.example.com", "http://localhost:3000")


def test_dotenv_then_envs_dotenv_then_environment(tmp_path):
    (tmp_path / ".env").write_text("OPENAI_API_KEY=from-dotenv\nVOICE_LAB_VOICE=alloy\n")
    assert gather({}, tmp_path)["OPENAI_API_KEY"] == "from-dotenv"
    (tmp_path / "envs").mkdir()
    (tmp_path / "envs" / ".env").write_text(
        'AZURE_OPENAI_ENDPOINT="https://r.openai.azure.com/"\nOPENAI_API_KEY=from-envs\n'
    )
    raw = gather({"VOICE_LAB_VOICE": "from-env", "UNRELATED": "x"}, tmp_path)
    assert raw["OPENAI_API_KEY"] == "from-envs"
    assert raw["AZURE_OPENAI_ENDPOINT"] == "https://r.openai.azure.com/"
    assert raw["VOICE_LAB_VOICE"] == "from-env"
    assert "UNRELATED" not in raw


def test_only_envs_dotenv(tmp_path):
    (tmp_path / "envs").mkdir()
    (tmp_path / "envs" / ".env").write_text(
        "AZURE_OPENAI_ENDPOINT=https://r.openai.azure.com\n"
        "AZURE_OPENAI_API_KEY=abc\n"
        "AZURE_OPENAI_REALTIME_DEPLOYMENT=rt\n"
    )
    assert load(gather({}, tmp_path))["VOICE_LAB_PROVIDER"] == "azure"


def test_mask_never_shows_the_middle():
    secret = "sk-" + "abcdefghij" * 4
    shown = mask(secret)
    assert "abcdefghij" not in shown and shown.startswith("sk-")
    assert mask(None) == "(not set)"
    assert mask("short") == "*****"


def test_scenario_with_seconds():
    assert load({"VOICE_LAB_EMULATOR_SCENARIO": "drop_call:2"})["VOICE_LAB_EMULATOR_SCENARIO"] == (
        "drop_call:2"
    )
    with pytest.raises(ConfigError, match="like drop_call:2"):
        load({"VOICE_LAB_EMULATOR_SCENARIO": "drop_call:soon"})


def test_token_required_off_loopback():
    with pytest.raises(ConfigError) as info:
        load({"VOICE_LAB_HOST": "0.0.0.0"})
    assert info.value.variable == "VOICE_LAB_TOKEN"
    assert load({"VOICE_LAB_HOST": "0.0.0.0", "VOICE_LAB_TOKEN": "t" * 24})["VOICE_LAB_TOKEN"]
    assert load({"VOICE_LAB_HOST": "localhost"})["VOICE_LAB_HOST"] == "localhost"


@pytest.mark.parametrize("rate", ["fast", "0/60", "5/0", "5"])
def test_mint_rate_rejected(rate):
    with pytest.raises(ConfigError, match="VOICE_LAB_MINT_RATE"):
        load({"VOICE_LAB_MINT_RATE": rate})


@pytest.mark.parametrize(
    ("variable", "value"),
    [
        ("VOICE_LAB_SOCKET_IDLE", "0"),
        ("VOICE_LAB_SOCKET_IDLE", "forever"),
        ("VOICE_LAB_SESSION_TIMEOUT", "0"),
        ("VOICE_LAB_SESSION_TIMEOUT", "a day"),
        ("VOICE_LAB_SOCKETS_PER_CLIENT", "0"),
        ("VOICE_LAB_SOCKETS_PER_CLIENT", "1.5"),
        ("VOICE_LAB_SOCKETS", "-3"),
        ("VOICE_LAB_SOCKET_READ_AHEAD", "nan"),
        ("VOICE_LAB_READ_AHEAD_TOTAL", "inf"),
    ],
)
def test_socket_limits_refused_name_the_variable(variable, value):
    with pytest.raises(ConfigError) as info:
        load({variable: value})
    assert info.value.variable == variable and repr(value) in str(info.value)


def test_socket_limits_read():
    cfg = load({"VOICE_LAB_SOCKET_IDLE": "600", "VOICE_LAB_SOCKET_READ_AHEAD": "0.5"})
    assert (cfg["VOICE_LAB_SOCKET_IDLE"], cfg["VOICE_LAB_SOCKET_READ_AHEAD"]) == (600, 0.5)
    assert (cfg["VOICE_LAB_SOCKETS_PER_CLIENT"], cfg["VOICE_LAB_SOCKETS"]) == (32, 256)
