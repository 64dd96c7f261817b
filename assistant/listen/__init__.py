"""Listening: microphone audio in, speech and transcript events out (VAD, endpointing, ASR, echo)."""
