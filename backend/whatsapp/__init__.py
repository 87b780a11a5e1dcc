"""WhatsApp on the Cloud API, as a channel: a chatbot's numbers (primary and marketing) and their
credentials, Meta's webhooks through the inbox, the bot's answers through the chat engine, sends
paced per number and recorded once, templates, the 24-hour window, and the commerce
notifications. Meta's wire format is `backend/integrations/whatsapp/`; this package holds the
rules."""
