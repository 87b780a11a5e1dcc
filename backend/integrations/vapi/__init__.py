"""VAPI (api.vapi.ai): voice assistants, phone numbers and calls."""
