"""Analytics: what the usage rollups add up to (`summary`), and the site's own page views,
counted as aggregates with consent (`tracking`, `user_agents`, `page_views`) and read by
operators (`site_reports`). Imports domain packages below it (usage, privacy's consents,
billing's money), never the front ends."""
