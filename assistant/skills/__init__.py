"""Deterministic skills: answers the assistant can give offline, at once, without the LLM.

See :mod:`assistant.skills.builtin` for the skills that ship and how to add one.
"""

from .builtin import default_registry
from .registry import SkillFn, SkillRegistry, SkillRequest
from .timers import Timer, Timers

__all__ = ["SkillFn", "SkillRegistry", "SkillRequest", "Timer", "Timers", "default_registry"]
