"""What the tablet needs to keep answers safely while the network is away.

``/offline/key`` hands the logged-in team member's device the key that the
answer queue (``static/answer-queue.js``) encrypts its waiting saves with
(AES-GCM in the browser). The key is never stored on the device: the page
fetches it when it loads and keeps it in memory. It is derived on the server
from the application's secret, the user and their *session version*, so it
stays the same across page loads and a new login after an idle timeout (the
waiting answers can still be sent), and changes when the user logs out, their
password changes or an administrator ends their sessions: waiting saves
encrypted under the old key can then no longer be read by anyone. See
``docs/offline.md``.
"""

from __future__ import annotations

import base64
import hashlib
import hmac

from flask import Blueprint, current_app, jsonify
from flask_login import current_user, login_required

bp = Blueprint("offline", __name__)


def device_key(secret: str | bytes, user_id: int, session_version: int) -> bytes:
    """The 256-bit key for one user's waiting saves at one session version."""
    secret_bytes = secret.encode() if isinstance(secret, str) else secret
    message = f"formengine-offline-queue|{user_id}|{session_version}".encode()
    return hmac.new(secret_bytes, message, hashlib.sha256).digest()


@bp.route("/offline/key")
@login_required
def key():
    """The current device key (JSON, never cached); a key id lets the device tell keys apart."""
    raw = device_key(current_app.config["SECRET_KEY"], current_user.id, current_user.session_version or 0)
    key_id = hashlib.sha256(raw).hexdigest()[:16]
    return jsonify({"key": base64.b64encode(raw).decode(), "id": key_id})
