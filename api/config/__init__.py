"""Configuration: typed settings read and validated from the TOML file, and where Gatehouse keeps its files."""
