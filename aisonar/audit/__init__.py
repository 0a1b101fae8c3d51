"""The audit log: who did what, to which object, when, from where, and what changed (the
`audit_log` table, `models`). `services` appends an entry in the transaction of the change
it describes, never updates one, and says who reads which part (operators every entry, an
organization's admins their organization's).

It sits at the bottom of the domain packages and imports only the base (`store`,
`errors`, `clock`, `i18n`). Every domain package above it records its changes here; the
front ends read it, and `exports` streams it out."""
