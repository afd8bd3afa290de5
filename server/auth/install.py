"""Wire the auth component into a Litestar app: ``on_app_init=[install(AuthConfig(db=db, origin=...))]``.

Kept apart from ``server.auth.config`` (plain settings, imported by the middleware and the routes) so
that the modules of the package import each other in one direction only.
"""

from __future__ import annotations

from collections.abc import Callable

from litestar.config.app import AppConfig

from server.auth.config import STATE_KEY, AuthConfig
from server.auth.middleware import auth_middleware, csrf_middleware
from server.auth.routes import auth_router

__all__ = ["MIDDLEWARE", "install"]

# CSRF first: a forged request is refused before anyone looks up its session.
MIDDLEWARE = (csrf_middleware, auth_middleware)


def install(config: AuthConfig) -> Callable[[AppConfig], AppConfig]:
    """An ``on_app_init`` hook that stores ``config`` in ``app.state`` and adds the middleware and routes."""

    # The session cache learns of this server's own auth changes from the writer (session_cache.py).
    config.sessions.watch(config.db)

    def on_app_init(app_config: AppConfig) -> AppConfig:
        app_config.state[STATE_KEY] = config
        for mw in MIDDLEWARE:
            if mw not in app_config.middleware:
                app_config.middleware.append(mw)
        if auth_router not in app_config.route_handlers:
            app_config.route_handlers.append(auth_router)
        return app_config

    return on_app_init
