package service

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/ageassure/ageassure/policy"
	"github.com/ageassure/ageassure/service/logentry"
)

// gate blocks whoever calls wait until it is opened, and reports each
// arrival on entered.
type gate struct {
	entered chan struct{}
	open    chan struct{}
	once    sync.Once
}

// newGate returns a closed gate.
func newGate() *gate {
	return &gate{entered: make(chan struct{}, 16), open: make(chan struct{})}
}

// release opens the gate; later calls do nothing.
func (g *gate) release() { g.once.Do(func() { close(g.open) }) }

func (g *gate) wait() {
	g.entered <- struct{}{}
	<-g.open
}

func (g *gate) arrived(t *testing.T, what string) {
	t.Helper()
	select {
	case <-g.entered:
	case <-time.After(5 * time.Second):
		t.Fatalf("%s never arrived", what)
	}
}

// gatedLog holds every append at its gate.
type gatedLog struct{ *gate }

func (l gatedLog) Append(context.Context, *logentry.Entry) (uint64, bool, error) {
	l.wait()
	return 7, true, nil
}

// gatedDevices holds every declared-age read at its gate: work done while
// a check holds its in-flight slot.
type gatedDevices struct {
	*gate
	DeviceMemory
}

func (d gatedDevices) LowestDeclaredAge(ctx context.Context, key string) (int, bool, error) {
	d.wait()
	return d.DeviceMemory.LowestDeclaredAge(ctx, key)
}

// holdSlot installs gatedDevices: a check with a device_ref (slotCheck)
// then holds its slot at the gate.
func holdSlot(g *gate) func(*Options) {
	return func(o *Options) { o.Devices = gatedDevices{g, o.Devices} }
}

// slotCheck is a check that holds its slot at a holdSlot gate.
const slotCheck = `{"jurisdiction":"DE","declared":{"age":20},"context":{"device_ref":"held"}}`

// gatedVerifier holds every verification at its gate: a provider that
// does not answer.
type gatedVerifier struct{ *gate }

func (v gatedVerifier) Verify(_ context.Context, items []policy.EvidenceItem, _ policy.Binding, _ policy.Date) []policy.Evidence {
	v.wait()
	out := make([]policy.Evidence, len(items))
	for i, it := range items {
		out[i] = policy.Evidence{Type: it.Type, Provider: it.Provider, Outcome: policy.OutcomeUnverifiable, Reason: "evidence_unverifiable"}
	}
	return out
}

type postResult struct {
	status int
	header http.Header
	body   string
}

