"""Red-team suite: each attack on the sharing rules and the tenant boundary, run through HTTP
against a real server, asserting that it now fails."""
