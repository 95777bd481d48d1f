"""Pairview: self-hosted, peer-to-peer screen sharing and remote control."""

__version__ = "0.1.0"
