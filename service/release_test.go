package service

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/ageassure/ageassure/adapters/localcache"
	"github.com/ageassure/ageassure/adapters/rediscache"
	"github.com/ageassure/ageassure/adapters/verifier"
	"github.com/ageassure/ageassure/internal/redistest"
	"github.com/ageassure/ageassure/policy"
	"github.com/ageassure/ageassure/service/logentry"
)

// The verifier serve uses can give evidence uses back.
var _ EvidenceReleaser = (*verifier.Verifier)(nil)

const releaseReplayKey = "replay-key-for-the-service-tests-0123456789"

// watchedVerifier is the real verifier, reporting each release it is
// asked for; pause, if set, holds the first verification at a gate once it
// is done (its token spent).
type watchedVerifier struct {
	*verifier.Verifier
	released chan int // per Release call, how many items had a use spent
	pause    func(ctx context.Context)
	paused   atomic.Bool
}

func (w *watchedVerifier) Verify(ctx context.Context, items []policy.EvidenceItem, b policy.Binding, today policy.Date) []policy.Evidence {
	out := w.Verifier.Verify(ctx, items, b, today)
	if w.pause != nil && w.paused.CompareAndSwap(false, true) {
		w.pause(ctx)
	}
	return out
}

func (w *watchedVerifier) Release(ctx context.Context, evs []policy.Evidence) error {
	n := 0
	for _, e := range evs {
		if e.Spent != "" {
			n++
		}
	}
	err := w.Verifier.Release(ctx, evs)
	w.released <- n
	return err
}

// awaitRelease waits for the verifier to be given the check's evidence back.
func (w *watchedVerifier) awaitRelease(t *testing.T) {
	t.Helper()
	select {
	case n := <-w.released:
		if n != 1 {
			t.Fatalf("released %d spent items, want 1", n)
		}
	case <-time.After(5 * time.Second):
		// Go on: the retry shows what that costs.
		t.Error("the evidence of the withheld decision was never given back")
	}
}

// noRelease fails if anything was given back: a decision was issued.
func (w *watchedVerifier) noRelease(t *testing.T, after string) {
	t.Helper()
	select {
	case n := <-w.released:
		t.Errorf("%s: %d evidence uses given back", after, n)
	default:
	}
}

// releaseEnv is a service whose verifier, over p as an age estimation
// provider, keeps its replay state in replay (nil: in process) and is
// watched; configure may change the options further.
func releaseEnv(t *testing.T, p *provider, replay verifier.ReplayGuard, configure func(w *watchedVerifier, o *Options)) (*testEnv, *watchedVerifier) {
	t.Helper()
	ps, err := verifier.NewProviders([]verifier.Provider{p.config("age_estimation")})
	if err != nil {
		t.Fatal(err)
	}
	var w *watchedVerifier
	e := newTestEnvWith(t, func(e *testEnv, o *Options) {
		r := replay
		if r == nil {
			r = localcache.NewReplay(localcache.Options{Clock: e.clock.Now})
		}
		v, err := verifier.New(context.Background(), ps, verifier.Options{Replay: r, ReplayKey: []byte(releaseReplayKey), Clock: e.clock.Now})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(v.Close)
		w = &watchedVerifier{Verifier: v, released: make(chan int, 16)}
		o.Evidence = w
		if configure != nil {
			configure(w, o)
		}
	})
	return e, w
}

// flakyLog fails its first fails appends, then accepts.
type flakyLog struct{ fails atomic.Int32 }

func (l *flakyLog) Append(context.Context, *logentry.Entry) (uint64, bool, error) {
	if l.fails.Add(-1) >= 0 {
		return 0, false, errors.New("disk full")
	}
	return 0, false, nil
}

// stallingLog holds its first append until the request is cancelled.
type stallingLog struct {
	stalled atomic.Bool
	entered chan struct{}
}

func (l *stallingLog) Append(ctx context.Context, _ *logentry.Entry) (uint64, bool, error) {
	if l.stalled.CompareAndSwap(false, true) {
		l.entered <- struct{}{}
		<-ctx.Done()
		return 0, false, context.Cause(ctx)
	}
	return 0, false, nil
}

// flakySigner fails its first signature.
type flakySigner struct {
	Signer
	failed atomic.Bool
}

