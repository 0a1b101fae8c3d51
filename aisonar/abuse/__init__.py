"""Abuse detection (docs/abuse.md): signals computed off the hot path from what the
gateway already records (usage events' client addresses, refused keys counted per
address, failed sign-ins in the audit log), each that fires a finding (`models`,
`findings`) that the subject's people hear of and an operator or the organization's
admins review (`services`). `detection` runs the detectors (`sharing`, `attacks`) in
each server's background; `tallies` is the only part the hot path touches.

It may import the layers below it: `accounts`, `limits`, `billing`, `notify`,
`channels`, `audit` and the base. Used by `gateway` (the tally of refused keys), `app`,
the front ends and `cli`."""
