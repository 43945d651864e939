"""See README 'How it works'."""
