"""Injecting a remote guest's pointer and keyboard input into the host's desktop."""
