"""Conversations and their messages, on every channel: the only package that reads or writes them."""