func (s *flakySigner) Sign(payload []byte) ([]byte, error) {
	if s.failed.CompareAndSwap(false, true) {
		return nil, errors.New("signing key unavailable")
	}
	return s.Signer.Sign(payload)
}

// TestWithheldDecisionGivesEvidenceBack: a check that verified a token
// and then issued no decision — the decision log down, no decision slot
// after verification, signing failed, the caller gone, the evidence budget
// spent before the result came — gives the token's single use back. The
// retry is decided with the token accepted, and the token is spent then:
// a third use is replayed. (Before, the withheld check spent the token and
// the retry the 503 invites found it replayed.)
func TestWithheldDecisionGivesEvidenceBack(t *testing.T) {
	type withholder func(t *testing.T, e *testEnv, body string) (status int, answer string)
	tests := []struct {
		name string
		// prepare returns how to configure the service, and how to send
		// the first check, which issues no decision (nil: post it); its
		// status is 0 when the caller gave up.
		prepare func(t *testing.T) (func(*watchedVerifier, *Options), withholder)
		status  int
		code    string
	}{
		{
			name: "decision log unavailable",
			prepare: func(*testing.T) (func(*watchedVerifier, *Options), withholder) {
				l := &flakyLog{}
				l.fails.Store(1)
				return func(_ *watchedVerifier, o *Options) { o.DecisionLog = l }, nil
			},
			status: http.StatusServiceUnavailable, code: CodeLogUnavailable,
		},
		{
			name: "signing failed",
			prepare: func(*testing.T) (func(*watchedVerifier, *Options), withholder) {
				return func(_ *watchedVerifier, o *Options) { o.Signer = &flakySigner{Signer: o.Signer} }, nil
			},
			status: http.StatusInternalServerError, code: CodeInternal,
		},
		{
			name: "no decision slot after verification",
			prepare: func(t *testing.T) (func(*watchedVerifier, *Options), withholder) {
				verified, held := newGate(), newGate()
				configure := func(w *watchedVerifier, o *Options) {
					w.pause = func(context.Context) { verified.wait() }
					o.MaxInFlight, o.QueueTimeout = 1, 50*time.Millisecond
					o.Devices = gatedDevices{held, o.Devices}
				}
				withhold := func(t *testing.T, e *testEnv, body string) (int, string) {
					// Registered after the server's Close, so they run first.
					t.Cleanup(verified.release)
					t.Cleanup(held.release)
					first := postAsync(t, e, body)
					verified.arrived(t, "the verification") // its token spent, no slot held
					holder := postAsync(t, e, slotCheck)
					held.arrived(t, "the check that takes the slot")
					verified.release() // the first check now waits for the slot, in vain
					r := receive(t, first)
					held.release()
					if h := receive(t, holder); h.status != http.StatusOK {
						t.Fatalf("the check holding the slot: status %d: %s", h.status, h.body)
					}
					return r.status, r.body
				}
				return configure, withhold
			},
			status: http.StatusServiceUnavailable, code: CodeOverloaded,
		},
		{
			name: "the caller gave up while the decision was being logged",
			prepare: func(*testing.T) (func(*watchedVerifier, *Options), withholder) {
				l := &stallingLog{entered: make(chan struct{}, 1)}
				withhold := func(t *testing.T, e *testEnv, body string) (int, string) {
					ctx, cancel := context.WithCancel(context.Background())
					defer cancel()
					req, _ := http.NewRequestWithContext(ctx, http.MethodPost, e.srv.URL+"/v1/age-checks", strings.NewReader(body))
					req.Header.Set("Authorization", "Bearer "+e.key)
					req.Header.Set("Content-Type", "application/json")
					done := make(chan error, 1)
					go func() {
						resp, err := e.srv.Client().Do(req)
						if err == nil {
							_, _ = io.Copy(io.Discard, resp.Body)
							resp.Body.Close()
						}
						done <- err
					}()
					select {
					case <-l.entered:
					case <-time.After(5 * time.Second):
						t.Fatal("the check never reached the log")
					}
					cancel()
					if err := <-done; err == nil {
						t.Fatal("the cancelled check was answered")
					}
					return 0, ""
				}
				return func(_ *watchedVerifier, o *Options) { o.DecisionLog = l }, withhold
			},
		},
		{
			name: "the evidence budget ran out before the result came",
			prepare: func(*testing.T) (func(*watchedVerifier, *Options), withholder) {
				return func(w *watchedVerifier, o *Options) {
					o.EvidenceBudget = 200 * time.Millisecond
					w.pause = func(ctx context.Context) { <-ctx.Done() } // the result comes late
				}, nil
			},
			status: http.StatusOK, // decided without the evidence, which was unverifiable
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			face := newProvider(t, "faceage")
			configure, withhold := tt.prepare(t)
			e, w := releaseEnv(t, face, nil, configure)
			body := checkWith("US", 25, "n-retry", signed("age_estimation", "faceage",
				face.token(t, map[string]any{"age_estimate": 25.0, "age_estimate_uncertainty": 1.5, "nonce": "n-retry"})))

			if withhold == nil {
				withhold = func(t *testing.T, e *testEnv, body string) (int, string) {
					resp, b := e.post(t, body)
					return resp.StatusCode, string(b)
				}
			}
			status, got := withhold(t, e, body)
			if status != tt.status {
				t.Fatalf("withheld check: status %d, want %d: %s", status, tt.status, got)
			}
			switch {
			case tt.code != "" && !strings.Contains(got, `"code":"`+tt.code+`"`):
				t.Fatalf("withheld check: %s, want code %s", got, tt.code)
			case status == http.StatusOK:
				if r := decodeResponse(t, []byte(got)); r.Evidence[0].Outcome != policy.OutcomeUnverifiable {
					t.Fatalf("late evidence was used: %+v", r.Evidence)
				}
			}
			w.awaitRelease(t)

			retry := decisionOf(t, e, body)
			if len(retry.Evidence) != 1 || !(retry.Evidence[0].Outcome == policy.OutcomeAccepted) || retry.Assurance.Level != AssuranceStandard {
				t.Fatalf("the retry: evidence %+v, assurance %s; want the token accepted", retry.Evidence, retry.Assurance.Level)
			}
			w.noRelease(t, "the retry was decided")
			third := decisionOf(t, e, body)
			if third.Evidence[0].Reason != verifier.ReasonReplayed {
				t.Errorf("the token a third time: %+v, want replayed", third.Evidence)
			}
			w.noRelease(t, "the third check was decided")
		})
	}
}

