package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/ageassure/ageassure/adapters/decisionlog"
	"github.com/ageassure/ageassure/policy"
	"github.com/ageassure/ageassure/service"
	"github.com/ageassure/ageassure/service/logentry"
)

// simTestEntry is a valid, varied log entry whose decision is what p
// decides for it: jurisdictions with and without packs, ages 9 to 38, risk
// signals, device history, parental consent and verified age ranges.
func simTestEntry(t testing.TB, p *policy.Policy, i int) *logentry.Entry {
	jurs := []string{"DE", "FR", "GB", "US-UT", "AU", "DK", "HR", "BR", "US", "IE"}
	e := &logentry.Entry{
		V:                 logentry.Version,
		DecisionID:        fmt.Sprintf("019ac1c4-0000-7000-8000-%012x", i),
		Time:              logentry.FormatTime(time.Date(2026, 11, 1+i%25, 8+i%12, 30, 0, 0, time.UTC)),
		Tenant:            "acme-social",
		Jurisdiction:      jurs[i%len(jurs)],
		Stage:             logentry.StageSignup,
		Age:               9 + (i*7)%30,
		Signals:           map[string]float64{},
		Evidence:          []logentry.EvidenceOutcome{{Type: logentry.EvidenceSelfDeclaration, Outcome: logentry.OutcomeAccepted}},
		Assurance:         logentry.Assurance{Level: logentry.AssuranceAsserted, Methods: []string{logentry.EvidenceSelfDeclaration}},
		Policy:            logentry.Policy{ID: p.ID(), Hash: p.Hash()},
		AttestationSHA256: logentry.AttestationDigest([]byte(fmt.Sprint("jws", i))),
	}
	if i%7 == 0 {
		e.Signals[logentry.SignalUnderageLikelihood] = 0.85
	}
	if i%11 == 0 {
		e.Signals[logentry.SignalUserReports] = 3
	} else if i%11 == 5 {
		e.Signals[logentry.SignalUserReports] = 2
	}
	if i%13 == 0 {
		h := 10
		e.DeviceHistory = &h
	}
	if i%17 == 0 {
		e.Evidence = append(e.Evidence, logentry.EvidenceOutcome{Type: logentry.EvidenceParentalConsent, Outcome: logentry.OutcomeAccepted})
		e.Assurance.Methods = []string{logentry.EvidenceParentalConsent, logentry.EvidenceSelfDeclaration}
	}
	if i%19 == 0 {
		e.AgeRange = &logentry.AgeRange{Min: 18, Max: 150}
		e.Evidence = append(e.Evidence, logentry.EvidenceOutcome{Type: logentry.EvidenceIDDocument, Outcome: logentry.OutcomeAccepted})
		e.Assurance = logentry.Assurance{Level: logentry.AssuranceEnhanced, Methods: []string{logentry.EvidenceIDDocument, logentry.EvidenceSelfDeclaration}}
	}
	if i%23 == 0 {
		e.Stage = logentry.StageReassessment
	}
	e.Decision = logentry.DecisionAllow // replaced below by what p decides
	b, err := e.Marshal()
	if err != nil {
		t.Fatal(err)
	}
	re, ok := (&replayer{}).decode(b)
	if !ok {
		t.Fatalf("entry %d does not decode: %s", i, b)
	}
	in, err := service.ReplayInput(re)
	if err != nil {
		t.Fatalf("entry %d: %v", i, err)
	}
	r := p.Evaluate(in)
	e.Decision, e.Band = string(r.Decision), string(r.Band)
	for _, reason := range r.Reasons {
		e.Rules = append(e.Rules, reason.Rule)
	}
	if err := e.Validate(); err != nil {
		t.Fatalf("entry %d: %v", i, err)
	}
	return e
}

