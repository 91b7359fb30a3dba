"""HTTP: the app factory, authorization, and the routes."""
