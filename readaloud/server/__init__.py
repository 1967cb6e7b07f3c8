"""The daemon's API: HTTP on loopback (token required) and the same app on a Unix socket."""
