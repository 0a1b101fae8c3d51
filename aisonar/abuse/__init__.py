"""Abuse detection (docs/abuse.md): signals computed off the hot path from what the
gateway already records (usage events' client addresses and models, the rollups, refused
keys counted per address, failed sign-ins and sign-ups in the audit log), each that
fires a finding (`models`, `findings`) that the subject's people hear of and an operator
or the organization's admins review (`services`). `detection` runs the detectors
(`sharing`, `attacks`, `velocity`, `expensive`, `sign_ups`) in each server's background;
`tallies` is the only part the hot path touches.

It may import the layers below it (`analytics`, `usage`, `accounts`, `billing`,
`notify`, `audit` and the base, among others). Used by `gateway` (the tally of refused
keys), `app`, the front ends and `cli`."""
