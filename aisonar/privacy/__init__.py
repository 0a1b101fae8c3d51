"""Privacy: account deletion, from the request (`requests`) and its decision (`deciding`)
to the erasure (`erasure`), the job that runs it (`erasure_job`) and making erased bytes
unreadable (`storage`); the versioned policies and their acknowledgements (`policies`,
`acknowledgements`), consents (`consents`), the cookie policy (`cookies`) and sign-up
(`sign_up`); `services` is what the front ends call. It owns the `deletion_requests`,
`policies`, `policy_acknowledgements` and `consents` tables.

It may import the layers below it: `exports`, `support`, `observability`, `usage`,
`accounts`, `limits`, `billing`, `notify`, `channels`, `audit` and the base. Used by
`analytics` (consents), `web`, the front ends and `app`."""
