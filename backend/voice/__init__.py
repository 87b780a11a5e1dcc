"""Voice: phone and voice calls of every provider. `calls/` owns the calls table; each provider
(`vapi/` assistants, `elevenlabs/` agents, `bolna/` order confirmation calls) keeps its connection,
its synced resources and its webhooks, and writes calls through `calls/`."""
