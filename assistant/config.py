"""Typed configuration for every stage, with environment-variable overrides.

Defaults are the embedded models from ``models/manifest.toml``. Every model can be
replaced by a path: ``ASSISTANT_ASR_MODEL`` (a CTranslate2 Whisper directory),
``ASSISTANT_LLM_MODEL`` (a GGUF file; ``ASSISTANT_LLM=0.5b`` picks the smaller
embedded one), ``ASSISTANT_TTS_VOICE`` (a Piper ``.onnx``
voice with its ``.onnx.json`` beside it), ``ASSISTANT_LLM_URL`` (an
OpenAI-compatible endpoint instead of the local GGUF).
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field, replace
from pathlib import Path

#: Sample rate of all audio going into the listening path.
INPUT_SAMPLE_RATE = 16_000


def default_model_dir() -> Path:
    """Where assembled models are cached (``ASSISTANT_MODEL_DIR`` or ``~/.cache/assistant/models``)."""
    env = os.environ.get("ASSISTANT_MODEL_DIR")
    if env:
        return Path(env).expanduser()
    return Path.home() / ".cache" / "assistant" / "models"


@dataclass
class VADConfig:
    """Voice activity detection and endpointing."""

    webrtc_mode: int = 2
    """webrtcvad aggressiveness, 0 (lenient) .. 3 (strict). It gates the start of speech;
    once speech runs, Silero alone (with hysteresis) decides when it stops."""
    speech_threshold: float = 0.5
    """Silero probability above which a frame starts speech."""
    continue_threshold: float = 0.35
    """Silero probability above which a frame keeps speech going (hysteresis)."""
    start_ms: int = 64
    """Speech must last this long before the utterance counts as started."""
    silence_ms: int = 300
    """Silence after speech that ends the utterance (the endpoint)."""
    min_speech_ms: int = 150
    """Shorter utterances are treated as noise and dropped."""
    max_utterance_s: float = 15.0
    """An utterance is cut here even if the person keeps talking."""
    preroll_ms: int = 300
    """Audio kept from before the detected start, so the first syllable is never cut."""
    tail_ms: int = 160
    """Silence kept after the last speech frame (Whisper likes a little context).
    Once a pause reaches this length the final decode starts speculatively; the
    endpoint (``silence_ms``) then either keeps it or, if speech resumed, drops it."""


@dataclass(frozen=True)
class Eagerness:
    """How long a pause may last, by the combined P(complete) ``s`` there (see ``TurnConfig``):
    ``vad.silence_ms`` at ``s >= sure``, rising steadily to ``unsure_wait_ms`` at
    ``sure - ramp``, ``unsure_wait_ms`` down to ``doubt``, ``max_wait_ms`` below it."""

    sure: float
    ramp: float
    doubt: float
    unsure_wait_ms: int
    max_wait_ms: int

    def wait_ms(self, score: float, silence_ms: int) -> int:
        if score >= self.sure:
            return silence_ms
        if score >= self.sure - self.ramp:
            return round(silence_ms + (self.unsure_wait_ms - silence_ms) * (self.sure - score) / self.ramp)
        return self.unsure_wait_ms if score >= self.doubt else self.max_wait_ms


#: Realtime's ``eagerness`` levels; "auto" is "medium". "medium" was chosen on the DEV half of
#: ``bench/turn_sentences.py`` (espeak-ng and Piper, parts joined as the bench joins them,
#: offline): of the settings that keep complete sentences at +0 ms median wait, it cut the
#: fewest fragments off at a 600 ms pause (22.5% on DEV; 18.8% on the held-out TEST half).
#: The smart-turn weight is ``TurnConfig.model_weight``; the ramp keeps a score near ``sure``
#: from flipping a sentence between no wait and a long one.
EAGERNESS: dict[str, Eagerness] = {
    "low": Eagerness(0.9, 0.1, 0.4, 1500, 3000),
    "medium": Eagerness(0.85, 0.1, 0.3, 1200, 2000),
    "high": Eagerness(0.8, 0.1, 0.2, 900, 1500),
}
EAGERNESS["auto"] = EAGERNESS["medium"]


@dataclass
class TurnConfig:
    """When a turn is over: OpenAI Realtime's ``turn_detection``.

    ``semantic_vad`` (the default): at the first short pause (``vad.tail_ms``) the smart-turn
    model (prosody) and the speculative final's n-best words judge whether the person is done;
    the combined score sets how long that pause may last (``EAGERNESS``: ``vad.silence_ms``
    when sure, longer when not). Speech that resumes within it continues the utterance. A
    person who starts again within ``reopen_ms`` of the endpoint, having heard at most
    ``reopen_heard_ms`` of the reply, continues the same request (the started reply is dropped).

    ``server_vad``: the fixed silence endpoint only (``vad.silence_ms``), as before.

    ``none`` (Realtime's ``turn_detection: null``): silence never ends an utterance; the client
    ends it (``input_audio_buffer.commit``), or ``vad.max_utterance_s`` does.
    """

    type: str = "semantic_vad"
    eagerness: str = "auto"
    create_response: bool = True
    """Answer each request at once; False holds it until the client asks for the reply
    (Realtime's ``create_response``, then ``response.create``)."""
    model_path: str | None = None
    """smart-turn ONNX; None uses the embedded v3.2."""
    model_weight: float = 0.5
    """Weight of the model's P(complete) against the transcript's when the words do not trail off."""
    words_model: bool = True
    """Read the words with the learnt completeness cue (``understand.completeness``) as well as
    the trailing-word rules; False: the rules alone (as before December 2026)."""
    reopen_ms: int = 1500
    reopen_heard_ms: int = 500

    @property
    def semantic(self) -> bool:
        return self.type == "semantic_vad"

    @property
    def silence_ends_turn(self) -> bool:
        """Silence ends an utterance (every type but ``none``)."""
        return self.type != "none"

    @property
    def max_wait_ms(self) -> int:
        return EAGERNESS[self.eagerness].max_wait_ms


@dataclass
class ASRConfig:
    """Speech recognition with faster-whisper."""

    model_path: str | None = None
    """CTranslate2 Whisper directory; None uses the embedded tiny.en."""
    compute_type: str = "int8"
    beam_size: int = 5
    nbest: int = 5
    """Hypotheses in the final result."""
    posterior_temperature: float = 0.5
    """Softmax temperature turning beam scores (mean log-probability per token) into posteriors."""
    partial_interval_ms: int = 400
    """While the person speaks, re-decode the growing utterance this often (audio time)."""
    cpu_threads: int = 2
    language: str = "en"
    decode_timeout_s: float = 20.0
    """A final decode that takes longer ends its turn with an error (the worker thread cannot be
    stopped, but the session goes on). A 15 s utterance decodes in ~1.5 s on 2 AVX2 cores."""


#: The embedded LLMs by size, and the manifest role of each.
LLM_ROLES = {"1.5b": "llm", "0.5b": "llm-fast"}


def llm_role(size: str) -> str:
    """The manifest role of the embedded LLM of this size (a clear error for an unknown one)."""
    from .errors import ModelError

    try:
        return LLM_ROLES[size]
    except KeyError:
        raise ModelError(f"unknown LLM size {size!r}; choose one of {', '.join(LLM_ROLES)}") from None


@dataclass
class LLMConfig:
    """The language model that writes open-ended replies."""

    size: str = "1.5b"
    """Which embedded model: "1.5b" (Qwen2.5-Coder-1.5B-Instruct Q4_K_M, the default: 9 of 10
    short questions right, ~8.5 tokens/s on 2 cores) or "0.5b" (the 0.5B: 3 of 10 right,
    ~22 tokens/s, first token about half as soon). ``ASSISTANT_LLM`` or ``--llm``."""
    model_path: str | None = None
    """A GGUF file instead of the embedded model (``ASSISTANT_LLM_MODEL``)."""
    url: str | None = None
    """OpenAI-compatible endpoint (e.g. http://host:8000/v1); when set, replaces the local model."""
    n_ctx: int = 2048
    n_threads: int = 2
    max_tokens: int = 96
    instructions: str = ""
    """The client's own instructions (Realtime's ``instructions``), added to the system prompt:
    the shared prompt stays the cached prefix, so they cost only their own tokens."""
    temperature: float = 0.0
    """Greedy: a voice assistant's facts should not change from one asking to the next (and
    benchmarks that compare prompts then measure the prompts, not sampling)."""
    seed: int = 7
    speculate: bool = True
    """Begin an LLM reply at the first pause, while the endpoint still waits (a local LLM only;
    ``ASSISTANT_LLM_SPECULATE=0`` turns it off): see ``reply/speculation.py``."""


@dataclass
class UnderstandConfig:
    """The understanding policy's thresholds, chosen by measurement on MASSIVE dev (2033 rows).

    - Skills: routing to a skill at confidence >= 0.5 is right 93.5% of the time, at
      >= 0.6 94.8%, at >= 0.7 96.0%; 0.6 keeps 97% of the skill traffic and a wrong
      skill is worse than an LLM answer.
    - LLM decisions: the 0.5B LLM, choosing among the classifier's candidates, was
      right less often than the classifier in every confidence band (conf 0.3-0.5:
      40 vs 49 of 98; 0.5-0.7: 67 vs 82 of 144), so it decides the intent only when
      the classifier is close to guessing, or the words are unknown (out of scope).
    """

    skill_threshold: float = 0.6
    """A skill answers only when the classifier is at least this sure of its intent."""
    llm_threshold: float = 0.25
    """Below this the LLM decides the intent (among the candidates or out_of_scope)."""
    oos_coverage: float = 0.4
    """Fewer known words than this share: out of scope (1 in 200 dev requests falls below)."""
    model_dir: Path | None = None
    """The understanding models: intent head, slot tagger and the encoder's fine-tuned adapter
    (``make train-intent`` writes them). None: the ones in the repository's ``models/intent``."""
    encoder_runtime: str = "onnxruntime"
    """Where the MiniLM encoder runs: ``onnxruntime`` (a graph built from the same weights at load,
    see understand/encoder_graph.py) or ``numpy`` (the reference). ``ASSISTANT_ENCODER_RUNTIME``.
    On 82 five-hypothesis lists the classifier took 17.7 and 20.7 ms p50 in two runs against 37.4
    and 38.1 with numpy (AMD EPYC, 2 cores); loading takes 0.6 s more (building the graph)."""
    encoder_threads: int = 2
    """onnxruntime's threads for the encoder (2 cores: 13.9 ms p50 a 5-hypothesis list with 2,
    25.2 with 1, 16.2 with its default)."""
    lm_rescoring: bool = True
    """Re-rank the n-best with the small LLM before understanding it (see understand/rescoring.py).
    ``ASSISTANT_LM_RESCORING=0`` turns it off: ~0.15 s sooner at the median (1.68 against 1.83 s
    end of speech -> first audio, 12 espeak-ng questions, one run each), right less often in noise."""


@dataclass
class TTSConfig:
    """Speech synthesis with Piper."""

    engine: str = "piper"
    """``piper`` (default) or ``espeak`` (espeak-ng, the fallback)."""
    voice_path: str | None = None
    """Piper .onnx voice; None uses the embedded en_US joe medium."""
    frame_ms: int = 20
    """Audio leaves the synthesizer in frames of this length, so a stop is immediate."""
    length_scale: float = 1.0
    speak: bool = True
    """False: replies are text only (Realtime's ``output_modalities: ["text"]``)."""


@dataclass
class DuplexConfig:
    """Listening while speaking: pacing, echo, barge-in and false starts."""

    realtime_output: bool = True
    """Send reply audio at playback pace (plus ``playback_lead_ms``) rather than as fast
    as it is made, so a stop is immediate and the server knows what was heard."""
    playback_lead_ms: int = 200
    """How far ahead of playback reply audio is sent (the client's buffer)."""
    client_holds_on_pause: bool = True
    """The client stops playing at once on ``response.paused`` and keeps what it had queued
    for ``response.resumed`` (the page, ``assistant talk`` and the benches' client do). The
    server then takes that audio out of the echo reference until it plays, and a person who
    speaks over the reply is no longer talking over up to ``playback_lead_ms`` more of it,
    which AEC3's double-talk suppression muted them under: offline, a person at -6 dB against
    the echo, the reply's sound stopping 100 ms after they began, Whisper heard 22 of 30
    requests word for word; stopping 300 ms after, 7 of 30 (bench echo's five rooms). False:
    the client plays its queue out (the Realtime endpoint's, whose protocol has no pause)."""
    echo_suppression: bool = True
    """Take the assistant's own voice, as played, out of the microphone."""
    echo_canceller: str = "auto"
    """How: ``auto`` (the default: both below side by side, the subtraction's residual while it
    alone explains the echo, AEC3's otherwise; :mod:`assistant.listen.canceller`), ``aec3``
    (WebRTC's canceller: rooms, reverberation, drifting delay) or ``subtract`` (one delay and
    gain per frame); ``ASSISTANT_ECHO``. In simulated rooms (``bench echo``, one sitting) AEC3
    removed 19 dB of echo (median) against ~3 dB and interrupted itself in none of 29 long
    replies against all 28; against a direct, unreverberant echo (tests/test_duplex.py) its
    double-talk suppression in its first seconds removed a loud person with the echo (6 of 32
    of those tests failed over eight runs with it alone), which the subtraction does not."""
    near_end_check: bool = True
    """While the assistant speaks, speech starts only with a talker heard in the microphone over
    the echo's expected level (:class:`~assistant.listen.presence.NearEndPresence`), and at once
    when the microphone is sure of one: AEC3's leaks in reverberant rooms no longer pause the
    reply, and its muting of a person's first syllables no longer delays the stop. Where the
    subtraction explains the echo (``auto`` on a plain echo) the VAD's start needs no check."""
    strict_speech_threshold: float = 0.55
    """Silero threshold to start speech while the assistant speaks (normally ``vad.speech_threshold``).
    Over the reply it hears AEC3's output, which mutes much of a person: 0.55 against 0.65,
    replayed on three recorded ``bench echo`` runs (``--replay``, 14 trials a level each),
    heard 13, 14 and 14 people at 0 dB against 12, 14 and 13, and one more at -6 dB, with
    no reply pausing on itself in 90; at 0.5 one did (at 0.4, one in 30)."""
    strict_start_ms: int = 96
    """Speech needed to count as started while the assistant speaks (normally ``vad.start_ms``)."""

    def over_reply(self, vad: VADConfig) -> VADConfig:
        """``vad`` with the stricter start that applies while the assistant speaks."""
        return replace(vad, speech_threshold=self.strict_speech_threshold, start_ms=self.strict_start_ms)
    confirm_ms: int = 500
    """Speech over the reply pauses it; words the recogniser is sure of (stable in its partials)
    or a stop command interrupt it. Speech that ends within this long is judged by its final
    alone (a short one with a backchannel reading is a backchannel); longer speech is looked
    at again every ``recheck_ms`` from then on."""
    recheck_ms: int = 300
    """While speech over the reply has no words yet (or only a backchannel), look again this often."""
    words_wait_ms: int = 1500
    """Speech over the reply that still has no sure words after this long (in input audio, as
    far as the listener has decoded) interrupts all the same."""
    max_pause_ms: int = 5000
    """A paused reply whose speech ended resumes after this long even if no final came (a final
    takes 0.1-1.1 s after the endpoint on a 2-core AVX2 machine)."""
    min_interrupt_ms: int = 250
    """Speech over the reply shorter than this is a false start (a blip, a click), whatever its words."""
    echo_share_max: float = 0.55
    """Speech whose syllables rise and fall with what was played at least this closely
    (``echo_share``, :class:`~assistant.listen.echo.EchoMatch`) is its echo, whatever Whisper
    made of it. Measured on bench echo's rooms with AEC3 (26 speech segments): echo alone
    0.36-0.78 (7 of 9 above 0.6), people speaking over the reply 0-0.49. Where the talker check
    was sure of a person over the reply the listener gives 0 (:attr:`~assistant.listen.listener.Listener.echo_share`)."""
    reply_stall_s: float = 30.0
    """A session with a turn still waiting for its reply that shows no progress at all (no text,
    no audio, no event) for this long ends that turn with an error, so it never goes silent.
    Generous: under load a turn may wait seconds for the shared LLM (4 sessions on 2 cores: p95
    2 s voice to voice)."""
    backchannels: tuple[str, ...] = (
        "mm hm", "mm hmm", "mmhmm", "mhm", "mm", "mmm", "hm", "hmm", "uh huh", "uh", "um", "ah", "oh", "yeah",
        "yep", "yes", "ok", "okay", "right", "sure", "i see", "got it", "cool", "nice", "yeah yeah", "uh uh",
    )
    """Short utterances that acknowledge rather than interrupt: the reply resumes."""
    stop_commands: tuple[str, ...] = (
        "stop", "stop it", "stop that", "stop please", "please stop", "wait", "wait a moment", "wait a second",
        "hold on", "hang on", "pause", "cancel", "quiet", "be quiet", "enough", "shut up", "never mind",
    )
    """Said over the reply, these stop it even when its echo share says echo: a word this short
    has too few syllables to tell by loudness ("Stop." over the story in a duplex test scored
    0.24-0.59 and was dropped as echo 2 times in 5). The reply's own words are still its echo."""
    backchannel_max_ms: int = 1000
    """Speech over the reply shorter than this with a backchannel reading at ``reading_min_posterior``
    is a backchannel: a "yeah" heard as "He hasn't." (384 ms, "Yes." 0.23), an "mm hmm" as
    "and m m" (640 ms, "Mm." 0.25-0.58, bench bargein). The shortest request there lasts 1.3 s."""
    reading_min_posterior: float = 0.2
    """A reading of speech over the reply that the n-best gives at least this posterior counts:
    short speech (under ``backchannel_max_ms``) with a backchannel reading is a backchannel (the reply
    resumes), speech with a stop-command reading is a stop ("Start up." 0.66 / "Stop." 0.21)."""
    short_stop_min_posterior: float = 0.1
    """Over the reply, speech shorter than ``backchannel_max_ms`` is a stop with a stop-command
    reading this likely: a one-word "Stop." gives Whisper few frames (a CI run of the duplex test
    heard "Start up." 0.63, "startup." 0.22, "Stop." 0.15 in 608 ms, and answered it)."""


@dataclass
class Config:
    """Everything a session needs; build with :meth:`from_env` to honour overrides."""

    vad: VADConfig = field(default_factory=VADConfig)
    turn: TurnConfig = field(default_factory=TurnConfig)
    asr: ASRConfig = field(default_factory=ASRConfig)
    llm: LLMConfig = field(default_factory=LLMConfig)
    tts: TTSConfig = field(default_factory=TTSConfig)
    understand: UnderstandConfig = field(default_factory=UnderstandConfig)
    duplex: DuplexConfig = field(default_factory=DuplexConfig)
    model_dir: Path = field(default_factory=default_model_dir)

    @classmethod
    def from_env(cls) -> Config:
        """Defaults, with model paths and the LLM endpoint taken from the environment."""
        cfg = cls()
        cfg.asr.model_path = os.environ.get("ASSISTANT_ASR_MODEL") or None
        cfg.llm.size = os.environ.get("ASSISTANT_LLM") or cfg.llm.size
        cfg.llm.model_path = os.environ.get("ASSISTANT_LLM_MODEL") or None
        cfg.llm.url = os.environ.get("ASSISTANT_LLM_URL") or None
        cfg.tts.voice_path = os.environ.get("ASSISTANT_TTS_VOICE") or None
        cfg.tts.engine = os.environ.get("ASSISTANT_TTS_ENGINE") or cfg.tts.engine
        cfg.turn.model_path = os.environ.get("ASSISTANT_TURN_MODEL") or None
        cfg.turn.type = os.environ.get("ASSISTANT_TURN_DETECTION") or cfg.turn.type
        cfg.understand.lm_rescoring = os.environ.get("ASSISTANT_LM_RESCORING", "1") != "0"
        cfg.llm.speculate = os.environ.get("ASSISTANT_LLM_SPECULATE", "1") != "0"
        cfg.understand.encoder_runtime = os.environ.get("ASSISTANT_ENCODER_RUNTIME") or cfg.understand.encoder_runtime
        cfg.duplex.echo_canceller = os.environ.get("ASSISTANT_ECHO") or cfg.duplex.echo_canceller
        return cfg
