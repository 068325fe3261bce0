"""Background jobs: long work (rescoring) runs in a huey worker, never inside a web request.

huey is a small, well-kept task queue with storage for both of our databases:

- on the embedded SQLite default, its SQLite storage (Python's own ``sqlite3``)
  in ``instance/jobs.sqlite3`` — nothing extra to install or run but
  ``formengine worker``;
- on PostgreSQL, its SQL storage (through peewee and the psycopg driver the
  app already uses; ``pip install formengine[postgres]``), in the same
  database unless ``JOBS_DATABASE_URL`` names another (its tables are
  ``kv``, ``schedule`` and ``task``, so a separate schema or database is tidier).

``JOBS_BACKEND`` chooses: ``"auto"`` (by the database URL), ``"sqlite"``,
``"sql"``, or ``"immediate"`` (run each job at once, in the caller: tests and
one-off scripts). Every job also records its own state in the database
(:class:`~formengine.models.RescoreRun`), so pages read progress from there and
an interrupted job can be resumed; huey only carries "run job N".
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from flask import Flask
from sqlalchemy.engine import make_url

EXTENSION_KEY = "formengine.jobs"


@dataclass
class Jobs:
    """One app's queue and its tasks."""

    huey: Any
    rescore: Any  # huey task: rescore(run_id)


def jobs(app: Flask) -> Jobs:
    """The app's job queue, built on first use."""
    from formengine.registry import cached_extension

    return cached_extension(app, EXTENSION_KEY, lambda: _build(app))


def huey_for(app: Flask) -> Any:
    """A huey instance for ``app``'s configuration (see the module docstring)."""
    import huey

    backend = app.config.get("JOBS_BACKEND") or "auto"
    url = app.config.get("JOBS_DATABASE_URL") or app.config["DATABASE_URL"]
    if backend == "auto":
        backend = "immediate" if app.config.get("TESTING") else (
            "sqlite" if make_url(url).get_backend_name() == "sqlite" else "sql")
    if backend == "immediate":
        return huey.MemoryHuey("formengine", immediate=True)
    if backend == "sqlite":
        return huey.SqliteHuey("formengine", filename=str(Path(app.instance_path) / "jobs.sqlite3"))
    if backend == "sql":
        from huey.contrib.sql_huey import SqlHuey

        return SqlHuey("formengine", database=_peewee_url(url))
    raise ValueError(f"JOBS_BACKEND {backend!r} is not one of auto, sqlite, sql, immediate")


def _peewee_url(url: str) -> str:
    """peewee's URL for a PostgreSQL database given as an SQLAlchemy URL (psycopg 3 driver)."""
    parsed = make_url(url)
    if parsed.get_backend_name() != "postgresql":
        raise ValueError("the SQL job storage is for PostgreSQL; SQLite uses JOBS_BACKEND=sqlite")
    return parsed.set(drivername="psycopg3").render_as_string(hide_password=False)


def _build(app: Flask) -> Jobs:
    queue = huey_for(app)

    @queue.task(name="rescore")
    def rescore(run_id: int) -> None:
        from formengine.rescore_service import run_rescore_job

        with app.app_context():
            run_rescore_job(app, run_id)

    return Jobs(huey=queue, rescore=rescore)


def run_worker(app: Flask, workers: int = 1) -> None:
    """Run the job worker until interrupted (``formengine worker``)."""
    consumer = jobs(app).huey.create_consumer(workers=workers, worker_type="thread")
    consumer.run()
