"""Visdom: the metrics engine, our client of its HTTP API, and a server that starts offline."""

# The environment variables that hold the login, read by the server (--enable-login) and
# by the engine's client alike. Never a command-line option: argv is visible to every user.
USERNAME_VARIABLE = "VISDOM_USERNAME"
PASSWORD_VARIABLE = "VISDOM_PASSWORD"
# The server's cookie secret, when login cookies must outlive a restart (else a fresh one).
COOKIE_VARIABLE = "VISDOM_COOKIE"
