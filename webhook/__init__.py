"""Meta's webhook: signature verification, payload parsing and ingest into the store."""
