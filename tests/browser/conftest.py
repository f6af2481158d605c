"""What every browser test shares."""

from __future__ import annotations

from playwright.sync_api import expect

# A CI machine is slower than a developer's: Swagger UI's 1.5 MB bundle once took more than
# expect()'s default 5 s to render the reference there, with the other worker busy. A check
# that waits longer still fails when the thing never appears; it only stops failing on time.
expect.set_options(timeout=20_000)
