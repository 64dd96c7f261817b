"""Property-based tests of the client protocol parser and of session settings validation.

Whatever a client sends, the parser returns a typed event or raises ProtocolError,
and a session update either applies or raises AssistantError: nothing else escapes.
"""

from __future__ import annotations

import base64
import json
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from assistant.errors import AssistantError
from assistant.serve.limits import TokenBucket
from assistant.serve.protocol import (
    AudioIn,
    InputEnd,
    ProtocolError,
    SessionUpdate,
    Truncate,
    parse_client_message,
)

json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=True) | st.text(max_size=20),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=10), inner, max_size=4),
    max_leaves=12,
)
event_types = st.sampled_from(["input_audio_buffer.append", "input_audio_buffer.end", "session.update",
                               "conversation.item.truncate", "response.create", ""]) | st.text(max_size=12)
events = st.fixed_dictionaries({"type": event_types}, optional={
    "turn_id": json_values, "audio_end_ms": json_values, "session": json_values, "audio": json_values,
})


def parse_or_error(message: str | bytes) -> object:
    try:
        return parse_client_message(message)
    except ProtocolError as err:
        assert err.code in {"bad_json", "bad_event", "bad_audio"} and str(err)
        return err


@given(st.text(max_size=200))
def test_any_text_is_an_event_or_a_protocol_error(message: str) -> None:
    parse_or_error(message)


@given(st.binary(max_size=400))
def test_binary_frames_are_audio_unless_odd(message: bytes) -> None:
    out = parse_or_error(message)
    assert isinstance(out, AudioIn) == (len(message) % 2 == 0)


@given(events)
def test_event_shaped_json_is_validated_field_by_field(event: dict[str, Any]) -> None:
    out = parse_or_error(json.dumps(event))
    if isinstance(out, Truncate):
        assert isinstance(event["turn_id"], int) and out.audio_end_ms >= 0
    elif isinstance(out, SessionUpdate):
        assert isinstance(event["session"], dict)
    elif isinstance(out, AudioIn):
        assert len(out.pcm) % 2 == 0


@given(st.binary(max_size=64))
def test_base64_audio_round_trips(pcm: bytes) -> None:
    out = parse_or_error(json.dumps({"type": "input_audio_buffer.append", "audio": base64.b64encode(pcm).decode()}))
    assert (out == AudioIn(pcm)) == (len(pcm) % 2 == 0)


def test_known_events_parse_to_their_types() -> None:
    assert parse_client_message('{"type": "input_audio_buffer.end"}') == InputEnd()
    assert parse_client_message('{"type": "conversation.item.truncate", "turn_id": 3, "audio_end_ms": 1200}') \
        == Truncate(3, 1200.0)
    assert parse_client_message('{"type": "session.update", "session": {"nbest": 3}}') == SessionUpdate({"nbest": 3})
    for bad, code in [("{", "bad_json"), ("[1]", "bad_event"), ('{"type": "x"}', "bad_event"), (b"\x00", "bad_audio"),
                      ('{"type": "conversation.item.truncate", "turn_id": true, "audio_end_ms": 1}', "bad_event"),
                      ('{"type": "conversation.item.truncate", "turn_id": 1, "audio_end_ms": 1e999}', "bad_event"),
                      ("[" * 100000, "bad_json")]:
        with pytest.raises(ProtocolError) as err:
            parse_client_message(bad)
        assert err.value.code == code


@pytest.fixture(scope="module")
def session(assistant: Any) -> Any:
    return assistant.session()


@settings(max_examples=300, deadline=None)
@given(st.dictionaries(st.sampled_from(["silence_ms", "nbest", "confirm_ms", "speech_threshold", "max_utterance_s",
                                         "input_sample_rate", "input_audio_format", "voice", "turn_detection",
                                         "output_modalities", "instructions"])
                       | st.text(max_size=8),
                       json_values | st.fixed_dictionaries(
                           {"type": st.sampled_from(["semantic_vad", "server_vad", "x"])},
                           optional={"eagerness": st.sampled_from(["low", "high", "auto", "fast"]) | json_values,
                                     "silence_duration_ms": json_values, "threshold": json_values}),
                       max_size=4))
def test_session_update_applies_all_or_nothing(session: Any, settings_: dict[str, Any]) -> None:
    c = session.config
    before = (c.vad, c.asr, c.duplex, c.turn, c.tts, c.llm)
    rate, snapshot = session.input_sample_rate, [vars(x).copy() for x in before]
    try:
        applied = session.update(settings_)
    except AssistantError as err:
        assert str(err)
        assert [vars(x) for x in before] == snapshot and session.input_sample_rate == rate
        return
    assert set(applied) == set(settings_)
    session.update({"input_sample_rate": 16000})  # back to the default for the next example


def test_token_bucket_refills_at_its_rate() -> None:
    bucket = TokenBucket(rate=10, burst=5, stamp=0.0)
    assert all(bucket.take(now=0.0) for _ in range(5)) and not bucket.take(now=0.0)
    assert bucket.take(now=0.1) and not bucket.take(now=0.1)
    assert not bucket.take(amount=6, now=100.0)  # never more than the burst


realtime_types = st.sampled_from(["session.update", "input_audio_buffer.append", "input_audio_buffer.commit",
                                  "conversation.item.create", "conversation.item.truncate", "response.cancel",
                                  "conversation.item.delete"]) | st.text(max_size=12)
realtime_events = st.fixed_dictionaries({"type": realtime_types}, optional={
    "event_id": json_values, "audio": json_values, "item_id": json_values, "audio_end_ms": json_values,
    "item": json_values | st.fixed_dictionaries({"type": st.just("message"), "role": st.sampled_from(["user", "x"]),
                                                 "content": json_values}),
    "session": json_values | st.fixed_dictionaries({}, optional={
        "type": st.sampled_from(["realtime", "transcription"]), "output_modalities": json_values,
        "instructions": json_values, "audio": json_values, "tools": json_values, "colour": json_values}),
})


@pytest.fixture(scope="module")
def realtime(assistant: Any) -> Any:
    from assistant.serve.realtime import RealtimeDialect

    return RealtimeDialect(assistant.session())


@settings(max_examples=300, deadline=None)
@given(realtime_events)
def test_any_realtime_event_is_a_command_or_a_realtime_error(realtime: Any, event: dict[str, Any]) -> None:
    try:
        out = realtime.parse(json.dumps(event))
    except ProtocolError as err:
        shaped = realtime.error(err)
        assert shaped["type"] == "error" and shaped["error"]["message"] and shaped["error"]["code"]
        assert shaped["error"]["type"] == "invalid_request_error"
        return
    if isinstance(out, SessionUpdate):
        assert isinstance(event["session"], dict) and isinstance(out.extra, dict)
    elif isinstance(out, AudioIn):
        assert len(out.pcm) % 2 == 0
