"""Every running episode serves itself: a control endpoint that viewers attach to (protocol.py, server.py),
the viewer's side (client.py), who may steer (arbiter.py) and where endpoints are found (endpoint.py).
No textual here: the TUI, the CLI and tests attach through the same client."""
