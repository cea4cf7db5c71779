"""Platform adapters: each parses, calls the core, renders."""
