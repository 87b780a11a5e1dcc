"""WhatsApp Cloud API (Meta's Graph API, graph.facebook.com): sends from a business phone
number, its details and its account's message templates, and the webhooks Meta posts."""
