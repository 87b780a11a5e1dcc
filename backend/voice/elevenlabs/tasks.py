"""What the worker runs for ElevenLabs: its post-call webhooks' events, kept by the inbox."""

from __future__ import annotations

from backend.inbound import registry
from backend.voice.elevenlabs import service

registry.register(registry.Provider.ELEVENLABS, service.handle_event)
