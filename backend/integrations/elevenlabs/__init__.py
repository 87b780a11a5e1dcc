"""ElevenLabs (api.elevenlabs.io): the account, its conversational agents and their calls."""
