"""Cost estimates: usage payloads as the service sends them, the price table, its override, and
where the estimate shows (the session page's usage panel, the export, CapturedSession)."""

import json

import pytest

from tests.eventlogs import LogBuilder
from voice_lab import config
from voice_lab.analysis import cost
from voice_lab.analysis.metrics import usage_of
from voice_lab.storage import open_store
from voice_lab.storage.rows import EventRow
from voice_lab.testing.captured import CapturedSession

# A beta response.done's usage (gpt-4o-realtime-preview-2024-12-17 over WebRTC): cached tokens
# split by modality, and counted inside the text and audio input.
BETA_USAGE = {
    "total_tokens": 821,
    "input_tokens": 789,
    "output_tokens": 32,
    "input_token_details": {
        "text_tokens": 313,
        "audio_tokens": 476,
        "cached_tokens": 640,
        "cached_tokens_details": {"text_tokens": 256, "audio_tokens": 384},
    },
    "output_token_details": {"text_tokens": 9, "audio_tokens": 23},
}
# A GA response.done's usage (gpt-realtime), with image tokens in its details.
GA_USAGE = {
    "total_tokens": 1491,
    "input_tokens": 1241,
    "output_tokens": 250,
    "input_token_details": {
        "text_tokens": 1089,
        "audio_tokens": 152,
        "image_tokens": 0,
        "cached_tokens": 1024,
        "cached_tokens_details": {"text_tokens": 1024, "audio_tokens": 0, "image_tokens": 0},
    },
    "output_token_details": {"text_tokens": 52, "audio_tokens": 198},
}
# An early beta usage: cached_tokens without its split.
UNSPLIT_USAGE = {
    "total_tokens": 300,
    "input_tokens": 200,
    "output_tokens": 100,
    "input_token_details": {"cached_tokens": 64, "text_tokens": 150, "audio_tokens": 50},
    "output_token_details": {"text_tokens": 20, "audio_tokens": 80},
}
TABLE = cost.shipped()
ONES = dict.fromkeys(cost.RATES, 1.0)


def test_beta_usage_prices_cached_tokens_apart():
    # 57 text at $5, 256 cached text at $2.50, 92 audio at $40, 384 cached audio at $2.50,
    # 9 text out at $20, 23 audio out at $80 (per 1M).
    figure = cost.estimate(TABLE, "gpt-4o-realtime-preview-2024-12-17", usage_of("r", BETA_USAGE))
    assert figure.dollars == pytest.approx(7585e-6)
    assert figure.missing is None


def test_ga_usage_of_a_dated_gpt_realtime():
    # 65 text at $4, 1024 cached text at $0.40, 152 audio at $32, 52 text out at $16,
    # 198 audio out at $64.
    figure = cost.estimate(TABLE, "gpt-realtime-2025-08-28", usage_of("r", GA_USAGE))
    assert figure.dollars == pytest.approx(19037.6e-6)


def test_cached_tokens_without_their_split_count_as_text_first():
    usage = usage_of("r", UNSPLIT_USAGE)
    assert cost.split_cached(usage) == (64, 0)
    figure = cost.estimate(TABLE, "gpt-4o-mini-realtime-preview-2024-12-17", usage)
    assert figure.dollars == pytest.approx(2218.8e-6)


def test_the_longest_prefix_prices_a_model():
    mini = TABLE.rates("gpt-realtime-mini-2025-10-06")
    assert mini == TABLE.models["gpt-realtime-mini"]
    assert TABLE.rates("gpt-realtime") == TABLE.models["gpt-realtime"]
    assert TABLE.rates("gpt-realtimeish") is None


def test_an_unknown_model_gets_no_figure():
    figure = cost.estimate(TABLE, "whisper-1", usage_of("r", GA_USAGE))
    assert figure == cost.Cost(None, "no price for whisper-1")


def test_the_shipped_table_says_when_and_where_from():
    assert TABLE.written[:4].isdigit()
    assert "model pages" in TABLE.source
    assert set(TABLE.models) >= {
        "gpt-realtime",
        "gpt-realtime-mini",
        "gpt-4o-realtime-preview",
        "gpt-4o-mini-realtime-preview",
    }


