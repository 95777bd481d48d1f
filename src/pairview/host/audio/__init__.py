"""Audio on the host: its microphone and system sound out, guests' voices in and on."""
