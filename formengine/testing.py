"""The conformance kit: what a plugin's own tests call to prove it keeps the contract.

Typical use in a plugin's tests::

    import my_plugin
    from formengine.testing import check_plugin

    def test_conformance():
        check_plugin(my_plugin)

``check_plugin`` validates each definition, checks item ids, that scoring
returns every declared score, is deterministic and pure (no Flask, no
database), that the derived answer schema rejects bad input, and that every
known-answer vector in ``vectors.jsonl`` beside the plugin passes. Every
result it sees must also keep the declared ranges and band codes, and every
flag needs a readable message and, unless the core explains its code
(``CONVENTIONAL_FLAG_CODES``), a text in Danish and English in the
definition's ``flag_texts``.

The same checks are available as pytest fixtures without any import: the
``formengine`` distribution registers :mod:`formengine.pytest_plugin` under
the ``pytest11`` entry point (fixtures ``formengine_check_plugin``,
``formengine_vectors`` and ``formengine_wording_pack``).
"""

from __future__ import annotations

import contextlib
import json
import os
import re
from collections.abc import Iterator, Mapping
from pathlib import Path
from types import ModuleType
from typing import Any
from unittest import mock

from formengine.instruments import (
    CONVENTIONAL_FLAG_CODES,
    AnswerError,
    Definition,
    DefinitionError,
    Instrument,
    ScoreResult,
    ScoringContext,
)
from formengine.instruments.definition import iter_items
from formengine.instruments.instrument import ScoringError

ID_PATTERN = re.compile(r"^[a-z][a-z0-9_]{0,25}$")


class ConformanceError(AssertionError):
    """A plugin breaks the instrument contract; the message says where and how."""


def instruments_of(plugin: ModuleType | Any) -> list[Instrument]:
    """Call a plugin's ``formengine_instruments`` hook the way the core does."""
    hook = getattr(plugin, "formengine_instruments", None)
    if hook is None:
        raise ConformanceError(f"{plugin!r} has no formengine_instruments hook")
    instruments = list(hook() or [])
    for instrument in instruments:
        if not isinstance(instrument, Instrument):
            raise ConformanceError(f"formengine_instruments returned {instrument!r}, not an Instrument")
    return instruments


def load_vectors(path: str | Path) -> list[dict[str, Any]]:
    """Known-answer vectors, one JSON object per line::

        {"instrument": "who5", "answers": {...}, "expected": {"valid": true,
         "scores": {...}, "bands": {...}, "flags": ["prorated"]}, "note": "why"}

    ``instrument`` may be left out when the plugin has one instrument;
    ``options`` and ``norms`` (optional) go into the ScoringContext; ``expected.bands``
    and ``expected.flags`` (flag codes, any order) are compared exactly when given.
    """
    vectors = []
    for number, line in enumerate(Path(path).read_text("utf-8").splitlines(), start=1):
        if line.strip() and not line.lstrip().startswith("//"):
            try:
                vector = json.loads(line)
            except ValueError as exc:
                raise ConformanceError(f"{path}:{number}: not valid JSON ({exc})") from exc
            vector["_line"] = number
            vectors.append(vector)
    return vectors


@contextlib.contextmanager
def _no_flask_or_database() -> Iterator[None]:
    """Make any use of Flask's app context or a database session fail loudly."""

    def refuse(*_args: Any, **_kwargs: Any) -> None:
        raise ConformanceError("scoring must be pure: it touched the database")

    from flask import has_app_context

    if has_app_context():
        raise ConformanceError("run the conformance kit outside a Flask app context")
    with (
        mock.patch("sqlalchemy.create_engine", refuse),
        mock.patch("sqlalchemy.orm.Session.execute", refuse),
        mock.patch("sqlalchemy.engine.Connection.execute", refuse),
    ):
        yield


def _context(vector: Mapping[str, Any], instrument: Instrument) -> ScoringContext:
    """A vector's context: its norms, and its options over the declared settings' defaults."""
    options = {s.name: s.default for s in instrument.settings}
    options.update(vector.get("options") or {})
    return ScoringContext(norms=vector.get("norms"), options=options)


def default_context(instrument: Instrument) -> ScoringContext:
    """The context scoring gets where no municipality changed a setting: every declared default."""
    return ScoringContext(options={s.name: s.default for s in instrument.settings})


