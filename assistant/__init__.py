"""A full-duplex, streaming, offline speech-to-speech voice assistant."""

from .api import Assistant
from .audio import load_audio, write_wav
from .config import Config
from .conversation.session import Session
from .errors import AssistantError

__all__ = ["Assistant", "AssistantError", "Config", "Session", "load_audio", "write_wav"]
__version__ = "0.1.0"
