"""Voice assistants (VAPI): the connection, synced assistants, and end-of-call webhooks."""
