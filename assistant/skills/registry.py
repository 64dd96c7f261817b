"""The skill registry: intent -> a function from a request to a reply (or None: it declines).

A skill answers only what it can do. The classifier's intent is a guess about
the request's topic ("What colour do you get when you mix blue and yellow?" looks
like a lights request to it), so every skill also has a parser of its own, here an
``accepts`` pattern the request must match, or a function that returns None for a
request it cannot handle; then the LLM answers instead.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Callable
from dataclasses import dataclass, field

from ..events import Hypothesis
from .timers import Timers

SkillFn = Callable[["SkillRequest"], "str | None"]


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
        self._accepts: dict[str, re.Pattern[str]] = {}
        self._triggers: list[tuple[re.Pattern[str], str]] = []

    def register(self, intent: str, fn: SkillFn, trigger: str | None = None, accepts: str | None = None) -> None:
        """Answer ``intent`` with ``fn`` (replacing any earlier skill for it).

        ``trigger`` (a regex) claims requests for this skill whatever the classifier
        says, for requests the training data has no intent for (MASSIVE has no timers).
        ``accepts`` (a regex) is what a request must contain for the skill to answer it.
        """
        self._skills[intent] = fn
        self._accepts.pop(intent, None)
        if accepts:
            self._accepts[intent] = re.compile(accepts, re.I)
        if trigger:
            self._triggers.append((re.compile(trigger, re.I), intent))

    def skill(self, intent: str, trigger: str | None = None,
              accepts: str | None = None) -> Callable[[SkillFn], SkillFn]:
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
        pattern = self._accepts.get(intent)
        return intent in self._skills and (pattern is None or bool(pattern.search(text)))

    def run(self, req: SkillRequest) -> str | None:
        """The skill's reply, or None when there is no skill, or it cannot do this request."""
        fn = self._skills.get(req.intent)
        accepts = self._accepts.get(req.intent)
        if fn is None or (accepts is not None and not accepts.search(req.text)):
            return None
        return fn(req)
