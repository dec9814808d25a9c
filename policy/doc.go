// Package policy decides what an age check means in a jurisdiction.
//
// A policy is data: effective-dated, cited jurisdiction packs (minimum and
// digital-consent ages, timezone) plus rules written as CEL expressions and
// obligations attached to age bands. Laws change on known dates (Denmark
// raised its digital age of consent on 2024-01-01; Australia introduced a
// social-media minimum age on 2025-12-10; courts enjoin statutes), so those
// changes are edits to YAML files, not code, and every decision names the
// rules that produced it and the hash of the policy that contained them.
//
// Policies are compiled once, at load time ([Load], [LoadFS], [Builtin]);
// a loaded [*Policy] is immutable and safe for concurrent use, and
// [Policy.Evaluate] never fails: anything unexpected degrades to
// [AdditionalVerificationRequired]. The file format is described in the README, "Policy files".
package policy
