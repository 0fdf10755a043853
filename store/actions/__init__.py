"""The write side: atomic, idempotent actions that append HubEvents and publish after commit."""
