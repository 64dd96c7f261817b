"""Never claim an action the assistant cannot perform.

The assistant controls no devices and reaches no accounts. The system prompt says
so, but a small LLM still answers "Turn on the kitchen lights" with "Sure, I'll turn
on the kitchen lights", "Lock the front door" with "Lock the front door.", "Buy me
running shoes" with "Sure, I can help you with that!" (the 1.5B did, in bench qa).
So a reply to a request for an action is held back one sentence at a time and
checked before it is spoken: its first sentence must say it can't, and no sentence
may claim the action was or will be done; otherwise the whole reply is an honest
one instead. Holding a sentence costs its decode time (~0.4 s), so other replies stream
as they come (:func:`guarded`), but for a sentence that begins like a claim ("Sure, ...",
"Got the ...", "I'll ..."): a request misheard as something else ("Got the front door.")
still drew claims. Timers and alarms are actions the assistant can do (a skill), so their
requests are not held.
"""

from __future__ import annotations

import re
from collections.abc import Iterator

#: What is said instead of a claimed action.
CANNOT_ACT = "I can't do that: I'm not connected to any devices or accounts."

# Requests for something to be done in the world (devices, messages, calls,
# purchases, lists, calendars, media): an imperative, "can you ...", "I want you
# to ...", or "turn/switch ... on/off" anywhere. "How do I make pancakes?" is a
# question, not a request to act. A false match only holds the reply a sentence at a time.
_VERBS = (r"turn|switch|put|flip|dim|brighten|lock|unlock|vacuum|hoover|call|phone|ring|dial|text|message|email"
          r"|e-mail|send|post|tweet|order|buy|purchase|book|reserve|schedule|remind|add|remove|delete|cancel|play"
          r"|pause|resume|skip|open|close|start|stop|make|brew|set|change|increase|decrease|raise|lower|mute"
          r"|unmute|wake|create|write|reply|get")
_ACTION_REQUEST = re.compile(
    r"^\W*(?:(?:please|hey|okay|ok|so|now|and|then|assistant)\W+)*"
    r"(?:(?:can|could|would|will)\s+you\s+(?:please\s+)?|(?:i\s+want|i'd\s+like|i\s+need)\s+(?:you\s+)?to\s+)?"
    rf"(?:{_VERBS})\b"
    r"|\b(?:turn|switch)\b.*\b(?:on|off)\b",
    re.I,
)

# A sentence saying it was done, is being done, or will be: "I've turned ...",
# "I'll send ...", "Calling mom now", "The lights are now on".
_CLAIM = re.compile(
    r"\b(i've|i have|i'll|i will|i'm|i am|i just|i|let me|okay|ok|sure|done|alright|all right)\b[ ,]*"
    r"(?:\w+\s+){0,3}?"
    r"(turn\w*|switch\w*|set|setting|sen[dt]\w*|add\w*|call\w*|phon\w*|text\w*|messag\w*|email\w*|order\w*"
    r"|book\w*|bought|buy\w*|purchas\w*|schedul\w*|remind\w*|play\w*|dim\w*|brighten\w*|post\w*|creat\w*"
    r"|remov\w*|delet\w*|cancel\w*|lock\w*|unlock\w*|open\w*|clos\w*|start\w*|stopp?\w*|mak\w*|made|brew\w*"
    r"|put\w*|plac\w*|dial\w*|reserv\w*|increas\w*|decreas\w*|rais\w*|lower\w*|mut\w*|chang\w*|get|getting"
    r"|got)\b"
    r"|\b(is|are|has been|have been|was|were)\s+(now\s+)?(on|off|turned|switched|set|sent|added|called|ordered"
    r"|booked|bought|scheduled|dimmed|posted|placed|locked|unlocked|created|removed|deleted|cancelled|canceled"
    r"|playing|started|made|brewing|muted)\b"
    r"|^\s*(calling|texting|messaging|sending|ordering|booking|playing|turning|switching|dimming|adding|done)\b"
    r"|^\W*got\s+(the|your|it)\b",
    re.I,
)
# Requests the assistant can carry out itself (the timer and alarm skills).
_CAN_DO = re.compile(r"\b(timers?|alarms?|remind\w*|wake me)\b", re.I)
# A first sentence that declines: "I can't ...", "I'm sorry, but I'm not able to ...".
_DECLINE = re.compile(r"\b(can't|cannot|can not|unable|not able|don't have|do not have|not connected|no access"
                      r"|isn't something|not possible|offline)\b", re.I)
_NEGATION = re.compile(r"\b(not|no|never|cannot|unable|can't|won't|don't|isn't|aren't|sorry|unfortunately)\b|n't\b",
                       re.I)
