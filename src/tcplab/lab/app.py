"""The lab's web server (Flask): the page, its static files, and a small JSON API.

    GET /                         the page (lab.html, lab.js, lab.css: no CDN, no network)
    GET /api/stories              the ``tcplab demo`` stories
    GET /api/state?QUERY          the session QUERY describes (see ``tcplab.lab.session``)
    GET /api/diagram.svg          RFC 9293's state diagram (the page lights it up)
    GET /api/capture.pcapng?QUERY what the session sent, for Wireshark (comments on the fates)
    GET /api/trace.jsonl?QUERY    the session's events, JSON Lines

A query that cannot be played answers 400 with ``{"error": "..."}`` (the page shows it); the
server goes on serving. ``create_app()`` makes the application; ``tcplab lab`` serves it on
127.0.0.1.
"""

from __future__ import annotations

from typing import Any

from flask import Flask, Response, jsonify, request, send_from_directory

from tcplab.lab.session import Recipe, RecipeError
from tcplab.lab.view import Sessions, describe

__all__ = ["create_app"]


def _recipe() -> Recipe:
    query: dict[str, Any] = {key: request.args.getlist(key) for key in request.args}
    unknown = set(query) - {"story", "seed", "at", "a"}
    if unknown:
        raise RecipeError(f"unknown parameter(s): {', '.join(sorted(unknown))} (story, seed, at, a)")
    return Recipe.from_query(query)


def create_app(sessions: Sessions | None = None) -> Flask:
    app = Flask(__name__, static_folder="static", static_url_path="/static")
    app.json.sort_keys = False  # type: ignore[attr-defined]
    store = sessions if sessions is not None else Sessions()

    @app.errorhandler(RecipeError)
    def bad_recipe(exc: RecipeError) -> tuple[Response, int]:
        return jsonify(error=str(exc)), 400

    @app.errorhandler(404)
    def not_found(exc: Any) -> tuple[Response, int]:
        return jsonify(error=f"no such page: {request.path}"), 404

    @app.errorhandler(405)
    def not_allowed(exc: Any) -> tuple[Response, int]:
        return jsonify(error=f"{request.method} is not allowed on {request.path}"), 405

    @app.errorhandler(Exception)
    def internal(exc: Exception) -> tuple[Response, int]:  # a bug: say so, keep serving
        app.logger.exception("lab request failed")
        return jsonify(error=f"internal error: {type(exc).__name__}: {exc}"), 500

    @app.get("/")
    def page() -> Response:
        return send_from_directory(app.static_folder or "static", "lab.html")

    @app.get("/api/stories")
    def stories() -> Response:
        from tcplab.scenarios import SCENARIOS

        return jsonify([{"name": sc.name, "description": sc.description} for sc in SCENARIOS.values()])

    @app.get("/api/state")
    def state() -> Response:
        recipe = _recipe()
        session = store.get(recipe)
        return jsonify(describe(session, store.total(recipe)))

    @app.get("/api/diagram.svg")
    def diagram() -> Response:
        from tcplab.trace.diagram import render_state_diagram_svg

        return Response(render_state_diagram_svg(None), mimetype="image/svg+xml")

    @app.get("/api/capture.pcapng")
    def capture() -> Response:
        session = store.get(_recipe())
        return Response(session.capture(), mimetype="application/octet-stream",
                        headers={"Content-Disposition": "attachment; filename=tcplab-lab.pcapng"})  # fmt: skip

    @app.get("/api/trace.jsonl")
    def trace() -> Response:
        from tcplab.trace.events import EPOCH, clock_event, dumps

        session = store.get(_recipe())
        body = "".join(dumps(e) + "\n" for e in [clock_event(EPOCH, "simulator"), *session.events])
        return Response(body, mimetype="application/x-ndjson",
                        headers={"Content-Disposition": "attachment; filename=tcplab-lab.jsonl"})  # fmt: skip

    return app
