"""What the LLM reads: the request as heard (compact n-best), and replies that never claim an action."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from assistant.events import Hypothesis
from assistant.reply.history import History
from assistant.reply.honesty import CANNOT_ACT, asks_for_action, checked, claims_action, guarded
from assistant.reply.prompt import heard
from assistant.reply.responder import Responder
from assistant.threads import NEVER
from assistant.understand.understander import Understanding


def H(text: str, p: float) -> Hypothesis:
    return Hypothesis(text, 0.0, p)


@pytest.mark.parametrize(
    "nbest, prompt",
    [
        ([H("hello there", 1.0)], "hello there"),
        # Same words, other punctuation or case: the plain best text (the history's string).
        ([H("Who wrote Hamlet?", 0.7), H("who wrote hamlet", 0.3)], "Who wrote Hamlet?"),
        # Alternatives best first, each once; 0.02 is dropped.
        ([H("What is the capital of friends?", 0.3), H("What is the capital of France?", 0.6),
          H("what is the capital of France", 0.08), H("Watt is the capital of France?", 0.02)],
         'What is the capital of France?\n(or maybe: "What is the capital of friends?")'),
        # An alternative that differs only in an article or a demonstrative says the same (bench latency).
        ([H("How many legs does a spider have?", 0.5), H("How many legs does the spider have?", 0.2),
          H("How many legs does this spider have?", 0.15), H("How many legs don't apply to have?", 0.15)],
         'How many legs does a spider have?\n(or maybe: "How many legs don\'t apply to have?")'),
    ],
)
def test_heard_gives_the_best_and_the_alternatives_that_differ(nbest: list[Hypothesis], prompt: str) -> None:
    assert heard(nbest) == prompt


def test_heard_caps_the_alternatives_and_starts_with_the_best_text() -> None:
    nbest = [H(f"play track {n}", p) for n, p in [("one", 0.1), ("two", 0.4), ("three", 0.2), ("four", 0.15),
                                                  ("five", 0.15)]]
    out = heard(nbest)
    # The best text first, so the prompt prefilled from the words heard so far still matches.
    assert out.startswith("play track two\n(or maybe:") and out.count('"') == 6


@pytest.mark.parametrize("request_text", ["Turn on the kitchen lights.", "Can you call my mom?", "Please order a pizza",
                                          "Add milk to my shopping list", "Could you switch the fan off"])
def test_action_requests_are_recognised(request_text: str) -> None:
    assert asks_for_action(request_text)


@pytest.mark.parametrize("request_text", ["How do I make pancakes?", "What is the capital of France?",
                                          "Who invented the telephone?", "How many days are in a week?"])
def test_questions_are_not_action_requests(request_text: str) -> None:
    assert not asks_for_action(request_text)


@pytest.mark.parametrize("sentence", ["Sure, I'll turn on the kitchen lights.", "The kitchen lights are now on.",
                                      "Calling your mom now.", "I have added milk to your shopping list.",
                                      "Okay, ordering a pizza for you.", "I've sent the message to John."])
def test_claims_are_caught(sentence: str) -> None:
    assert claims_action(sentence)


@pytest.mark.parametrize("sentence", ["I can't control lights.", "What time should I set it for?",
                                      "I'm sorry, I can't do that.", "I am unable to send messages.",
                                      "The capital of France is Paris."])
def test_honest_sentences_are_not_claims(sentence: str) -> None:
    assert not claims_action(sentence)


def test_a_claim_replaces_the_reply_and_stops_the_llm() -> None:
    closed = []

    def llm() -> object:
        try:
            yield from ["Sure", ",", " I'll", " turn", " on", " the", " lights", ".", " Anything", " else", "?"]
        finally:
            closed.append(True)

    assert list(checked(llm())) == [CANNOT_ACT]  # type: ignore[arg-type]
    assert closed == [True]


def test_an_honest_reply_passes_a_sentence_at_a_time() -> None:
    pieces = ["I", " can't", " control", " lights", ".", " Try", " the", " switch", "!", " Sorry"]
    assert list(checked(iter(pieces))) == ["I can't control lights.", " Try the switch!", " Sorry"]


@pytest.mark.parametrize("reply", ["Lock the front door.", "Sure, I can help you with that!",
                                   "To book a table, call the restaurant."])
def test_a_reply_to_an_action_must_decline_first(reply: str) -> None:
    # Echoing the command, or a cheerful yes, would let the person think it was done.
    assert list(checked(iter([w + " " for w in reply.split()]))) == [CANNOT_ACT]


def _words(reply: str) -> list[str]:
    return [w + " " for w in reply.split(" ")[:-1]] + [reply.split(" ")[-1]]


@pytest.mark.parametrize("reply", ["The capital of France is Paris. It sits on the Seine.",
                                   "I think the answer is seven.", "I'm sorry, I don't know that one.",
                                   "Sure, here is a fun fact: octopuses have three hearts."])
def test_other_replies_pass_whole(reply: str) -> None:
    assert "".join(guarded(iter(_words(reply)))) == reply


def test_other_replies_stream_as_they_come() -> None:
    # Only a sentence that begins like a claim waits for its end: the first words go on at once.
    out = list(guarded(iter(_words("The capital of France is Paris."))))
    assert out[:2] == ["The ", "capital "]


@pytest.mark.parametrize(("reply", "said"), [
    ("Got the front door.", [CANNOT_ACT]),  # to "Lock the front door", heard as something else
    ("Okay, I have sent the message. Anything else?", [CANNOT_ACT]),
    ("Goodbye! I'll be sure to get a new pair of running shoes.", ["Goodbye!"]),  # ends before the claim
])
def test_a_claim_in_any_reply_is_never_spoken(reply: str, said: list[str]) -> None:
    assert list(guarded(iter(_words(reply)))) == said


def test_timers_are_actions_the_assistant_can_do() -> None:
    assert not asks_for_action("Set an alarm") and not asks_for_action("Remind me to call mom")


class _ScriptedLLM:
    """A fake LLM backend: writes the given pieces, notes each one given out and whether it was closed."""

    def __init__(self, pieces: list[str]) -> None:
        self.pieces, self.given, self.closed = pieces, 0, False

    def stream(self, messages: object, cancel: object, grammar: str | None = None,
               max_tokens: int | None = None) -> Iterator[str]:
        try:
            for p in self.pieces:
                self.given += 1
                yield p
        finally:
            self.closed = True

    def prefill(self, messages: object, open_user: str | None = None) -> int:
        return 0


def _understanding(text: str, llm_decides: bool = False) -> Understanding:
    return Understanding(text, (Hypothesis(text, 0.0, 1.0),), "iot_hue_lighton", 0.4,
                         (("iot_hue_lighton", 0.4), ("iot_hue_lightoff", 0.3)), llm_decides=llm_decides)


@pytest.mark.parametrize("llm_decides", [False, True])
def test_the_llms_first_token_is_announced_before_held_back_text(llm_decides: bool) -> None:
    """A checked reply comes a sentence late (and an LLM-decides one after its label): ``started``
    tells when the LLM itself began, once, at its first piece."""
    head = ["intent: ", "iot_hue_lighton", "\nreply: "] if llm_decides else []
    llm = _ScriptedLLM([*head, "I", " can't", " control", " lights", ".", " Sorry", "."])
    seen: list[str] = []
    out = Responder(llm).stream(_understanding("turn on the lights", llm_decides), History(), NEVER,
                                started=lambda: seen.append(f"started after {llm.given}"))
    first = next(p for p in out if isinstance(p, str))
    assert first == "I can't control lights." and seen == ["started after 1"]
    assert llm.given == len(head) + 5
    list(out)
    assert seen == ["started after 1"] and llm.closed


def test_closing_an_announced_stream_stops_the_llm() -> None:
    llm = _ScriptedLLM(["The", " capital", " is", " Paris", "."])
    out = Responder(llm).stream(_understanding("what is the capital of france"), History(), NEVER,
                                started=lambda: None)
    assert next(out) == "The"
    out.close()  # type: ignore[attr-defined]
    assert llm.closed and llm.given == 1


def test_an_action_among_the_alternatives_shown_is_checked_too() -> None:
    # Piper's "Lock the front door." at 10 dB: "Block the front door." (or maybe "Lock ..."); the
    # LLM, shown both, may act on either, so its echo of the request is not spoken.
    nbest = (H("Block the front door.", 0.6), H("Lock the front door.", 0.3))
    u = Understanding("Block the front door.", nbest, "iot_hue_lighton", 0.9)
    assert not asks_for_action("Block the front door.") and asks_for_action(*Responder(_ScriptedLLM([])).readings(u))
    reply = list(Responder(_ScriptedLLM(["Block", " the", " front", " door", "."])).stream(u, History(), NEVER))
    assert reply == [CANNOT_ACT]
    # Without the n-best the LLM reads the best text alone, and so does the check.
    parrot = list(Responder(_ScriptedLLM(["Block", " the", " front", " door", "."]), nbest=False)
                  .stream(u, History(), NEVER))
    assert "".join(parrot) == "Block the front door."
