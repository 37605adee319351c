"""The gateway core: one worker's state and its reloads, keys, the model catalog, client settings, and the
exchange — how a request reaches its provider (`exchange`), how the answer comes back (`relay`) and what is
recorded of it (`recording`)."""
