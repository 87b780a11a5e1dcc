"""Provider webhooks, one way in: verified by each provider's route, stored once per (provider,
workspace, event id) with its job in the request's transaction, answered at once, and applied
by the `inbound.process` job through the handler its provider registered."""
