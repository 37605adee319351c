"""Reaching providers: one class per provider type, over Gatehouse's own HTTP/1.1 client."""
