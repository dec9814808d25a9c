package policy

import (
	"embed"

	// The shipped policy names IANA timezones; embedding the database makes
	// Builtin work in minimal container images without /usr/share/zoneinfo.
	_ "time/tzdata"
)

// packs holds the shipped policy. It is read-only data compiled into the
// binary, so the service always has a policy even with no files deployed.
//
//go:embed packs
var packs embed.FS

// Builtin returns the shipped policy (policy/packs/*.yaml, embedded). Each
// call compiles a fresh, independent *Policy; callers keep the one they use.
func Builtin() (*Policy, error) {
	return LoadFS(packs, "packs")
}