// TestWithheldDecisionGivesEvidenceBackAcrossReplicas: with the shared
// replay store, the use a withheld decision gives back is given back to
// every replica: the retry, answered by another replica, accepts the
// token, and a third use anywhere is replayed.
func TestWithheldDecisionGivesEvidenceBackAcrossReplicas(t *testing.T) {
	srv := redistest.New(t)
	face := newProvider(t, "faceage")
	var envs []*testEnv
	var watched []*watchedVerifier
	for i := range 2 {
		st, err := rediscache.New(context.Background(), rediscache.Config{URL: srv.URL, Prefix: srv.Prefix, Logger: slog.New(slog.DiscardHandler)})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = st.Close() })
		e, w := releaseEnv(t, face, st, func(_ *watchedVerifier, o *Options) {
			if i == 0 {
				l := &flakyLog{}
				l.fails.Store(1)
				o.DecisionLog = l
			}
		})
		envs, watched = append(envs, e), append(watched, w)
	}
	body := checkWith("GB", 25, "n-replicas", signed("age_estimation", "faceage",
		face.token(t, map[string]any{"age_estimate": 25.0, "age_estimate_uncertainty": 1.5, "nonce": "n-replicas"})))

	if resp, b := envs[0].post(t, body); resp.StatusCode != http.StatusServiceUnavailable || !strings.Contains(string(b), CodeLogUnavailable) {
		t.Fatalf("replica A with its log down: status %d: %s", resp.StatusCode, b)
	}
	watched[0].awaitRelease(t)
	if r := decisionOf(t, envs[1], body); r.Evidence[0].Outcome != policy.OutcomeAccepted {
		t.Fatalf("the retry on replica B: %+v, want accepted", r.Evidence)
	}
	for i, e := range envs {
		if r := decisionOf(t, e, body); r.Evidence[0].Reason != verifier.ReasonReplayed {
			t.Errorf("replica %d afterwards: %+v, want replayed", i, r.Evidence)
		}
		watched[i].noRelease(t, "decided")
	}
}
