// Package rediscache is the shared, two-tier store of ageassure's derived
// state: the anti-hopping device memory, a generic byte cache (cached
// decisions, subject records), replay protection and per-tenant rate limits.
//
// Each operation goes to an in-process tier (adapters/localcache, otter) and
// to Redis, the truth shared by every replica. Redis sits behind a circuit
// breaker with a short per-operation timeout: when Redis is slow or down,
// calls fail fast, the breaker opens after a few consecutive failures, and
// every operation answers from the in-process tier without an error (replay
// checks excepted: they report ErrDegraded so the caller can decide). A
// background probe closes the breaker once Redis answers again.
//
// Concurrent calls share pipelines, and a call that gives up while queued
// for one is not a failure of Redis: a busy Redis that answers every
// pipeline, only late for the callers queued behind others, does not open
// the breaker. A hung Redis (stopped, or cut off with its connections left
// open) answers nothing at all, and that is what the Store watches for:
// when a round trip waits out its whole Timeout while Redis answers no
// other, the probe pings Redis, and each ping that also times out, with
// still no answer to anything, counts as a failure. So a hung Redis opens
// the breaker within about ConsecutiveFailures × Timeout (half a second by
// default) at any load; an answered ping ends the check and counts
// nothing.
//
// ReadBatch and WriteBatch do several device and cache operations in one
// pipelined round trip (one operation for the breaker and the metrics), so
// a request that needs several values waits for Redis once, not once per
// value. On Redis Cluster the pipeline is split by slot, sent to each
// master in parallel; no MULTI is involved, so keys need not share a slot.
//
// Nothing stored identifies a person. Keys are the caller's keyed HMACs
// (hex), checked like localcache checks them, under a fixed prefix and
// namespace:
//
//	<prefix>dev:<hmac>         lowest declared whole-year age, decimal, PX window
//	<prefix><ns>:<hmac>        a caller-encoded value (e.g. ns "dc", "sub"), PX ttl
//	<prefix>rp:[<ns>:]<hmac>   "1", PX ttl: a one-time value was used (ns "ev": an evidence token)
//	rate:<prefix>rl:<tenant>   GCRA state (redis_rate adds the "rate:" prefix)
//
// Values are stored exactly as given.
package rediscache
