// Package logentry defines the decision-log entry: the one record of an age
// check that ageassure keeps, appended to a public transparency log.
//
// It is shared by the producer (the service), the auditors' tools (`ageassure
// audit`) and replay (a later `policy simulate`), so all three agree on one
// byte-exact encoding and one schema.
//
// An entry holds enough to replay a decision through another policy and
// nothing more: no birth date, no device or subject reference, no nonce, no
// free text. Every string field is checked against a closed pattern or enum
// by [Entry.Validate], so a field cannot carry identity data even by mistake.
//
// The encoding is canonical JSON in the sense of RFC 8785 (JCS): members
// sorted by name, no insignificant whitespace, strings escaped minimally,
// numbers in their shortest ECMAScript form. The schema is fixed, so
// [Entry.Marshal] is a hand-written encoder that writes members in sorted
// order rather than a generic JCS library; [Parse] accepts only bytes that
// [Entry.Marshal] would produce, so one entry has exactly one encoding and
// its hash in the log is unambiguous.
package logentry