// candidatePolicy writes a copy of the shipped policy with edits applied
// (file → old → new) and returns its folder.
func candidatePolicy(t testing.TB, edits map[string][2]string) string {
	t.Helper()
	dir := t.TempDir()
	files, err := filepath.Glob(filepath.Join("policy", "packs", "*.yaml"))
	if err != nil || len(files) == 0 {
		t.Fatalf("packs: %v", err)
	}
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		if e, ok := edits[filepath.Base(f)]; ok {
			if !strings.Contains(string(b), e[0]) {
				t.Fatalf("%s has no %q", f, e[0])
			}
			b = []byte(strings.Replace(string(b), e[0], e[1], 1))
		}
		if err := os.WriteFile(filepath.Join(dir, filepath.Base(f)), b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

// TestPolicySimulate replays a real log (built with the decision log
// adapter, in async mode) through the shipped policy (nothing changes) and
// through a candidate that lowers the user-reports threshold and
// Germany's consent age (exactly the decisions those edits touch change).
func TestPolicySimulate(t *testing.T) {
	const n = 700 // more than two entry bundles
	p, err := policy.Builtin()
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	l, err := decisionlog.Open(context.Background(), decisionlog.Options{Dir: dir, Async: true,
		CheckpointInterval: 100 * time.Millisecond, BatchMaxAge: time.Millisecond,
		Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	if err != nil {
		t.Fatal(err)
	}
	entries := make([]*logentry.Entry, n)
	for i := range n {
		entries[i] = simTestEntry(t, p, i)
		if _, _, err := l.Append(context.Background(), entries[i]); err != nil {
			t.Fatal(err)
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	if err := l.Close(ctx); err != nil {
		t.Fatal(err)
	}
	vkey := l.VerifierKey()

	code, out, errs := runPolicy(t, "simulate", "--candidate", "builtin", "--log", dir, "--key", vkey)
	if code != 0 || !strings.Contains(out, fmt.Sprintf("replayed             %10d", n)) || !strings.Contains(out, "no decision would change") ||
		!strings.Contains(out, "checkpoint verified") {
		t.Fatalf("simulate builtin = %d\n%s%s", code, out, errs)
	}

	cand := candidatePolicy(t, map[string][2]string{
		"policy.yaml": {"user_reports_threshold: 3", "user_reports_threshold: 2"},
		"eu-eea.yaml": {"        consent_age: 16\n        legal_status: in_force\n        citation: \"GDPR Art. 8(1); no derogation\"",
			"        consent_age: 15\n        legal_status: in_force\n        citation: \"GDPR Art. 8(1); no derogation\""},
	})
	q, err := policy.Load(cand)
	if err != nil {
		t.Fatal(err)
	}
	// The expected changes, computed entry by entry.
	want := map[string]int{}
	wantChanged := 0
	for _, e := range entries {
		b, _ := e.Marshal()
		re, _ := (&replayer{}).decode(b)
		in, _ := service.ReplayInput(re)
		if got := string(q.Evaluate(in).Decision); got != e.Decision {
			want[fmt.Sprintf("%s|%s|%s|%s", e.Jurisdiction, e.Band, e.Decision, got)]++
			wantChanged++
		}
	}
	if wantChanged == 0 {
		t.Fatal("the candidate changes nothing: the test proves nothing")
	}
	code, out, errs = runPolicy(t, "simulate", "--candidate", cand, "--log", dir, "--key", vkey, "--format", "json")
	if code != 0 {
		t.Fatalf("simulate candidate = %d\n%s%s", code, out, errs)
	}
	var sim struct {
		Entries, Replayed, Changed, Unchanged uint64
		Changes                               []simChange
		Candidate                             policy.PolicyRef
	}
	if err := json.Unmarshal([]byte(out), &sim); err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	if sim.Entries != n || sim.Replayed != n || sim.Changed != uint64(wantChanged) || sim.Unchanged != uint64(n-wantChanged) || sim.Candidate.Hash != q.Hash() {
		t.Errorf("totals %+v, want %d changed of %d", sim, wantChanged, n)
	}
	got := map[string]int{}
	for i, c := range sim.Changes {
		got[fmt.Sprintf("%s|%s|%s|%s", c.Jurisdiction, c.Band, c.From, c.To)] = int(c.Count)
		if i > 0 && c.Count > sim.Changes[i-1].Count {
			t.Errorf("changes not sorted by count: %+v", sim.Changes)
		}
	}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("changes\n got %v\nwant %v", got, want)
	}

	// The table form, a day filter, strict parsing, and no key.
	code, out, errs = runPolicy(t, "simulate", "--candidate", cand, "--log", dir, "--from", "2026-11-02", "--to", "2026-11-02", "--strict-entries")
	if code != 0 || !strings.Contains(out, "outside --from/--to") || !strings.Contains(out, "by jurisdiction and band") ||
		!strings.Contains(errs, "signature was not checked") {
		t.Errorf("simulate --from/--to = %d\n%s%s", code, out, errs)
	}
	for _, args := range [][]string{
		{"simulate", "--log", dir},
		{"simulate", "--candidate", "builtin"},
		{"simulate", "--candidate", "builtin", "--log", dir, "--from", "yesterday"},
		{"simulate", "--candidate", "builtin", "--log", dir, "stray"},
	} {
		if code, _, _ := runPolicy(t, args...); code != 2 {
			t.Errorf("%v = %d, want 2", args, code)
		}
	}
	otherKey := "other.example/log+6c9f1d8c+AXCpvM3uZC1ZGWs5rGyo5RDmE6jvzXwHc4bYo0nqEXYz"
	if code, _, errs := runPolicy(t, "simulate", "--candidate", "builtin", "--log", dir, "--key", otherKey); code != 1 && code != 2 {
		t.Errorf("wrong key = %d: %s", code, errs)
	}
}

// BenchmarkSimulate measures the replay core (decode, rebuild the input,
// evaluate, count) on b.N in-memory entries across GOMAXPROCS workers, as
// simulate runs it; entries/s is the throughput. Reading the log's
// bundles is not included (see the README for an end-to-end figure).
func BenchmarkSimulate(b *testing.B) {
	benchSimulate(b, false)
}

// BenchmarkSimulateStrict is BenchmarkSimulate with --strict-entries.
func BenchmarkSimulateStrict(b *testing.B) {
	benchSimulate(b, true)
}

func benchSimulate(b *testing.B, strict bool) {
	p, err := policy.Builtin()
	if err != nil {
		b.Fatal(err)
	}
	const distinct = 4096
	pool := make([][]byte, distinct)
	for i := range pool {
		pool[i], err = simTestEntry(b, p, i).Marshal()
		if err != nil {
			b.Fatal(err)
		}
	}
	r := newReplayer(p, "", "", strict)
	b.ReportAllocs()
	b.ResetTimer()
	batches := make(chan [][]byte, 8)
	go func() {
		for i := 0; i < b.N; i += replayBatchSize {
			batch := make([][]byte, 0, replayBatchSize)
			for j := i; j < min(i+replayBatchSize, b.N); j++ {
				batch = append(batch, pool[j%distinct])
			}
			batches <- batch
		}
		close(batches)
	}()
	acc := r.replayParallel(batches)
	b.StopTimer()
	if acc.Replayed != uint64(b.N) || acc.Changed != 0 {
		b.Fatalf("replayed %d of %d, %d changed", acc.Replayed, b.N, acc.Changed)
	}
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "entries/s")
}

// TestSimulateLargeLog is the end-to-end measurement behind the README's
// figure: it builds a log of $AGEASSURE_TEST_SIM_ENTRIES entries (e.g.
// 1000000; about 0.7 GB in a temporary folder) and times `policy simulate`
// on it. Skipped unless that variable is set: it is a benchmark, not a
// test to run on every change.
//
//	AGEASSURE_TEST_SIM_ENTRIES=1000000 go test -run SimulateLargeLog -v -timeout 30m .
func TestSimulateLargeLog(t *testing.T) {
	n, err := strconv.Atoi(os.Getenv("AGEASSURE_TEST_SIM_ENTRIES"))
	if err != nil || n <= 0 {
		t.Skip("set AGEASSURE_TEST_SIM_ENTRIES to the number of entries to build and replay")
	}
	p, err := policy.Builtin()
	if err != nil {
		t.Fatal(err)
	}
	const distinct = 4096
	pool := make([]*logentry.Entry, distinct)
	for i := range pool {
		pool[i] = simTestEntry(t, p, i)
	}
	dir := t.TempDir()
	l, err := decisionlog.Open(context.Background(), decisionlog.Options{Dir: dir, BatchMaxSize: 1024, BatchMaxAge: 50 * time.Millisecond,
		CheckpointInterval: time.Second, Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	if err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	var wg sync.WaitGroup
	var failed atomic.Int64
	const writers = 2048
	for w := range writers {
		wg.Go(func() {
			for i := w; i < n; i += writers {
				e := *pool[i%distinct]
				e.DecisionID = fmt.Sprintf("019ac1c4-0000-7000-8000-%012x", i)
				if _, _, err := l.Append(context.Background(), &e); err != nil {
					failed.Add(1)
				}
			}
		})
	}
	wg.Wait()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	if err := l.Close(ctx); err != nil || failed.Load() > 0 {
		t.Fatalf("close: %v; %d appends failed", err, failed.Load())
	}
	t.Logf("built a log of %d entries in %v", n, time.Since(start).Round(time.Millisecond))
	for _, strict := range []bool{false, true} {
		args := []string{"simulate", "--candidate", "builtin", "--log", dir, "--key", l.VerifierKey()}
		if strict {
			args = append(args, "--strict-entries")
		}
		start = time.Now()
		code, out, errs := runPolicy(t, args...)
		elapsed := time.Since(start)
		if code != 0 || !strings.Contains(out, fmt.Sprintf("replayed             %10d", n)) {
			t.Fatalf("simulate = %d\n%s%s", code, out, errs)
		}
		t.Logf("policy simulate (strict entries: %v) replayed %d entries in %v: %.0f entries/s", strict, n, elapsed.Round(time.Millisecond), float64(n)/elapsed.Seconds())
	}
}
