"""Understanding: the n-best classifier and the policy, on real models."""

from __future__ import annotations

import threading

from assistant import Assistant
from assistant.events import Hypothesis as H
from assistant.reply.history import History
from assistant.reply.prompt import intent_grammar, unsure_message


def test_classifier_is_confident_on_plain_requests(assistant: Assistant) -> None:
    clf = assistant.classifier
    for text, intent in [("wake me up at nine am on friday", "alarm_set"), ("what's the weather like in paris", "weather_query"),
                         ("play some jazz", "play_music"), ("what is twelve times seven", "qa_maths")]:
        r = clf.classify([H(text, 0.0, 1.0)])
        assert r.intent == intent and r.confidence > 0.6, (text, r)
        assert abs(sum(p for _, p in r.candidates) - 1) < 0.2


def test_nbest_fusion_recovers_from_a_wrong_first_hypothesis(assistant: Assistant) -> None:
    clf = assistant.classifier
    nbest = [H("what's the whether like to day", -0.5, 0.45), H("what's the weather like today", -0.6, 0.40),
             H("what's the weather like to day", -0.7, 0.15)]
    fused = clf.classify(nbest)
    assert fused.intent == "weather_query"
    assert fused.confidence > clf.classify(nbest[:1]).confidence


def test_policy_routes(assistant: Assistant) -> None:
    und = assistant.understander
    assert und.understand((H("what time is it", 0, 1),)).route == "skill"
    assert und.understand((H("set a timer for five minutes", 0, 1),)).skill_reply.startswith("Okay, a timer")
    factoid = und.understand((H("who wrote romeo and juliet", 0, 1),))
    assert factoid.route == "llm" and factoid.intent == "qa_factoid"
    gibberish = und.understand((H("blorp fizzle wug", 0, 1),))
    assert gibberish.route != "skill"  # never a wrong skill for something outside every intent


def test_unsure_turn_lets_the_llm_choose_within_the_candidates(assistant: Assistant) -> None:
    und = assistant.understander
    u = und.understand((H("blorp fizzle wug zap", 0, 1),))
    from dataclasses import replace

    u = replace(u, llm_decides=True)
    assert "Likely intents:" in unsure_message(u, u.text)
    grammar = intent_grammar([c for c, _ in u.candidates])
    assert '"out_of_scope"' in grammar
    choice = assistant.responder.decide_intent(u, History())
    assert choice in {c for c, _ in u.candidates} | {"out_of_scope"}
    pieces = list(assistant.responder.stream(u, History(), threading.Event()))
    assert any(not isinstance(p, str) for p in pieces) and "".join(p for p in pieces if isinstance(p, str)).strip()


def test_the_language_model_reranks_what_a_person_would_say(assistant: Assistant) -> None:
    # Whisper tiny's own order on espeak-ng questions, from bench qa; the LM knows better.
    und = assistant.understander
    u = und.understand((H("What color do you get when you mix Lou and yellow?", -1.0, 0.36),
                        H("What color do you get when you mix blue and yellow?", -1.2, 0.23),
                        H("What color do you get when you mix loop and yellow?", -1.3, 0.21)))
    assert u.text == "What color do you get when you mix blue and yellow?"
    assert u.nbest[0].posterior > 0.5 and abs(sum(h.posterior for h in u.nbest) - 0.8) < 1e-6
    same = und.rescored((H("hello there", -0.1, 0.9), H("Hello there.", -0.2, 0.1)))
    assert [h.posterior for h in same] == [0.9, 0.1]  # nothing to choose: the recogniser's own
    # Readings that differ only in an article ask the same question: no LM time spent on them.
    spider = (H("How many legs does a spider have?", -0.5, 0.61), H("How many legs does the spider have?", -1.6, 0.2),
              H("How many legs does that spider have?", -1.7, 0.19))
    assert und.rescored(spider) == spider


