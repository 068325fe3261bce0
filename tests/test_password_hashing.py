"""Password hashing: the strong argon2 profile everywhere except an app configured for testing."""

from argon2 import extract_parameters, profiles

from formengine import create_app
from formengine.db import get_db
from formengine.security import hash_secret, verify_secret


def test_a_production_app_hashes_with_the_strong_profile(database_url, tmp_path, monkeypatch):
    monkeypatch.delenv("FORMENGINE_TESTING", raising=False)
    app = create_app({"INSTANCE_PATH": str(tmp_path / "instance"), "DATABASE_URL": database_url})
    try:
        assert not app.testing
        with app.app_context():
            stored = hash_secret("long-enough-1")
        assert extract_parameters(stored) == profiles.RFC_9106_LOW_MEMORY
        assert extract_parameters(stored).memory_cost >= 65536
        with app.app_context():
            assert verify_secret(stored, "long-enough-1") and not verify_secret(stored, "long-enough-2")
    finally:
        get_db(app).engine.dispose()


def test_outside_any_app_the_strong_profile_is_used():
    assert extract_parameters(hash_secret("1234")) == profiles.RFC_9106_LOW_MEMORY


def test_only_a_testing_app_uses_the_cheapest_parameters_and_its_hashes_still_verify(app):
    with app.app_context():
        cheap = hash_secret("demo")
    assert extract_parameters(cheap) == profiles.CHEAPEST
    assert verify_secret(cheap, "demo") and not verify_secret(cheap, "demx")
