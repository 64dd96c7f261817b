"""Speaking: text normalisation, clause-first chunking and speech synthesis in short frames."""
