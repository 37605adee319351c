"""Gatehouse's server process: the HTTP API over every configured provider."""

__version__ = "0.1.0"
