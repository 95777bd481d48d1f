"""The host app: captures the screen and serves it to each guest over WebRTC."""
