"""The domain: namespaces, tokens, scripts and their versions."""
