"""Bolna (api.bolna.ai): voice agents and the outbound calls they make."""
