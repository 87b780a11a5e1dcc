"""Phone and voice calls of every provider (VAPI, ElevenLabs, Bolna): one `calls` row each."""
