"""interpreter: plain language in, typed intents out (see the interpreter issue)."""
