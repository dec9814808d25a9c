package service

import (
	"testing"
	"time"

	"github.com/google/uuid"
)

// TestDecisionIDRevealsSecondsOnly: a decision id is a valid UUIDv7 whose
// timestamp is the decision's second, whatever the milliseconds, and two
// ids made in the same second are unrelated.
func TestDecisionIDRevealsSecondsOnly(t *testing.T) {
	at := time.Date(2026, 12, 5, 1, 2, 3, 0, time.UTC)
	seen := map[string]bool{}
	for _, ms := range []time.Duration{0, 1, 499, 999} {
		id, err := newDecisionID(at.Add(ms * time.Millisecond).Truncate(time.Second))
		if err != nil {
			t.Fatal(err)
		}
		u, err := uuid.Parse(id)
		if err != nil || u.Version() != 7 || u.Variant() != uuid.RFC4122 {
			t.Fatalf("%s: version %d, variant %v, %v", id, u.Version(), u.Variant(), err)
		}
		if sec, nsec := u.Time().UnixTime(); sec != at.Unix() || nsec != 0 {
			t.Errorf("%s: time %d.%09d, want %d.000000000", id, sec, nsec, at.Unix())
		}
		if seen[id] {
			t.Errorf("id %s repeated", id)
		}
		seen[id] = true
	}
}

// TestServedIDsHideMilliseconds: ids the service hands out carry no
// milliseconds, even when the clock has them.
func TestServedIDsHideMilliseconds(t *testing.T) {
	e := newTestEnv(t)
	e.clock.Advance(737 * time.Millisecond)
	r := decisionOf(t, e, `{"jurisdiction":"DE","declared":{"age":25}}`)
	u, err := uuid.Parse(r.DecisionID)
	if err != nil {
		t.Fatal(err)
	}
	if _, nsec := u.Time().UnixTime(); nsec != 0 {
		t.Errorf("decision id %s carries %d ns below the second", r.DecisionID, nsec)
	}
}