_SENTENCE_END = re.compile(r"[.!?](?=\s|$)")


def asks_for_action(*readings: str) -> bool:
    """Whether the request, in any of the readings the LLM was shown, asks for something to be
    done (its reply is then checked): the LLM may answer an alternative. Piper's "Lock the front
    door." at 10 dB SNR was heard as "Block the front door." (or maybe: "Lock the front door.")
    in 2 of 4 noises, and the 1.5B answered "Watch the front door."-like echoes of such requests."""
    return any(_ACTION_REQUEST.search(r) and not _CAN_DO.search(r) for r in readings)


def claims_action(sentence: str) -> bool:
    """Whether a sentence claims an action was, is being or will be done."""
    if sentence.rstrip().endswith("?"):  # "What time should I set it for?" asks, it does not claim
        return False
    return bool(_CLAIM.search(sentence)) and not _NEGATION.search(sentence)


# How a sentence that may claim an action begins ("Sure, I'll ...", "Got the front door.",
# "Okay, ordering ...", "I have sent ..."): such a sentence is held until it ends. Replies to
# what was not heard as a request still claimed actions in bench qa (espeak-ng at 10 dB):
# "Got the front door.", "Goodbye! I'll be sure to get a new pair of running shoes."
_OPENERS = frozenset({"sure", "okay", "ok", "alright", "got", "done", "i'll", "i've", "i'm", "let", "calling",
                      "texting", "messaging", "sending", "ordering", "booking", "playing", "turning",
                      "switching", "dimming", "adding", "setting", "locking", "unlocking", "buying"})
_I_OPENERS = frozenset({"have", "will", "just", "am"})  # "I have added ...", "I will send ..."
_WORD = re.compile(r"[a-z']+")


def _held(sentence: str, ended: bool) -> bool | None:
    """Whether a sentence beginning so must be held until it ends; None: not known yet (its
    first word, or "I"'s next, may still become an opener)."""
    words = _WORD.findall(sentence.lower().replace("’", "'"))
    whole = ended or not sentence or not (sentence[-1].isalpha() or sentence[-1] == "'")
    if not words:
        return None
    if len(words) == 1 and not whole:
        return None if any(w.startswith(words[0]) for w in (*_OPENERS, "i")) else False
    if words[0] != "i":
        return words[0] in _OPENERS
    if len(words) == 2 and not whole:
        return None if any(w.startswith(words[1]) for w in _I_OPENERS) else False
    return len(words) > 1 and words[1] in _I_OPENERS


def guarded(pieces: Iterator[str]) -> Iterator[str]:
    """Pass a reply on as it comes, except a sentence that begins like a claim: it is held until
    it ends, and if it claims an action the reply ends there (with :data:`CANNOT_ACT` instead of
    a first sentence). The first words are passed on at once unless they may still become such
    a beginning ("S" may be "Sure"; "I" waits for its next word).

    Closing the returned generator closes ``pieces`` (the LLM stops).
    """
    sentence, passed, hold, first = "", 0, None, True
    try:
        for piece in pieces:
            sentence += piece
            while True:
                end = _SENTENCE_END.search(sentence)
                text = sentence[: end.end()] if end else sentence
                if hold is None:
                    hold = _held(text, end is not None)
                if hold is False and len(text) > passed:
                    yield text[passed:]
                    passed = len(text)
                if end is None:
                    break
                if hold is not False and claims_action(text):
                    if first:
                        yield CANNOT_ACT
                    return
                if len(text) > passed:
                    yield text[passed:]
                sentence, passed, hold, first = sentence[end.end():], 0, None, False
        if sentence[passed:].strip():
            if hold is not False and claims_action(sentence):
                if first:
                    yield CANNOT_ACT
                return
            yield sentence[passed:]
    finally:
        close = getattr(pieces, "close", None)
        if close is not None:
            close()


def checked(pieces: Iterator[str]) -> Iterator[str]:
    """Pass the reply on a sentence at a time, or :data:`CANNOT_ACT` instead of one that does not
    decline first or that claims the action.

    Closing the returned generator closes ``pieces`` (the LLM stops).
    """
    def refused(sentence: str, first: bool) -> bool:
        return claims_action(sentence) or (first and not _DECLINE.search(sentence))

    held, first = "", True
    try:
        for piece in pieces:
            held += piece
            while (m := _SENTENCE_END.search(held)) is not None:
                sentence, held = held[: m.end()], held[m.end():]
                if refused(sentence, first):
                    yield CANNOT_ACT
                    return
                first = False
                yield sentence
        if held.strip():
            yield CANNOT_ACT if refused(held, first) else held
    finally:
        close = getattr(pieces, "close", None)
        if close is not None:
            close()
