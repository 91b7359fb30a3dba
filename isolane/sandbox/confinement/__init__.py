"""Executors confined: the layers around an executor process, so that code running inside
one (a V8 escape) gets nothing of the host. `jail` decides which layers this host can have
and starts processes inside them; `lockdown` is what the confined process does to itself
before it runs any tenant code."""
