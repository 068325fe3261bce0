"""Templates keep to the site's Content-Security-Policy: no inline styles or scripts, no outside assets."""

import re
from pathlib import Path

import pytest

ROOT = Path(__file__).parents[1]
TEMPLATES = sorted([
    *ROOT.glob("formengine/templates/**/*.html"),
    *ROOT.glob("plugins/*/templates/**/*.html"),
])


@pytest.mark.parametrize("path", TEMPLATES, ids=lambda p: str(p.relative_to(ROOT)))
def test_template_needs_no_inline_style_or_script(path):
    html = path.read_text("utf-8")
    assert not re.search(r"\sstyle\s*=", html), "inline style attributes are refused by the CSP"
    assert not re.search(r"\son[a-z]+\s*=\s*[\"']", html), "inline event handlers are refused by the CSP"
    for tag in re.findall(r"<script\b[^>]*>", html):
        assert "src=" in tag, "inline scripts are refused by the CSP"
    assert not re.search(r"(src|href)=\"(https?:)?//", html), "no assets from other sites"
