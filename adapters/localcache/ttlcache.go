package localcache

import (
	"time"

	"github.com/maypok86/otter/v2"
)

// newTTLCache builds the bounded otter cache every store here sits on: at
// most opts.MaxEntries entries (DefaultMaxEntries when unset), each reclaimed
// at the deadline (Unix nanoseconds on now) that deadlineOf reads from its
// value, and otter following opts.Clock so tests can move time.
func newTTLCache[V any](opts Options, now func() time.Time, deadlineOf func(V) int64) *otter.Cache[string, V] {
	size := opts.MaxEntries
	if size <= 0 {
		size = DefaultMaxEntries
	}
	o := &otter.Options[string, V]{
		MaximumSize: size,
		ExpiryCalculator: otter.ExpiryWritingFunc(func(e otter.Entry[string, V]) time.Duration {
			return time.Duration(deadlineOf(e.Value) - now().UnixNano())
		}),
	}
	if opts.Clock != nil {
		o.Clock = clockAdapter{now}
	}
	// New fails only on inconsistent options, which are fixed above.
	return otter.Must(o)
}

// clockOf returns opts.Clock, or time.Now when it is unset.
func clockOf(opts Options) func() time.Time {
	if opts.Clock != nil {
		return opts.Clock
	}
	return time.Now
}
