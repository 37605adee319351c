"""Configuration: each key declared once (schema), typed settings read and validated from the TOML file (settings),
the settings shown without their secrets (redact), and where Gatehouse keeps its files (locations)."""