def _close(a: Any, b: Any) -> bool:
    if isinstance(a, (int, float)) and isinstance(b, (int, float)) and not isinstance(a, bool):
        return abs(a - b) < 1e-9
    return bool(a == b)


def check_vector(instrument: Instrument, vector: Mapping[str, Any], where: str = "") -> ScoreResult:
    """Score one known-answer vector and compare it with its expected result."""
    expected = vector["expected"]
    label = where or f"{instrument.id} vector"
    declared = {s.name: s for s in instrument.settings}
    for name, value in (vector.get("options") or {}).items():
        # Options are what an administrator can choose: a declared setting and one of its values.
        if name not in declared:
            raise ConformanceError(f"{label}: option {name!r} is not a declared setting of {instrument.id}")
        if not declared[name].accepts(value):
            raise ConformanceError(f"{label}: option {name}={value!r} is not one of its choices")
    if expected.get("error"):
        try:
            instrument.score_answers(vector["answers"], _context(vector, instrument))
        except AnswerError:
            return ScoreResult(valid=False, scores={})
        raise ConformanceError(f"{label}: expected the answers to be refused ({vector.get('note', '')})")
    result = instrument.score_answers(vector["answers"], _context(vector, instrument))
    problems = result_problems(instrument, result)
    if "valid" in expected and result.valid != expected["valid"]:
        problems.append(f"valid is {result.valid}, expected {expected['valid']}")
    for name, value in expected.get("scores", {}).items():
        if name not in result.scores or not _close(result.scores[name], value):
            problems.append(f"{name} is {result.scores.get(name)!r}, expected {value!r}")
    if "bands" in expected and result.bands != expected["bands"]:
        problems.append(f"bands are {result.bands}, expected {expected['bands']}")
    if "flags" in expected and sorted(result.flag_codes()) != sorted(expected["flags"]):
        problems.append(f"flags are {result.flag_codes()}, expected {expected['flags']}")
    if problems:
        note = f" ({vector['note']})" if vector.get("note") else ""
        raise ConformanceError(f"{label}{note}: " + "; ".join(problems))
    return result


def result_problems(instrument: Instrument, result: ScoreResult) -> list[str]:
    """Ways a result breaks its definition: undeclared or out-of-range scores or bands, bare flags."""
    problems = []
    for name, value in result.scores.items():
        spec = instrument.definition.score_spec(name)
        if spec is None:
            problems.append(f"score {name!r} is not declared in the definition")
            continue
        if value is None:
            continue
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            problems.append(f"score {name} is {value!r}, not a number or null")
        elif ("min" in spec and value < spec["min"]) or ("max" in spec and value > spec["max"]):
            problems.append(f"score {name} = {value} is outside {spec.get('min')}..{spec.get('max')}")
    for name, band in result.bands.items():
        spec = instrument.definition.score_spec(name)
        if spec is not None and "bands" in spec and band not in spec["bands"]:
            problems.append(f"band {band!r} of {name} is not one of {sorted(spec['bands'])}")
        if spec is not None and result.scores.get(name) is None:
            problems.append(f"{name} has a band but no value")
    flag_texts = instrument.definition.data.get("flag_texts", {})
    for flag in result.flags:
        if not flag.code or not flag.message.strip():
            problems.append(f"flag {flag.code!r} has no readable message")
        elif flag.code not in CONVENTIONAL_FLAG_CODES and flag.code not in flag_texts:
            # The team member reads a flag in their own language; the scoring's message is English
            # (the meta-schema makes every flag_texts entry Danish and English).
            problems.append(f"flag {flag.code!r} has no Danish and English text in the definition's "
                            "flag_texts")
    return problems


