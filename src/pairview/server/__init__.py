"""The Pairview server: rooms, signaling, the web client and ICE configuration."""
