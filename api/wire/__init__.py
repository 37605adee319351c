"""Wire formats every layer shares: the error bodies of both dialects, Server-Sent Events, token usage."""
