"""Domain events: a row per change worth reacting to, written in the change's own transaction."""
