"""Message definitions shared by the server, the host app and the web client."""
