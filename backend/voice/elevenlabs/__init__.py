"""WhatsApp agents: ElevenLabs conversational agents synced into a workspace, and their calls."""
