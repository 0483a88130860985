"""Checks scripts/fuzz.sh adds to schemathesis' own (loaded through SCHEMATHESIS_HOOKS)."""

import schemathesis

# Chat import and export bodies are JSON Lines: text, sent as it is.
schemathesis.serializer.alias("application/x-ndjson", "text/plain")


def _needs_credentials(case) -> bool:
    """True when every way the operation's `security` allows carries a credential."""
    security = case.operation.definition.raw.get("security") or []
    return bool(security) and all(requirement for requirement in security)


@schemathesis.check
def auth_is_never_bypassed(ctx, response, case):
    """Without credentials, an operation that needs them answers 401 and nothing else (404
    only for a path no route matches, e.g. an empty id)."""
    if not _needs_credentials(case) or case.method.upper() != case.operation.method.upper():
        # Public, or a probe with a method the route does not have (405 is right there).
        return None
    if response.status_code not in (401, 404):
        raise AssertionError(
            f"{case.method} {case.formatted_path} answered {response.status_code} "
            "to a request without credentials"
        )
    return None
