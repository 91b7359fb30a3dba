"""Supervised V8 isolates: the supervisor (in the server), executor processes, the engine."""
