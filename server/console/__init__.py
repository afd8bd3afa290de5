"""The staff review console: server-rendered Japanese pages (jinja2, autoescaped, no inline script/style)."""

from server.console.routes import console_router

__all__ = ["console_router"]
