"""The conversation core: a session's stage tasks, its turns, barge-in policy and playback clock."""
