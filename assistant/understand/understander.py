"""Understanding what was meant, from the recogniser's n-best list.

The policy, with thresholds chosen on MASSIVE dev (see ``UnderstandConfig``):

0. A small LLM re-ranks the hypotheses by how likely a person is to say them (``rescoring.py``).
1. The n-best classifier fuses the hypotheses into calibrated intent probabilities.
2. Confident (>= ``skill_threshold``) and a skill exists that can handle it: the
   skill answers at once, deterministically.
3. Unsure (< ``llm_threshold``) or mostly unknown words (out of scope): the LLM
   decides, choosing among the classifier's candidates or ``out_of_scope`` and
   replying in the same generation.
4. Otherwise (confident, open-ended, no skill): the LLM answers the best text.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field, replace

from ..config import UnderstandConfig
from ..events import Hypothesis
from ..skills import SkillRegistry, SkillRequest, Timers
from .classifier import IntentClassifier
from .intents import OUT_OF_SCOPE
from .rescoring import LMRescorer
from .slots import Slot, SlotTagger

#: The candidate intents the LLM chooses among when it decides (and that it is shown).
LLM_CANDIDATES = 4


@dataclass(frozen=True)
class Understanding:
    """What the reply stage works from."""

    text: str
    nbest: tuple[Hypothesis, ...]
    intent: str
    confidence: float
    candidates: tuple[tuple[str, float], ...] = ()
    slots: tuple[Slot, ...] = ()
    """Slot values found in the chosen text (the tagger's, from the best hypothesis)."""
    skill_reply: str | None = None
    """Set when a skill answered: the reply is this text, no LLM needed."""
    llm_decides: bool = False
    """The classifier was unsure: the LLM picks the intent while it replies."""

    @property
    def route(self) -> str:
        return "skill" if self.skill_reply is not None else "llm_decides" if self.llm_decides else "llm"


@dataclass
class Understander:
    """Classifier + skills + thresholds: n-best in, :class:`Understanding` out."""

    classifier: IntentClassifier
    skills: SkillRegistry
    config: UnderstandConfig = field(default_factory=UnderstandConfig)
    tagger: SlotTagger | None = None
    rescorer: LMRescorer | None = None
    """Re-ranks the n-best with a language model first (None: the recogniser's own order)."""

    def understand(self, nbest: tuple[Hypothesis, ...], timers: Timers | None = None,
                   now: dt.datetime | None = None) -> Understanding:
        """Decide who answers, running the skill now if it is the skill's turn."""
        base, llm_turn = self._classified(self.rescored(nbest))
        if (chosen := self._skill_for(base)) is not None:
            intent, claimed = chosen
            reply = self.run_skill(intent, base, timers, now)
            if reply is not None:
                return replace(base, intent=intent, confidence=1.0 if claimed else base.confidence, skill_reply=reply)
        return llm_turn

    def preview(self, nbest: tuple[Hypothesis, ...]) -> Understanding | None:
        """The understanding of an LLM turn on this n-best, running no skill: what the LLM would
        read, so that it can be prefilled before the final; None where a skill will most likely
        answer (its trigger, or a confident intent whose skill's parser takes the words), so
        the cores stay with the recogniser and the skill's voice. It waits for the re-ranking,
        as the final will: a message written from the order before it did not match the final's
        ("How many lands ..." prefilled, "How many legs ..." asked), and its prefill took the
        cores from the re-ranking the final waited for (1.27 s to understand, bench latency)."""
        base, llm_turn = self._classified(self.rescored(nbest))
        chosen = self._skill_for(base)
        return None if chosen is not None and self.skills.accepts(chosen[0], base.text) else llm_turn

    def _skill_for(self, base: Understanding) -> tuple[str, bool] | None:
        """The skill's intent that gets this request first, and whether its trigger claimed it
        (else the classifier is confident of it); None: no skill goes first (the LLM answers, or
        picks the intent where the classifier is unsure)."""
        claimed = self.skills.triggered(base.text)
        intent = claimed or base.intent
        if intent in self.skills and (claimed or base.confidence >= self.config.skill_threshold):
            return intent, claimed is not None
        return None

    def _classified(self, hyps: tuple[Hypothesis, ...]) -> tuple[Understanding, Understanding]:
        """The classifier's understanding, and the same as an LLM turn (unsure: the LLM decides)."""
        if not hyps:
            raise ValueError("nothing to understand: empty n-best list")
        best = max(hyps, key=lambda h: h.posterior)
        text = " ".join(best.text.split())
        result = self.classifier.classify(hyps)
        slots = tuple(self.tagger.tag(text)) if self.tagger else ()
        base = Understanding(text, hyps, result.intent, result.confidence, result.candidates, slots)
        # The LLM's choice of intent only matters when it could hand the request to a skill;
        # otherwise the LLM answers either way, and the grammar-constrained choice costs its
        # first words (3.4 s to the first spoken token for "And an ant?", measured).
        decides = any(self.skills.accepts(c, text) for c, _ in result.candidates[:LLM_CANDIDATES])
        if result.coverage < self.config.oos_coverage:
            return base, replace(base, intent=OUT_OF_SCOPE, llm_decides=decides)
        if result.confidence < self.config.llm_threshold:
            return base, replace(base, llm_decides=decides)
        return base, base

    def rescored(self, nbest: tuple[Hypothesis, ...], wait: bool = True) -> tuple[Hypothesis, ...]:
        """The non-empty hypotheses, re-ranked by the language model when there is one (remembered:
        the session asks this of the speculative final, before the endpoint, with ``wait=False``)."""
        hyps = tuple(h for h in nbest if h.text.strip())
        return self.rescorer.rescore(hyps, wait) if self.rescorer is not None and hyps else hyps

    def run_skill(self, intent: str, u: Understanding, timers: Timers | None = None,
                  now: dt.datetime | None = None) -> str | None:
        """The skill's reply for ``intent`` on this request, or None (no skill, or it declined)."""
        req = SkillRequest(u.text, intent, u.nbest, now or dt.datetime.now(), timers or Timers())
        return self.skills.run(req)