def test_the_language_model_scores_each_text_once(assistant: Assistant) -> None:
    # The final's n-best is mostly the speculative final's texts with moved posteriors: the LM's
    # scores are kept per text, so re-ranking it again costs the LM nothing.
    import math

    rescorer = assistant.rescorer
    assert rescorer is not None
    asked: list[int] = []
    score = rescorer._logprobs
    rescorer._logprobs = lambda seqs: asked.append(len(seqs)) or score(seqs)  # type: ignore[method-assign]
    try:
        first = rescorer.rescore((H("Is a spider an insect?", -1.0, 0.5), H("Is a spied her an insect?", -1.1, 0.3)))
        again = rescorer.rescore((H("Is a spider an insect?", -1.0, 0.45), H("Is a spied her an insect?", -1.1, 0.35)))
        rescorer.rescore((H("Is a spider an insect?", -1.0, 0.4), H("Is a spy door an insect?", -1.2, 0.3)))
    finally:
        del rescorer._logprobs
    assert asked == [2, 1]  # the third list had one new text
    before, after = {h.text: h.posterior for h in first}, {h.text: h.posterior for h in again}
    spider, other = "Is a spider an insect?", "Is a spied her an insect?"
    # Same LM scores: the log-odds moved only by the recogniser's own change.
    moved = math.log(after[spider] / after[other]) - math.log(before[spider] / before[other])
    assert abs(moved - (math.log(0.45 / 0.35) - math.log(0.5 / 0.3))) < 1e-6


def test_the_llm_picks_an_intent_only_where_a_skill_could_take_it(assistant: Assistant) -> None:
    from assistant.skills import SkillRegistry
    from assistant.understand.intents import LABELS
    from assistant.understand.understander import Understander

    unsure = (H("blorp fizzle wug zap", 0, 1),)
    no_skills = Understander(assistant.classifier, SkillRegistry())
    assert no_skills.understand(unsure).route == "llm"  # nothing to hand it to: the LLM just answers
    every = SkillRegistry()
    for label in LABELS:
        every.register(label, lambda req: None)
    assert Understander(assistant.classifier, every).understand(unsure).route == "llm_decides"


def test_the_words_cue_tells_a_fragment_from_a_whole_request(assistant: Assistant) -> None:
    # The learnt completeness head on the shipped encoder: the fragments end where no rule of
    # trails_off() looks ("spell", "square root", "called"), Whisper's punctuation included.
    cue = assistant.completeness
    assert cue is not None
    for fragment in ("How do you spell?", "What is the square root", "Who wrote the novel called"):
        assert cue.p_complete([H(fragment, -0.1, 1.0)]) < 0.5, fragment
    for whole in ("What is the square root of 144?", "Set a timer for ten minutes.", "Turn on the kitchen lights."):
        assert cue.p_complete([H(whole, -0.1, 1.0)]) > 0.5, whole
    short, whole = H("How do you spell?", -0.1, 0.5), H("How do you spell necessary?", -0.2, 0.5)
    mixed, alone_short, alone_whole = (cue.p_complete(n) for n in ([short, whole], [short], [whole]))
    assert mixed is not None and alone_short is not None and alone_whole is not None
    assert alone_short < mixed < alone_whole
    assert cue.p_complete([H("", 0.0, 1.0)]) is None


def test_the_preview_is_the_llm_turn_to_warm_and_none_for_a_skill(assistant: Assistant) -> None:
    und = assistant.understander
    assert und.preview((H("What time is it?", 0, 1),)) is None  # the clock answers: nothing to prefill
    assert und.preview((H("Set a timer for five minutes.", 0, 1),)) is None
    heard = (H("Who painted the Mona Lisa?", -0.1, 0.7), H("who painted the moaner Lisa", -0.5, 0.3))
    u = und.preview(heard)
    assert u is not None and u.skill_reply is None and u.text == "Who painted the Mona Lisa?"
    assert assistant.responder.user_message(u) == assistant.responder.request_text(u)  # the LLM does not decide
