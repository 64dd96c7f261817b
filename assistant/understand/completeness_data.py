"""Training texts for the completeness head: whole requests and cuts of them. Written for this project.

Two sources, each a whole request (label 1) and one cut of it after a random word (label 0):

- **MASSIVE train**. A cut is never made right after a slot value ends, because that is where a
  request is often already whole ("set a timer for five minutes | for cookies"), and a cut that
  is itself an utterance of the data is labelled whole.
- **Requests of the assistant's own skills**, from the templates below (timers, alarms, sums,
  conversions, lights, time and date, general questions): MASSIVE has five timer requests in
  11514, and a first fit read "set a timer for ten minutes" as unfinished (P 0.28).

Nothing here is a sentence of ``bench/turn_sentences.py`` (the bench's DEV or TEST halves): the
generated ones that match a sentence or a first part there, as normalised, are left out.
"""

from __future__ import annotations

import itertools
import random

import numpy as np

from ..textnorm import normalise_for_wer
from .intents import Example

_DURATIONS = ("five minutes", "twenty seconds", "an hour", "half an hour", "three minutes", "ninety seconds",
              "two hours", "forty five minutes", "eight minutes and thirty seconds")
_TIMES = ("seven am", "six thirty", "half past eight", "noon", "nine fifteen tomorrow morning", "five pm on friday",
          "quarter to seven", "eleven at night")
_NUMBERS = ("three", "eight", "fifteen", "forty", "sixty six", "one hundred", "two hundred and fifty", "nine")
_UNITS = (("miles", "kilometres"), ("pounds", "kilograms"), ("cups", "millilitres"), ("feet", "metres"),
          ("euros", "dollars"), ("fahrenheit", "celsius"), ("ounces", "grams"), ("yen", "pounds"))
_ROOMS = ("living room", "bedroom", "bathroom", "hallway", "office", "garage")
_THINGS = ("the great wall of china", "mount everest", "the statue of liberty", "a blue whale", "the sun",
           "the amazon river", "a giraffe")
_PLACES = ("france", "japan", "brazil", "kenya", "norway", "egypt", "new york", "tokyo")
_PEOPLE = ("hamlet", "the odyssey", "the theory of relativity", "the telephone", "the light bulb", "war and peace")
_TOPICS = ("cats", "the ocean", "volcanoes", "space", "bees", "dinosaurs")

_PAIRS = tuple((n, a, b) for n in _NUMBERS for a, b in _UNITS)


def _fills(*values: tuple[str, ...]) -> list[tuple[str, ...]]:
    return list(itertools.product(*values))


#: (template, the values its blanks take); "convert" and "how many" take matched unit pairs.
_TEMPLATES: tuple[tuple[str, list[tuple[str, ...]]], ...] = (
    ("set a timer for {}", _fills(_DURATIONS)),
    ("start a timer for {}", _fills(_DURATIONS)),
    ("remind me in {} to check the oven", _fills(_DURATIONS)),
    ("how much time is left on the timer", [()]),
    ("cancel the timer", [()]),
    ("set an alarm for {}", _fills(_TIMES)),
    ("wake me up at {}", _fills(_TIMES)),
    ("cancel my alarm for {}", _fills(_TIMES)),
    ("what is {} plus {}", _fills(_NUMBERS, _NUMBERS)),
    ("what's {} times {}", _fills(_NUMBERS, _NUMBERS)),
    ("what is {} divided by {}", _fills(_NUMBERS, _NUMBERS)),
    ("what is the square root of {}", _fills(_NUMBERS)),
    ("convert {} {} to {}", list(_PAIRS)),
    ("how many {2} are in {0} {1}", list(_PAIRS)),
    ("turn on the {} lights", _fills(_ROOMS)),
    ("turn off the lights in the {}", _fills(_ROOMS)),
    ("dim the {} lights to {} percent", _fills(_ROOMS, _NUMBERS)),
    ("what time is it", [()]),
    ("what time is it in {}", _fills(_PLACES)),
    ("what's the date today", [()]),
    ("what day is it tomorrow", [()]),
    ("what is the capital of {}", _fills(_PLACES)),
    ("how tall is {}", _fills(_THINGS)),
    ("how big is {}", _fills(_THINGS)),
    ("who wrote {}", _fills(_PEOPLE)),
    ("who invented {}", _fills(_PEOPLE)),
    ("tell me a joke about {}", _fills(_TOPICS)),
    ("tell me something about {}", _fills(_TOPICS)),
    ("what's the weather like in {}", _fills(_PLACES)),
    ("how far is {} from {}", [(a, b) for a, b in _fills(_PLACES, _PLACES) if a != b]),
)


def skill_requests(exclude: set[str], per_template: int = 30, seed: int = 13) -> list[str]:
    """Up to ``per_template`` requests from each template (normalised), none of them in ``exclude``."""
    rng = random.Random(seed)
    out: list[str] = []
    for template, fills in _TEMPLATES:
        chosen = rng.sample(fills, min(per_template, len(fills)))
        out += [t for t in (normalise_for_wer(template.format(*f)) for f in chosen) if t not in exclude]
    return out


def _slot_ends(text: str, slots: tuple[tuple[str, str], ...]) -> set[int]:
    """The word counts after which a slot value ends (cutting there may leave a whole request)."""
    words = text.lower().split()
    ends, pos = set(), 0
    for _type, value in slots:
        span = value.lower().split()
        for i in range(pos, len(words) - len(span) + 1):
            if words[i : i + len(span)] == span:
                ends.add(i + len(span))
                pos = i + len(span)
                break
    return ends


def completeness_data(examples: list[Example], requests: list[str], seed: int = 13) -> tuple[list[str], np.ndarray]:
    """(texts in the head's normalised form, labels: 1 whole, 0 cut) from MASSIVE ``examples`` and
    other whole ``requests`` (``skill_requests``)."""
    rng = random.Random(seed)
    rows = [(e.text, _slot_ends(e.text, e.slots)) for e in examples] + [(t, set()) for t in requests]
    known = {normalise_for_wer(t) for t, _ in rows}
    texts: list[str] = []
    labels: list[int] = []
    for text, ends in rows:
        words = text.split()
        texts.append(normalise_for_wer(text))
        labels.append(1)
        cuts = [k for k in range(1, len(words)) if k not in ends]
        if cuts:
            cut = normalise_for_wer(" ".join(words[: rng.choice(cuts)]))
            if cut:
                texts.append(cut)
                labels.append(int(cut in known))
    return texts, np.array(labels)