def check_instrument(instrument: Instrument, vectors: list[dict[str, Any]] | None = None,
                     min_vectors: int = 0) -> None:
    """Every contract check on one instrument (see the module docstring).

    ``min_vectors`` is the least number of known-answer vectors the instrument must ship.
    """
    definition = instrument.definition
    try:
        Definition(definition.data, definition.source)  # the meta-schema and cross-reference checks
    except DefinitionError as exc:
        raise ConformanceError(f"{instrument.id}: the definition does not validate: {exc}") from exc
    ids = [item["id"] for _, item in iter_items(definition.items)]
    for item_id in ids:
        if not ID_PATTERN.match(item_id):
            raise ConformanceError(f"{instrument.id}: item id {item_id!r} is not ASCII snake_case of <= 26")
    if len(set(ids)) != len(ids):
        raise ConformanceError(f"{instrument.id}: item ids are not unique")
    if not ID_PATTERN.match(instrument.id):
        raise ConformanceError(f"instrument id {instrument.id!r} is not ASCII snake_case of <= 26")
    if len(vectors or []) < min_vectors:
        raise ConformanceError(f"{instrument.id}: {len(vectors or [])} known-answer vectors, "
                               f"at least {min_vectors} required")

    # The derived answer schema refuses unknown items and out-of-range codes.
    try:
        definition.validate_answers({"zz_not_an_item": 1})
    except AnswerError:
        pass
    else:
        raise ConformanceError(f"{instrument.id}: an unknown item id was accepted")
    for item in definition.items:
        for bad in _bad_values(definition, item):
            try:
                definition.validate_answers({item["id"]: bad})
            except AnswerError:
                continue
            raise ConformanceError(f"{instrument.id}: {item['id']} accepted the value {bad!r}")

    samples: list[Mapping[str, Any]] = [{}]
    samples += [sample_answers(instrument, which) for which in ("first", "last", "mixed")]
    with _no_flask_or_database():
        for answers in samples:
            try:
                first = instrument.score_answers(answers, default_context(instrument))
            except AnswerError as exc:
                raise ConformanceError(f"{instrument.id}: a complete answer set was refused: {exc} "
                                       f"for {_show(answers)}") from exc
            except ScoringError as exc:
                raise ConformanceError(f"{instrument.id}: {exc} for {_show(answers)}") from exc
            except ConformanceError:
                raise
            except Exception as exc:  # noqa: BLE001 - the plugin's own bug, reported with its input
                raise ConformanceError(f"{instrument.id}: scoring raised {_short(exc)} "
                                       f"for {_show(answers)}") from exc
            problems = result_problems(instrument, first)
            if problems:
                raise ConformanceError(f"{instrument.id}: " + "; ".join(problems) + f" for {_show(answers)}")
            reordered = dict(reversed(list(answers.items())))
            again = instrument.score_answers(reordered, default_context(instrument))
            if again.to_dict() != first.to_dict():
                raise ConformanceError(f"{instrument.id}: scoring is not deterministic for {_show(answers)}")
        failures = []
        for vector in vectors or []:
            label = f"{instrument.id} vector line {vector['_line']}"
            try:
                result = check_vector(instrument, vector, label)
                if not vector["expected"].get("error"):
                    reordered = dict(reversed(list(vector["answers"].items())))
                    again = instrument.score_answers(reordered, _context(vector, instrument))
                    if again.to_dict() != result.to_dict():
                        raise ConformanceError(f"{label}: scoring is not deterministic")
            except ConformanceError as exc:
                failures.append(f"{exc} for {_show(vector['answers'])}")
            except Exception as exc:  # noqa: BLE001
                failures.append(f"{label}: scoring raised {_short(exc)} for {_show(vector['answers'])}")
        if failures:
            raise ConformanceError(f"{len(failures)} known-answer vector(s) failed:\n" + "\n".join(failures))


def _show(answers: Any) -> str:
    return json.dumps(answers, ensure_ascii=False, sort_keys=True, default=str)


def _short(exc: BaseException) -> str:
    text = str(exc).strip()
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__


def _bad_values(definition: Definition, item: Mapping[str, Any]) -> list[Any]:
    """Values the derived answer schema must refuse for ``item``."""
    kind = item.get("type", "choice")
    if kind == "choice":
        return [_impossible_code(definition.scale_options(item))]
    if kind == "boolean":
        return ["yes", 2]
    if kind == "text":
        return [12, "x" * (item["max_length"] + 1)]
    if kind == "number":
        bad: list[Any] = ["7"]
        if "max" in item:
            bad.append(item["max"] + 1)
        if "min" in item:
            bad.append(item["min"] - 1)
        return bad
    if kind == "date":
        return ["2024-13-40"]
    return []


def _impossible_code(options: list[dict[str, Any]]) -> Any:
    codes = [o["code"] for o in options]
    if all(isinstance(c, int) for c in codes):
        return max(codes) + 1
    return "zz_not_a_code"