func postAsync(t *testing.T, e *testEnv, body string) <-chan postResult {
	out := make(chan postResult, 1)
	go func() {
		req, _ := http.NewRequest(http.MethodPost, e.srv.URL+"/v1/age-checks", strings.NewReader(body))
		req.Header.Set("Authorization", "Bearer "+e.key)
		req.Header.Set("Content-Type", "application/json")
		resp, err := e.srv.Client().Do(req)
		if err != nil {
			t.Error(err)
			out <- postResult{}
			return
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		out <- postResult{resp.StatusCode, resp.Header, string(b)}
	}()
	return out
}

func receive(t *testing.T, ch <-chan postResult) postResult {
	t.Helper()
	select {
	case r := <-ch:
		return r
	case <-time.After(5 * time.Second):
		t.Fatal("no answer")
		return postResult{}
	}
}

// newOneSlotEnv builds a test service with one in-flight slot and the
// given queue timeout; install puts g where checks are to block.
func newOneSlotEnv(t *testing.T, g *gate, queueTimeout time.Duration, install func(*Options)) *testEnv {
	t.Helper()
	e := newTestEnvWith(t, func(_ *testEnv, o *Options) {
		o.MaxInFlight, o.QueueTimeout = 1, queueTimeout
		install(o)
	})
	// Registered after the server's Close, so it runs first: a failing
	// test must not leave requests blocked and Close waiting for them.
	t.Cleanup(g.release)
	return e
}

const evidenceCheck = `{"jurisdiction":"DE","declared":{"age":20},"evidence":[{"type":"age_estimation","provider":"p","token":"x.y.z"}],"context":{"nonce":"n"}}`

// TestAdmissionQueuesAndRefuses: with every slot held, a check waits its
// turn for up to the queue timeout and is then refused with 503 overloaded
// (Retry-After, counted, nothing decided); once the slot is free, checks
// are decided again.
func TestAdmissionQueuesAndRefuses(t *testing.T) {
	g := newGate()
	e := newOneSlotEnv(t, g, 50*time.Millisecond, holdSlot(g))
	holder := postAsync(t, e, slotCheck)
	g.arrived(t, "the first check")

	resp, body := e.post(t, `{"jurisdiction":"DE","declared":{"age":20}}`)
	if resp.StatusCode != http.StatusServiceUnavailable || resp.Header.Get("Retry-After") != "1" {
		t.Fatalf("while the slot is held: status %d, Retry-After %q", resp.StatusCode, resp.Header.Get("Retry-After"))
	}
	if !strings.Contains(string(body), `"code":"`+CodeOverloaded+`"`) || strings.Contains(string(body), "attestation") {
		t.Errorf("body %s", body)
	}
	if got := metricValue(t, e, "ageassure_overloaded_total"); got != "1" {
		t.Errorf("overloaded metric = %q, want 1", got)
	}

	// A check that arrives while the slot is held, and gets it within the
	// timeout, is decided.
	e2 := postAsync(t, e, `{"jurisdiction":"DE","declared":{"age":20}}`)
	time.Sleep(10 * time.Millisecond)
	g.release()
	if r := receive(t, holder); r.status != http.StatusOK {
		t.Fatalf("the first check: status %d: %s", r.status, r.body)
	}
	if r := receive(t, e2); r.status != http.StatusOK {
		t.Fatalf("the queued check: status %d: %s", r.status, r.body)
	}
	if resp, body := e.post(t, `{"jurisdiction":"DE","declared":{"age":20}}`); resp.StatusCode != http.StatusOK {
		t.Fatalf("after the slot was freed: status %d: %s", resp.StatusCode, body)
	}
}

// TestAdmissionFreesSlotBeforeLog: a check gives its slot back before it
// waits for the decision log, so checks waiting for one log batch never
// keep others from being decided.
func TestAdmissionFreesSlotBeforeLog(t *testing.T) {
	g := newGate()
	e := newOneSlotEnv(t, g, 10*time.Second, func(o *Options) { o.DecisionLog = gatedLog{g} })
	first := postAsync(t, e, `{"jurisdiction":"DE","declared":{"age":20}}`)
	g.arrived(t, "the first check at the log")
	second := postAsync(t, e, `{"jurisdiction":"GB","declared":{"age":30}}`)
	g.arrived(t, "the second check at the log") // only possible if the slot was freed
	g.release()
	for _, ch := range []<-chan postResult{first, second} {
		if r := receive(t, ch); r.status != http.StatusOK {
			t.Errorf("status %d: %s", r.status, r.body)
		}
	}
}

// TestEvidenceHoldsNoSlot: checks waiting on providers that do not answer
// keep no decision slot, so other tenants' plain checks are decided
// meanwhile; each waits at most the evidence budget, then its evidence
// counts as absent and it is answered. Items are verified concurrently
// under one budget per check, not one budget per item.
func TestEvidenceHoldsNoSlot(t *testing.T) {
	g := newGate()
	const budget = 300 * time.Millisecond
	e := newOneSlotEnv(t, g, 50*time.Millisecond, func(o *Options) {
		o.Evidence = gatedVerifier{g}
		o.EvidenceBudget = budget
	})
	three := `{"jurisdiction":"DE","declared":{"age":20},"evidence":[` +
		`{"type":"age_estimation","provider":"p","token":"x.y.z"},{"type":"id_document","provider":"q","token":"x.y.z"},` +
		`{"type":"parental_consent","provider":"r","token":"x.y.z"}],"context":{"nonce":"n"}}`
	var waiting []<-chan postResult
	for range 4 {
		waiting = append(waiting, postAsync(t, e, three))
	}
	for i := range 4 * 3 { // every item of every check is at a provider at once
		g.arrived(t, fmt.Sprintf("evidence item %d", i))
	}
	start := time.Now()
	if resp, body := e.post(t, `{"jurisdiction":"GB","declared":{"age":30}}`); resp.StatusCode != http.StatusOK {
		t.Fatalf("a plain check while evidence waits: status %d: %s", resp.StatusCode, body)
	}
	if waited := time.Since(start); waited >= budget {
		t.Logf("the plain check took %s (slow machine?)", waited)
	}
	for _, ch := range waiting {
		r := receive(t, ch)
		if r.status != http.StatusOK {
			t.Fatalf("check with hanging evidence: status %d: %s", r.status, r.body)
		}
		resp := decodeResponse(t, []byte(r.body))
		if len(resp.Evidence) != 3 {
			t.Fatalf("evidence results %+v", resp.Evidence)
		}
		for _, ev := range resp.Evidence {
			if ev.Outcome != policy.OutcomeUnverifiable || ev.Provider == "" {
				t.Errorf("evidence past the budget: %+v", ev)
			}
		}
	}
}

func TestAdmissionOptions(t *testing.T) {
	for _, tc := range []struct {
		name string
		set  func(*Options)
	}{
		{"negative max in flight", func(o *Options) { o.MaxInFlight = -1 }},
		{"negative queue timeout", func(o *Options) { o.QueueTimeout = -time.Second }},
		{"negative evidence budget", func(o *Options) { o.EvidenceBudget = -time.Second }},
		{"negative max evidence in flight", func(o *Options) { o.MaxEvidenceInFlight = -1 }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var err error
			newTestEnvWith(t, func(_ *testEnv, o *Options) {
				valid := *o
				tc.set(o)
				_, err = New(*o)
				*o = valid
			})
			if err == nil {
				t.Fatal("New accepted it")
			}
		})
	}
}
