"""The teaching dashboard: routes, event stream, control and bursts, and its static files."""
