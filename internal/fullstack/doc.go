// Package fullstack holds the full-stack test suite (issue 13): the real
// `ageassure serve` binary run as platforms run it — replicas sharing one
// real redis-server, a cache secret, signing keys, a tenants file and a
// providers file whose JWKS the test serves — driven over HTTP, and then
// audited as a regulator would: `ageassure audit verify` and
// `ageassure policy simulate` over every replica's decision log, and a
// search of Redis, the logs and the servers' output for the identity data
// the tests sent.
//
// The package has no code of its own; everything is in its _test.go files.
// See README.md, "Testing", "Full-stack suite".
package fullstack
