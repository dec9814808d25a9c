// Package service is the HTTP API of ageassure and the decision flow behind
// it: authenticate the tenant, decode and validate the signup signals, reduce
// them to derived values (whole-year age, keyed HMACs), evaluate the policy,
// and answer with a decision and a signed attestation.
//
// Identity data (birth dates, device and subject references, nonces) lives
// only in the memory of one request: nothing in this package logs, stores or
// labels a metric with it. The interfaces the service needs from the outside
// world (Signer, DeviceMemory) are declared here, at their consumer, and
// implemented in the adapters packages.
package service
