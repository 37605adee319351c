"""The HTTP edge: the BlackSheep app, its one middleware, the routes, reading requests and writing responses.
Only this layer knows the web framework; it turns errors and relayed answers into responses."""