def sample_answers(instrument: Instrument, which: str = "first") -> dict[str, Any]:
    """A complete answer set: every top-level item answered with its first (or last) possible value.

    ``which="mixed"`` alternates first and last from item to item (so order
    dependence shows). Text items get a short text, so conditions such as
    ``required_if`` are met.
    """
    definition = instrument.definition
    answers: dict[str, Any] = {}
    for index, item in enumerate(definition.items):
        end = ("first" if index % 2 == 0 else "last") if which == "mixed" else which
        value = _sample_value(definition, item, end)
        if value is not None:
            answers[item["id"]] = value
    return answers


def _sample_value(definition: Definition, item: Mapping[str, Any], end: str) -> Any:
    """The first or last possible value of one item (None for groups)."""
    kind = item.get("type", "choice")
    if kind == "choice":
        options = definition.scale_options(item)
        return (options[0] if end == "first" else options[-1])["code"]
    if kind == "boolean":
        return end != "first"
    if kind == "text":
        return "sample"[: item["max_length"]]
    if kind == "number":
        bound = item.get("min", 0) if end == "first" else item.get("max", item.get("min", 0))
        return int(bound) if item.get("integer") else bound
    if kind == "date":
        return "2024-01-31"
    return None


def _first_options(instrument: Instrument) -> dict[str, Any]:
    return sample_answers(instrument, "first")


def _last_options(instrument: Instrument) -> dict[str, Any]:
    return sample_answers(instrument, "last")


def check_plugin(plugin: ModuleType, vectors_file: str | Path | None = None,
                 *, min_vectors: int = 0) -> list[Instrument]:
    """Run every conformance check on a plugin module and its ``vectors.jsonl``.

    The plugin is first registered the way the application loads it (hook
    names and argument names, ``@hookimpl`` on every ``formengine_*``
    function, ``REQUIRES_API``, duplicate instrument ids), so every mistake
    the loader refuses fails here too, with the loader's reason. Every
    failing known-answer vector is reported, each with its answers.

    ``min_vectors`` is the least number of vectors each instrument must ship
    (the bundled plugins ask for 15). Returns the plugin's instruments so a
    test can go on with them.
    """
    from formengine.plugins import PluginRegistry

    # Register it exactly as the application's loader does, so the kit refuses what the loader refuses.
    name = getattr(plugin, "__name__", None) or type(plugin).__name__
    registry = PluginRegistry()
    if not registry.add(plugin, name, "formengine.testing.check_plugin"):
        raise ConformanceError(f"{name}: the loader refuses this plugin:\n"
                               + "\n".join(f"  {p.reason}" for p in registry.failed))
    instruments = [registry.instruments[i] for i in registry.loaded[0].instruments]
    if not instruments:
        raise ConformanceError(f"{name}: no instruments")
    if vectors_file is None:
        if plugin.__file__ is None:
            raise ConformanceError(f"{plugin.__name__} has no file beside which to find vectors.jsonl")
        vectors_file = Path(plugin.__file__).with_name("vectors.jsonl")
    vectors = load_vectors(vectors_file) if Path(vectors_file).exists() else []
    single = instruments[0].id if len(instruments) == 1 else None
    for instrument in instruments:
        own = [v for v in vectors if v.get("instrument", single) == instrument.id]
        check_instrument(instrument, own, min_vectors=min_vectors)
    named = {v["instrument"] for v in vectors if v.get("instrument") is not None}
    unknown = named - {i.id for i in instruments}
    if unknown:
        raise ConformanceError(f"vectors name unknown instruments: {sorted(unknown)}")
    return instruments


# -- database helpers for tests ------------------------------------------------

def database_urls_for_tests(sqlite_path: str | Path) -> list[str]:
    """SQLite always; PostgreSQL too when FORMENGINE_TEST_DATABASE_URL is set."""
    urls = [f"sqlite:///{sqlite_path}"]
    extra = os.environ.get("FORMENGINE_TEST_DATABASE_URL")
    if extra:
        urls.append(extra)
    return urls


