package decisionlog

import (
	"context"
	"crypto/rand"
	"fmt"
	"github.com/transparency-dev/tessera/api"
	"io"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"golang.org/x/mod/sumdb/note"

	"github.com/ageassure/ageassure/service/logentry"
)

// quiet discards the logs of the log under test.
var quiet = slog.New(slog.NewTextHandler(io.Discard, nil))

// testEntry returns a valid entry, distinct for each i.
func testEntry(i int) *logentry.Entry {
	decisions := logentry.Decisions()
	age := 10 + i%12
	return &logentry.Entry{
		V:                 logentry.Version,
		DecisionID:        fmt.Sprintf("019ac1c4-5d2e-7c4b-9a51-%012x", i),
		Time:              logentry.FormatTime(time.Date(2026, 11, 24+i%3, 12, 0, i%60, 0, time.UTC)),
		Tenant:            "acme-social",
		Jurisdiction:      []string{"DE", "GB", "US-UT", "AU"}[i%4],
		Stage:             logentry.StageSignup,
		Age:               age,
		Band:              bandOf(age),
		Signals:           map[string]float64{logentry.SignalUnderageLikelihood: logentry.QuantizeScore(float64(i%100) / 100)},
		Evidence:          []logentry.EvidenceOutcome{{Type: logentry.EvidenceSelfDeclaration, Outcome: logentry.OutcomeAccepted}},
		Decision:          decisions[i%len(decisions)],
		Rules:             []string{"de.minimum-age"},
		Assurance:         logentry.Assurance{Level: logentry.AssuranceAsserted, Methods: []string{logentry.EvidenceSelfDeclaration}},
		Policy:            logentry.Policy{ID: "ageassure-builtin", Hash: "sha256:" + strings.Repeat("ab", 32)},
		AttestationSHA256: logentry.AttestationDigest([]byte(fmt.Sprint("token", i))),
	}
}

func bandOf(age int) string {
	switch {
	case age < 13:
		return logentry.BandUnder13
	case age < 16:
		return logentry.Band13To15
	case age < 18:
		return logentry.Band16To17
	}
	return logentry.Band18Plus
}

// testOptions are fast settings for tests: the shortest checkpoint interval
// POSIX allows, so Close does not wait long.
func testOptions(dir string) Options {
	return Options{Dir: dir, CheckpointInterval: 100 * time.Millisecond, BatchMaxAge: time.Millisecond, Logger: quiet}
}

func openLog(t testing.TB, opts Options) *Log {
	t.Helper()
	l, err := Open(context.Background(), opts)
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	// Registered after the caller's TempDir, so it runs before the folder
	// is removed: a test that fails early must not leave Tessera writing
	// into a deleted folder (it panics). Close is idempotent.
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		_ = l.Close(ctx)
	})
	return l
}

func closeLog(t testing.TB, l *Log) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := l.Close(ctx); err != nil {
		t.Fatalf("Close: %v", err)
	}
}

// appendN appends entries [from, from+n) concurrently and returns their
// indices by entry number.
func appendN(t testing.TB, l *Log, from, n int) map[int]uint64 {
	t.Helper()
	var mu sync.Mutex
	got := make(map[int]uint64, n)
	var wg sync.WaitGroup
	sem := make(chan struct{}, 32)
	for i := from; i < from+n; i++ {
		wg.Add(1)
		sem <- struct{}{}
		go func() {
			defer wg.Done()
			defer func() { <-sem }()
			idx, known, err := l.Append(context.Background(), testEntry(i))
			if err != nil {
				t.Errorf("Append(%d): %v", i, err)
				return
			}
			if known {
				mu.Lock()
				got[i] = idx
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	return got
}

// fixture is a log built in two sessions (200 entries, then 100 more),
// with the checkpoint after each session.
type fixture struct {
	dir      string
	verifier note.Verifier
	vkey     string
	cp200    []byte
	cp300    []byte
}

var (
	fixtureOnce sync.Once
	fixtureVal  fixture
	fixtureErr  error
)

// sharedFixture builds the fixture once per test binary; tests copy it
// before changing anything.
func sharedFixture(t *testing.T) fixture {
	t.Helper()
	fixtureOnce.Do(func() {
		dir, err := os.MkdirTemp("", "decisionlog-fixture-")
		if err != nil {
			fixtureErr = err
			return
		}
		fixtureVal.dir = dir
		l := openLog(t, testOptions(dir))
		appendN(t, l, 0, 200)
		closeLog(t, l)
		fixtureVal.cp200, fixtureErr = os.ReadFile(filepath.Join(dir, "checkpoint"))
		if fixtureErr != nil {
			return
		}
		l = openLog(t, testOptions(dir))
		appendN(t, l, 200, 100)
		fixtureVal.vkey = l.VerifierKey()
		closeLog(t, l)
		fixtureVal.cp300, fixtureErr = os.ReadFile(filepath.Join(dir, "checkpoint"))
		if fixtureErr != nil {
			return
		}
		fixtureVal.verifier, fixtureErr = note.NewVerifier(fixtureVal.vkey)
	})
	if fixtureErr != nil {
		t.Fatalf("fixture: %v", fixtureErr)
	}
	return fixtureVal
}

// copyDir copies the fixture so a test can tamper with it.
func copyDir(t *testing.T, src string) string {
	t.Helper()
	dst := t.TempDir()
	err := filepath.WalkDir(src, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(src, p)
		target := filepath.Join(dst, rel)
		if d.IsDir() {
			return os.MkdirAll(target, 0o755)
		}
		b, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		info, _ := d.Info()
		return os.WriteFile(target, b, info.Mode().Perm())
	})
	if err != nil {
		t.Fatal(err)
	}
	return dst
}

func TestMain(m *testing.M) {
	if os.Getenv(crashChildEnv) != "" {
		crashChild()
		return
	}
	code := m.Run()
	if fixtureVal.dir != "" {
		os.RemoveAll(fixtureVal.dir)
	}
	os.Exit(code)
}

func cryptoRand() io.Reader { return rand.Reader }

// parseBundle splits a tlog-tiles entry bundle.
func parseBundle(b []byte) ([][]byte, error) {
	var eb api.EntryBundle
	err := eb.UnmarshalText(b)
	return eb.Entries, err
}
