"""Visdom: the metrics engine, our client of its HTTP API, and a server that starts offline."""
