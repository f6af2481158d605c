"""Use cases. Each takes a session from its caller and never commits."""
