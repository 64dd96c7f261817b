"""The Python API: an :class:`Assistant` loads the models once and opens sessions.

Example::

    import asyncio
    from assistant import Assistant, load_audio

    async def main() -> None:
        bot = Assistant()
        async with bot.session() as s:
            await s.send_audio(load_audio("samples/what_time_is_it.wav"))
            await s.end_audio()
            async for event in s.events():
                print(event.type, event.to_dict())

    asyncio.run(main())
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from functools import cached_property
from pathlib import Path

from .config import Config, llm_role
from .conversation.session import Session
from .cores import CorePriority
from .errors import ModelError
from .listen.asr import Recognizer
from .listen.listener import Listener
from .listen.turn_end import SmartTurn
from .metrics import TurnClock
from .models import ModelStore
from .reply.llm import LLMBackend, LocalLLM, OpenAICompatibleLLM
from .reply.responder import Responder
from .skills import SkillRegistry, default_registry
from .speak.synthesizer import ENGINES, Synthesizer
from .understand.classifier import HEAD_DIR, IntentClassifier
from .understand.completeness import TextCompleteness
from .understand.encoder import SentenceEncoder, adapter_in
from .understand.rescoring import LMRescorer
from .understand.slots import SlotTagger
from .understand.understander import Understander

log = logging.getLogger(__name__)


def _user_path(value: str, what: str) -> Path:
    p = Path(value).expanduser()
    if not p.exists():
        raise ModelError(f"{what} not found: {p}")
    return p


class Assistant:
    """Shared, loaded models; open any number of :class:`Session` objects on it.

    Models load lazily on first use (so ``assistant transcribe`` only loads
    Whisper); call :meth:`load` to load everything up front.
    """

    def __init__(
        self, config: Config | None = None, store: ModelStore | None = None, skills: SkillRegistry | None = None
    ) -> None:
        self.config = config or Config.from_env()
        self.store = store or ModelStore(self.config.model_dir)
        self.skills = skills if skills is not None else default_registry()
        # cached_property is not thread-safe; sessions may touch models from worker threads.
        self._load_lock = threading.RLock()
        self.loaded = False
        """Every model is loaded (:meth:`load` finished): a server is ready."""

    def load(self, progress: Callable[[str], None] | None = None) -> Assistant:
        """Load every model now (a few seconds) rather than on the first turn.

        ``progress`` is told what is loading and how long each step took.
        """
        steps = [
            ("voice activity detector", "silero_path"), ("speech recogniser", "recognizer"),
            ("end-of-turn model", "turn_model"), ("words cue to the end of a turn", "completeness"),
            ("intent classifier and slot tagger", "understander"), ("language model", "responder"),
            ("voice", "synthesizer"),
        ]
        for label, name in steps:
            t0 = time.perf_counter()
            getattr(self, name)
            if progress:
                progress(f"loaded the {label} in {time.perf_counter() - t0:.1f} s")
        t0 = time.perf_counter()
        self.responder.warm_up()
        if progress:
            progress(f"prefilled the system prompt in {time.perf_counter() - t0:.1f} s")
        self.loaded = True
        return self

    def llm_unreachable(self) -> str | None:
        """Why the served LLM cannot be reached (None when it can, or the LLM is local)."""
        llm = self.llm
        return llm.reachable() if isinstance(llm, OpenAICompatibleLLM) else None

    #: Loaded models that do not depend on the skills or the understanding thresholds.
    _SHAREABLE = ("cores", "silero_path", "recognizer", "turn_model", "synthesizer", "responder", "classifier", "encoder",
                  "rescorer", "completeness")

    def sharing_models(self, config: Config | None = None, skills: SkillRegistry | None = None) -> Assistant:
        """A new assistant with other settings or skills on this one's already loaded models."""
        other = Assistant(config or self.config, self.store, skills)
        for name in self._SHAREABLE:
            if name == "rescorer" and not other.config.understand.lm_rescoring:
                continue
            if name in ("classifier", "encoder") and (other.understanding_dir, other.config.understand.encoder_runtime) \
                    != (self.understanding_dir, self.config.understand.encoder_runtime):
                continue
            if name in self.__dict__:
                other.__dict__[name] = self.__dict__[name]
        return other

    def listener(self, config: Config, next_turn: Callable[[], int] | None = None,
                 clock: Callable[[int], TurnClock] | None = None) -> Listener:
        """A listening path for one stream (a session's, with its turn numbering and clocks)."""
        return Listener(self.recognizer, self.silero_path, config, next_turn, clock, self.workers,
                        turn_model=self.turn_model, words_cue=self.completeness if config.turn.words_model else None)

    def session(self, config: Config | None = None) -> Session:
        """A new conversation; use as ``async with assistant.session() as s:``."""
        return Session(self, config)

    @cached_property
    def workers(self) -> ThreadPoolExecutor:
        """Threads for every session's blocking model calls (decodes, understanding, LLM, TTS).

        A speaking session holds one for each sentence it paces out and an LLM call waiting
        for its turn holds one, so the event loop's default pool (6 threads on 2 cores) would
        starve a server with a few sessions. Threads are started only when needed.
        """
        return ThreadPoolExecutor(max_workers=64, thread_name_prefix="assistant-model")

    @cached_property
    def cores(self) -> CorePriority:
        """Who goes first on the shared cores: speech synthesis before the LLM's background work."""
        return CorePriority()

    @cached_property
    def silero_path(self) -> Path:
        with self._load_lock:
            return self.store.path_for("vad")

    @cached_property
    def turn_model(self) -> SmartTurn:
        """smart-turn v3.2: is the person done at a pause?"""
        with self._load_lock:
            cfg = self.config.turn
            return SmartTurn(_user_path(cfg.model_path, "end-of-turn model") if cfg.model_path
                             else self.store.path_for("turn"))

    @cached_property
    def recognizer(self) -> Recognizer:
        with self._load_lock:
            cfg = self.config.asr
            path = _user_path(cfg.model_path, "ASR model") if cfg.model_path else self.store.path_for("asr")
            return Recognizer(path, cfg)

    @cached_property
    def llm(self) -> LLMBackend:
        with self._load_lock:
            cfg = self.config.llm
            if cfg.url:
                return OpenAICompatibleLLM(cfg.url, cfg)
            path = _user_path(cfg.model_path, "LLM model") if cfg.model_path else self.store.path_for(llm_role(cfg.size))
            return LocalLLM(path, cfg, self.cores)

    @cached_property
    def encoder(self) -> SentenceEncoder:
        with self._load_lock:
            cfg = self.config.understand
            return SentenceEncoder(self.store.path_for("sentence-encoder"), adapter=adapter_in(self.understanding_dir),
                                   runtime=cfg.encoder_runtime, threads=cfg.encoder_threads)

    @property
    def understanding_dir(self) -> Path:
        return self.config.understand.model_dir or HEAD_DIR

    @cached_property
    def classifier(self) -> IntentClassifier:
        with self._load_lock:
            return IntentClassifier(self.encoder, self.understanding_dir)

    @cached_property
    def completeness(self) -> TextCompleteness | None:
        """The learnt words cue to the end of a turn; None when the understanding folder has none."""
        with self._load_lock:
            try:
                return TextCompleteness(self.encoder, self.understanding_dir)
            except ModelError as exc:
                log.warning("%s: pauses are judged by prosody and the trailing-word rules", exc)
                return None

    @cached_property
    def rescorer(self) -> LMRescorer | None:
        """The n-best re-ranker (the 0.5B LLM in a context of its own), or None when turned off."""
        if not self.config.understand.lm_rescoring:
            return None
        with self._load_lock:
            return LMRescorer(self.store.path_for("llm-fast"))

    @cached_property
    def understander(self) -> Understander:
        rescorer = self.rescorer
        with self._load_lock:
            tagger = SlotTagger(self.encoder, self.understanding_dir)
            return Understander(self.classifier, self.skills, self.config.understand, tagger, rescorer)

    @cached_property
    def responder(self) -> Responder:
        llm = self.llm
        return Responder(llm, speculative=isinstance(llm, LocalLLM) and self.config.llm.speculate)

    @cached_property
    def synthesizer(self) -> Synthesizer:
        with self._load_lock:
            cfg = self.config.tts
            if cfg.engine not in ENGINES:
                raise ModelError(f"unknown TTS engine {cfg.engine!r}; choose one of {', '.join(ENGINES)}")
            if cfg.engine != "piper":
                return Synthesizer(ENGINES[cfg.engine](None, cfg), cfg, self.cores)
            path = _user_path(cfg.voice_path, "TTS voice") if cfg.voice_path else self.store.path_for("tts")
            return Synthesizer(ENGINES["piper"](path, cfg), cfg, self.cores)
