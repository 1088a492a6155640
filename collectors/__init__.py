"""Collectors: fetch (I/O, raw answers recorded as evidence) and checks (pure functions)."""
