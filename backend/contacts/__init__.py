"""Contacts: one person per phone number and channel identity in a workspace, their consent, and
when they last wrote on each channel."""