def reset_database(engine: Any) -> None:
    """Empty every formengine table (keeps the schema) and restart its ids at 1, on SQLite and PostgreSQL.

    Row-by-row DELETE, children first: on the few rows a test leaves behind it is
    several times faster than PostgreSQL's TRUNCATE, which rewrites every table.
    Tables whose rows refuse DELETE (the append-only audit trail's trigger) are
    truncated instead.
    Tests run one after another, so on PostgreSQL a session still idle in a
    transaction belongs to an earlier test (e.g. a streamed download the test
    never read to the end); it is ended so it cannot block the reset.
    """
    import gc

    from sqlalchemy import text

    from formengine.models import Base

    gc.collect()  # closes unreferenced response generators and their cursors
    tables = [t.name for t in reversed(Base.metadata.sorted_tables)]
    with engine.begin() as conn:
        postgresql = engine.dialect.name == "postgresql"
        if postgresql:
            conn.execute(text(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                "WHERE datname = current_database() AND pid <> pg_backend_pid() "
                "AND state LIKE 'idle in transaction%'"
            ))
            # A lock still held by something else fails the test clearly instead of hanging.
            conn.execute(text("SET LOCAL lock_timeout = '60s'"))
            guarded = set(conn.execute(text(
                "SELECT DISTINCT event_object_table FROM information_schema.triggers "
                "WHERE event_object_schema = current_schema() AND event_manipulation = 'DELETE'"
            )).scalars()) & set(tables)
            if guarded:
                quoted = ", ".join(f'"{t}"' for t in sorted(guarded))
                conn.execute(text(f"TRUNCATE TABLE {quoted} RESTART IDENTITY"))
            tables = [t for t in tables if t not in guarded]
        # SQLite: the audit trail's triggers refuse DELETE; lift them for the reset and put them back.
        triggers = [] if postgresql else conn.execute(text(
            "SELECT name, sql FROM sqlite_master WHERE type = 'trigger'")).all()
        for name, _sql in triggers:
            conn.execute(text(f'DROP TRIGGER "{name}"'))
        for table in tables:
            conn.execute(text(f'DELETE FROM "{table}"'))
        for _name, sql in triggers:
            conn.execute(text(sql))
        if postgresql:
            conn.execute(text(
                "SELECT setval(pg_get_serial_sequence(quote_ident(c.table_name), c.column_name), 1, false) "
                "FROM information_schema.columns c WHERE c.table_schema = current_schema() "
                "AND c.table_name = ANY(:tables) "
                "AND pg_get_serial_sequence(quote_ident(c.table_name), c.column_name) IS NOT NULL"
            ), {"tables": tables})
        elif conn.execute(text("SELECT 1 FROM sqlite_master WHERE name = 'sqlite_sequence'")).first():
            conn.execute(text("DELETE FROM sqlite_sequence"))
        # An empty trail starts its hash chain afresh, as a new database does.
        from formengine.audit import GENESIS

        conn.execute(text("INSERT INTO audit_chain (id, last_hash, events) VALUES (1, :h, 0)"),
                     {"h": GENESIS})


# -- property-test helpers (need hypothesis, which is in the "test" extra) ---------

def complete_required(instrument: Instrument, answers: Mapping[str, Any]) -> dict[str, Any]:
    """``answers`` plus a sample value for every item whose ``required_if`` now holds but is unanswered."""
    definition = instrument.definition
    filled = dict(answers)
    sample = sample_answers(instrument, "first")
    for item in definition.items:
        if item["id"] not in filled and "required_if" in item and definition.is_required(item, filled):
            filled[item["id"]] = sample[item["id"]]
    return filled


def answer_sets(instrument: Instrument) -> Any:
    """A hypothesis strategy of valid answer sets for ``instrument``: any subset of items, any codes.

    Items that become required through ``required_if`` are filled in, so every
    drawn set passes the derived answer schema (missing answers stay missing).
    """
    from hypothesis import strategies as st

    definition = instrument.definition
    optional: dict[str, Any] = {}
    for item in definition.items:
        kind = item.get("type", "choice")
        if kind == "choice":
            optional[item["id"]] = st.sampled_from([o["code"] for o in definition.scale_options(item)])
        elif kind == "boolean":
            optional[item["id"]] = st.booleans()
        elif kind == "text":
            size = min(20, item["max_length"])
            optional[item["id"]] = st.text(alphabet="abcæøå ", min_size=1, max_size=size).filter(str.strip)
        elif kind == "number" and item.get("integer"):
            optional[item["id"]] = st.integers(item.get("min", -1000), item.get("max", 1000))
    return st.fixed_dictionaries({}, optional=optional).map(lambda a: complete_required(instrument, a))
