"""Webhooks: a team's subscriptions to terminal task events, the outbox rows written in the
transaction that ends a task, and the worker that delivers them (signed twice, retried for more
than a day, through an outbound policy that refuses private addresses). See docs/webhooks.md."""
