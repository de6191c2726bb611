"""Lines the in-guest runner prints so the host knows where the guest is.

A module of its own: the guest side must not import what only the host needs."""

GUEST_START = "harness-guest: start"
GUEST_DONE = "harness-guest: pytest exit "
