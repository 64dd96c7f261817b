"""Understanding: the recogniser's n-best list in, intent, slots, confidence and who answers out."""
