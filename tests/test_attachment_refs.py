"""The one rule for what an attachment reference in the answers is: server.filing.attachment_names (what the
writer links and the console lists) and attachmentRefs in pwa/js/drafts.js (what the device uploads and
names), both run on tests/conformance/attachments.json (this file and tests/js/pwa-drafts.test.mjs)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from server.filing import attachment_names, attachment_refs

CASES: list[dict[str, Any]] = json.loads(
    (Path(__file__).parent / "conformance" / "attachments.json").read_text(encoding="utf-8"))["cases"]


@pytest.mark.parametrize("case", CASES, ids=[json.dumps(c["answers"])[:60] for c in CASES])
def test_attachment_refs_follow_the_shared_rule(case: dict[str, Any]) -> None:
    assert sorted(attachment_refs(case["answers"])) == case["refs"]
    assert sorted(attachment_names(case["answers"])) == case["refs"]
