"""Analytics: what the usage rollups add up to (`summary`: totals, breakdowns, series), and
the site's own page views (the `site_page_views` table), counted as aggregates with consent
(`tracking`, `user_agents`, `page_views`) and read by operators (`site_reports`).
`services` is what the front ends call, page views' throttle included.

It may import the layers below it: `privacy`, `exports`, `support`, `observability`,
`usage`, `accounts`, `limits`, `billing`, `notify`, `channels`, `audit` and the base (it
uses `usage`, privacy's consents and billing's money). Used by `alerts`, the front ends
(`api`, `console`, `cli`) and `app`."""
