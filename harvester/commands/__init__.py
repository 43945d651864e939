"""The CLI's commands: each turns parsed options into a call on the runtime and prints the result."""
