"""The skill registry: intent -> a function from a request to a reply (or None: it declines).

A skill answers only what it can do. The classifier's intent is a guess about
the request's topic ("What colour do you get when you mix blue and yellow?" looks
like a lights request to it), so every skill also has a parser of its own: an
``accepts`` pattern the request must match, or a test of the words (the skill's own
parser, where it has one that runs without side effects); then the LLM answers instead.
A skill registered without either takes every request of its intent and may still
decline (return None) when it runs.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Callable
from dataclasses import dataclass, field

from ..events import Hypothesis
from .timers import Timers

SkillFn = Callable[["SkillRequest"], "str | None"]
#: What a request's words must pass for a skill to take it: a regex, or a test of the text.
Accepts = str | Callable[[str], bool]


@dataclass
class SkillRequest:
    """What a skill gets: the chosen text, the intent, the n-best list, the clock and the timers."""

    text: str
    intent: str
    nbest: tuple[Hypothesis, ...] = ()
    now: dt.datetime = field(default_factory=dt.datetime.now)
    timers: Timers = field(default_factory=Timers)


class SkillRegistry:
    """Intent name -> skill function."""

    def __init__(self) -> None:
        self._skills: dict[str, SkillFn] = {}
        self._accepts: dict[str, Callable[[str], bool]] = {}
        self._triggers: list[tuple[re.Pattern[str], str]] = []

    def register(self, intent: str, fn: SkillFn, trigger: str | None = None, accepts: Accepts | None = None) -> None:
        """Answer ``intent`` with ``fn`` (replacing any earlier skill for it).

        ``trigger`` (a regex) claims requests for this skill whatever the classifier
        says, for requests the training data has no intent for (MASSIVE has no timers).
        ``accepts`` (a regex, or a test of the text) is what a request must pass for the
        skill to answer it.
        """
        self._skills[intent] = fn
        self._accepts.pop(intent, None)
        if isinstance(accepts, str):
            pattern = re.compile(accepts, re.I)
            self._accepts[intent] = lambda text: bool(pattern.search(text))
        elif accepts is not None:
            self._accepts[intent] = accepts
        if trigger:
            self._triggers.append((re.compile(trigger, re.I), intent))

    def skill(self, intent: str, trigger: str | None = None,
              accepts: Accepts | None = None) -> Callable[[SkillFn], SkillFn]:
        """Decorator form of :meth:`register`."""

        def wrap(fn: SkillFn) -> SkillFn:
            self.register(intent, fn, trigger, accepts)
            return fn

        return wrap

    def triggered(self, text: str) -> str | None:
        """The intent whose trigger matches ``text``, if any (first registered wins)."""
        return next((intent for pattern, intent in self._triggers if pattern.search(text)), None)

    def __contains__(self, intent: str) -> bool:
        return intent in self._skills

    def accepts(self, intent: str, text: str) -> bool:
        """Whether a skill for ``intent`` exists and its pattern takes ``text`` (it may still decline)."""
        test = self._accepts.get(intent)
        return intent in self._skills and (test is None or test(text))

    def run(self, req: SkillRequest) -> str | None:
        """The skill's reply, or None when there is no skill, or it cannot do this request."""
        fn = self._skills.get(req.intent)
        accepts = self._accepts.get(req.intent)
        if fn is None or (accepts is not None and not accepts(req.text)):
            return None
        return fn(req)
