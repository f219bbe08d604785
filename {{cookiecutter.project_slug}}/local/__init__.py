"""Development tools: the embedded stand-in server and the local invoker (not deployed)."""
