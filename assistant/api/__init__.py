"""The HTTP API: request bodies, access, routes, request limits, the connectors (OpenAI-compatible
chat, MCP), and the server that mounts the web app on the API."""
