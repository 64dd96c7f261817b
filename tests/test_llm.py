"""The local LLM through the responder: streamed, bounded, cancellable."""

from __future__ import annotations

import threading

from assistant import Assistant
from assistant.reply.history import History
from assistant.reply.prompt import SYSTEM_PROMPT


def test_reply_streams_in_pieces_and_mentions_paris(assistant: Assistant) -> None:
    pieces = list(assistant.responder.stream("What is the capital of France?", History(), threading.Event()))
    assert len(pieces) > 2
    assert "paris" in "".join(pieces).lower()


def test_cancel_stops_generation(assistant: Assistant) -> None:
    cancel = threading.Event()
    pieces = []
    for p in assistant.responder.stream("Tell me a long story about a dragon.", History(), cancel):
        pieces.append(p)
        if len(pieces) == 2:
            cancel.set()
    assert len(pieces) == 2


def test_prompt_keeps_fixed_system_prompt_and_bounded_history(assistant: Assistant) -> None:
    h = History(max_turns=4, drop=2)
    seen = []
    for i in range(9):
        h.add(f"question {i}", f"answer {i}")
        seen.append(len(h.exchanges))
    # The window moves two exchanges at a time: the prompt's prefix changes every other turn past four.
    assert seen == [1, 2, 3, 4, 3, 4, 3, 4, 3]
    msgs = assistant.responder.prompt("next", h)
    assert msgs[0].content == SYSTEM_PROMPT
    assert [m.content for m in msgs[1:]] == [
        "question 6", "answer 6", "question 7", "answer 7", "question 8", "answer 8", "next"]


def test_prefill_moves_the_cache_to_the_next_turns_prompt(assistant: Assistant) -> None:
    h = History()
    h.add("What is the capital of France?", "The capital of France is Paris.")
    h.add("Set a timer for five minutes.", "Okay, a timer for five minutes, starting now.")  # a skill turn
    assert assistant.responder.prefill(h) > 0  # the history was not in the cache
    assert assistant.responder.prefill(h) == 0  # now it is: nothing left to evaluate
    assert assistant.responder.prefill(h, "Who painted the") > 0  # the words heard so far go on top
    reply = "".join(assistant.responder.stream("Who painted the Mona Lisa?", h, threading.Event()))
    assert "leonardo" in reply.lower() or "vinci" in reply.lower()


def test_a_moved_history_window_is_cut_from_the_cache_not_evaluated_again(assistant: Assistant) -> None:
    h = History(max_turns=8, drop=4)
    for i in range(7):
        h.add(f"What is {i} plus {i}?", f"{i} plus {i} is {2 * i}.")
    h.add("My name is Ada.", "Nice to meet you, Ada.")
    assistant.responder.prefill(h)
    h.make_room()  # the oldest four exchanges go
    assert len(h.exchanges) == 4
    # The cache already holds the rest: cut out of it, nothing is evaluated again.
    assert assistant.responder.prefill(h) == 0
    reply = "".join(assistant.responder.stream("What is my name?", h, threading.Event()))
    assert "ada" in reply.lower()


def test_a_claimed_action_is_never_spoken(assistant: Assistant) -> None:
    from assistant.reply.honesty import CANNOT_ACT, claims_action

    for request in ("Turn on the kitchen lights.", "Call my mother.", "Order a large pizza for delivery."):
        reply = "".join(assistant.responder.stream(request, History(), threading.Event()))
        assert reply.strip() and not claims_action(reply), reply
        assert reply == CANNOT_ACT or "can't" in reply.lower() or "cannot" in reply.lower() or "unable" in reply.lower()
