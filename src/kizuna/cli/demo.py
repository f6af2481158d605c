"""``kizuna demo``: a realistic Japanese SaaS company in the configured store."""
