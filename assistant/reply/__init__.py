"""Replying: a skill's answer or a streamed LLM answer, and the conversation history it reads."""