def _prices_file(tmp_path, models, **fields):
    path = tmp_path / "prices.json"
    document = {"written": "2026-01-02", "source": "our contract", "models": models, **fields}
    path.write_text(json.dumps(document))
    return str(path)


def test_a_users_file_replaces_the_table(tmp_path):
    cfg = config.load({"VOICE_LAB_PRICES": _prices_file(tmp_path, {"my-deployment": ONES})})
    table = cfg["VOICE_LAB_PRICES"]
    assert table.written == "2026-01-02"
    assert cost.estimate(table, "my-deployment", usage_of("r", GA_USAGE)).dollars == (
        pytest.approx(1491e-6)
    )
    assert table.rates("gpt-realtime") is None


@pytest.mark.parametrize(
    ("models", "fields", "named"),
    [
        ({"gpt-realtime": {**ONES, "text_output": "cheap"}}, {}, "models.gpt-realtime.text_output"),
        ({"gpt-realtime": {"text_input": 1.0}}, {}, "models.gpt-realtime.text_cached"),
        ({"gpt-realtime": {**ONES, "video": 2}}, {}, "unknown rates ['video']"),
        ({}, {}, "models must map"),
        ({"m": ONES}, {"written": ""}, "written must be"),
    ],
)
def test_a_bad_file_is_refused_at_start_up(tmp_path, models, fields, named):
    path = _prices_file(tmp_path, models, **fields)
    with pytest.raises(config.ConfigError) as refused:
        config.load({"VOICE_LAB_PRICES": path})
    assert refused.value.variable == "VOICE_LAB_PRICES"
    assert named in str(refused.value)


def test_a_missing_or_broken_file_is_refused(tmp_path):
    with pytest.raises(config.ConfigError, match="which is no file"):
        config.load({"VOICE_LAB_PRICES": str(tmp_path / "nowhere.json")})
    broken = tmp_path / "broken.json"
    broken.write_text("{prices")
    with pytest.raises(config.ConfigError, match="is not JSON .* write it like"):
        config.load({"VOICE_LAB_PRICES": str(broken)})


def _priced_session(app, model, *usages):
    """A stored session of one response per usage."""
    b = LogBuilder(ga=True)
    b.connect()
    for n, usage in enumerate(usages):
        rid = b.response_created(1000 + 1000 * n)
        b.response_done(1500 + 1000 * n, rid, usage=usage)
    store = open_store(app)
    try:
        sid = store.create_session(provider="emulator", protocol="ga", model=model)
        store.insert_events(sid, [EventRow.of(e) for e in b.build().events])
        return sid
    finally:
        store.close()


def test_the_usage_panel_shows_the_estimate(app, client):
    sid = _priced_session(app, "gpt-realtime-2025-08-28", GA_USAGE, GA_USAGE)
    html = client.get(f"/sessions/{sid}/panels").get_data(as_text=True)
    assert html.count('data-testid="response-cost">~$0.0190<') == 2
    assert 'data-testid="session-cost">~$0.0381<' in html
    assert f"prices written {TABLE.written}" in html
    assert "estimate" in html


def test_the_panel_names_a_model_without_a_price(app, client):
    sid = _priced_session(app, "my-own-model", GA_USAGE)
    html = client.get(f"/sessions/{sid}/panels").get_data(as_text=True)
    assert 'data-testid="session-cost">–<' in html
    assert "no price for my-own-model" in html


def test_the_export_and_captured_session_carry_the_cost(app, client):
    sid = _priced_session(app, "gpt-4o-realtime-preview-2024-12-17", BETA_USAGE, UNSPLIT_USAGE)
    document = client.get(f"/sessions/{sid}/export.json").get_json()
    exported = document["cost"]
    assert exported["estimate"] is True
    assert exported["prices_written"] == TABLE.written
    assert [r["dollars"] for r in exported["responses"]] == [
        pytest.approx(7585e-6),
        pytest.approx((86 * 5 + 64 * 2.5 + 50 * 40 + 20 * 20 + 80 * 80) / 1e6),
    ]
    captured = CapturedSession.from_export(document)
    assert captured.cost() == exported
    # Without the export's figures (an older file), the events give the same estimate.
    bare = CapturedSession.from_export({k: v for k, v in document.items() if k != "cost"})
    assert bare.cost()["session"]["dollars"] == pytest.approx(exported["session"]["dollars"])
