"""Issue 7: tests that name the hole they close."""
