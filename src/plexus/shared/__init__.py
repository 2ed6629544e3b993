"""State the replicas of one deployment share through Redis or Valkey (platform.md 7): quota
counters for the limits (`redis_pool`) and targets' cooldowns (`cooldowns`), over one
connection that notices loss and recovery (`store`)."""
