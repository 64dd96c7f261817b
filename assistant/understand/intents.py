"""The label set (SLURP/MASSIVE intents plus out_of_scope, MASSIVE slot types) and the data readers."""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from pathlib import Path

from ..errors import AssistantError

OUT_OF_SCOPE = "out_of_scope"

#: The 60 SLURP/MASSIVE intents.
INTENTS: tuple[str, ...] = (
    "alarm_query", "alarm_remove", "alarm_set", "audio_volume_down", "audio_volume_mute", "audio_volume_other",
    "audio_volume_up", "calendar_query", "calendar_remove", "calendar_set", "cooking_query", "cooking_recipe",
    "datetime_convert", "datetime_query", "email_addcontact", "email_query", "email_querycontact", "email_sendemail",
    "general_greet", "general_joke", "general_quirky", "iot_cleaning", "iot_coffee", "iot_hue_lightchange",
    "iot_hue_lightdim", "iot_hue_lightoff", "iot_hue_lighton", "iot_hue_lightup", "iot_wemo_off", "iot_wemo_on",
    "lists_createoradd", "lists_query", "lists_remove", "music_dislikeness", "music_likeness", "music_query",
    "music_settings", "news_query", "play_audiobook", "play_game", "play_music", "play_podcasts", "play_radio",
    "qa_currency", "qa_definition", "qa_factoid", "qa_maths", "qa_stock", "recommendation_events",
    "recommendation_locations", "recommendation_movies", "social_post", "social_query", "takeaway_order",
    "takeaway_query", "transport_query", "transport_taxi", "transport_ticket", "transport_traffic", "weather_query",
)
#: Everything the understanding stage can answer with.
LABELS: tuple[str, ...] = (*INTENTS, OUT_OF_SCOPE)

#: MASSIVE slot types.
SLOT_TYPES: tuple[str, ...] = (
    "alarm_type", "app_name", "artist_name", "audiobook_author", "audiobook_name", "business_name", "business_type",
    "change_amount", "coffee_type", "color_type", "cooking_type", "currency_name", "date", "definition_word",
    "device_type", "drink_type", "email_address", "email_folder", "event_name", "food_type", "game_name",
    "game_type", "general_frequency", "house_place", "ingredient", "joke_type", "list_name", "meal_type",
    "media_type", "movie_name", "movie_type", "music_album", "music_descriptor", "music_genre", "news_topic",
    "order_type", "person", "personal_info", "place_name", "player_setting", "playlist_name", "podcast_descriptor",
    "podcast_name", "radio_name", "relation", "song_name", "sport_type", "time", "time_zone", "timeofday",
    "transport_agency", "transport_descriptor", "transport_name", "transport_type", "weather_descriptor",
)

#: The slot tagger's labels: outside, then the beginning and inside of every slot type.
BIO_TAGS: tuple[str, ...] = ("O", *(f"{p}-{t}" for t in SLOT_TYPES for p in ("B", "I")))

_SLOT = re.compile(r"\[\s*(?P<type>[\w]+)\s*:\s*(?P<value>[^\]]+?)\s*\]")


@dataclass(frozen=True)
class Example:
    """One labelled utterance."""

    text: str
    intent: str
    slots: tuple[tuple[str, str], ...] = ()
    partition: str = ""


def parse_annotation(annotated: str) -> tuple[str, tuple[tuple[str, str], ...]]:
    """``"wake me at [time : nine am]"`` -> (``"wake me at nine am"``, ``(("time", "nine am"),)``)."""
    slots = tuple((m["type"], m["value"]) for m in _SLOT.finditer(annotated))
    text = _SLOT.sub(lambda m: m["value"], annotated)
    return " ".join(text.split()), slots


def read_examples(path: Path) -> list[Example]:
    """MASSIVE jsonl (``utt``, ``intent``, ``partition``, ``annot_utt``) or SLURP jsonl (``sentence``, ...).

    SLURP's label is ``scenario_action`` (its ``intent`` field holds only the action in about 1% of rows).
    """
    if not path.is_file():
        raise AssistantError(f"data file not found: {path}")
    out = []
    with path.open(encoding="utf-8") as fh:
        for n, line in enumerate(fh, 1):
            if not line.strip():
                continue
            try:
                row = json.loads(line)
            except ValueError:
                raise AssistantError(f"{path}:{n}: not a JSON line") from None
            if "utt" in row:
                _, slots = parse_annotation(row.get("annot_utt", row["utt"]))
                out.append(Example(row["utt"], row["intent"], slots, row.get("partition", "")))
            elif "sentence" in row:
                intent = f"{row['scenario']}_{row['action']}" if "scenario" in row and "action" in row else row["intent"]
                _, slots = parse_annotation(row.get("sentence_annotation", row["sentence"]))
                out.append(Example(row["sentence"], intent, slots))
            else:
                raise AssistantError(f"{path}:{n}: expected an 'utt' (MASSIVE) or 'sentence' (SLURP) field")
    return out
