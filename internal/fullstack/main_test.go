package fullstack

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"
)

// binary is the ageassure command built once for the whole suite, without
// the race detector: it runs as subprocesses, as platforms run it.
// AGEASSURE_FULLSTACK_BINARY names another build to test instead.
var binary string

func TestMain(m *testing.M) {
	os.Exit(run(m))
}

func run(m *testing.M) int {
	// A given binary (a release, another build) instead of this tree's.
	if b := os.Getenv("AGEASSURE_FULLSTACK_BINARY"); b != "" {
		binary = b
		return m.Run()
	}
	dir, err := os.MkdirTemp("", "ageassure-fullstack-")
	if err != nil {
		fmt.Fprintf(os.Stderr, "fullstack: %v\n", err)
		return 1
	}
	defer os.RemoveAll(dir)
	binary = filepath.Join(dir, "ageassure")
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, "go", "build", "-o", binary, "github.com/ageassure/ageassure")
	if out, err := cmd.CombinedOutput(); err != nil {
		fmt.Fprintf(os.Stderr, "fullstack: go build: %v\n%s", err, out)
		return 1
	}
	return m.Run()
}

// knownBugs are the bugs other engineers are fixing while this suite was
// written. A subtest that fails only because of one of them calls knownBug
// with its number, so the rest of the suite stays green; each call site
// checks the bug's exact symptom first, and the calls go when the fixes
// land.
var knownBugs = map[int]string{
	1: "with --redis no signed evidence is accepted (replay key namespace)",
	2: "re-used assurance makes later checks 503 decision_log_unavailable (method reused_assurance refused by the log entry schema)",
	3: "consent hopping at the consent age passes",
	4: "policy simulate over the log reports changes (the log entry loses the OS range etc.)",
	6: "digital_credential without provider is a 400; platform_age_range upper 0 is refused",
	7: "policy test as_of time zone",
	8: "log origin defaults",
}

// knownBug skips t because of the known bugs numbered; detail says what
// was seen. A test that already failed for another reason stays failed.
func knownBug(t testing.TB, detail string, bugs ...int) {
	t.Helper()
	var b strings.Builder
	for i, n := range bugs {
		if i > 0 {
			b.WriteString("; ")
		}
		desc, ok := knownBugs[n]
		if !ok {
			t.Fatalf("knownBug: no known bug %d", n)
		}
		b.WriteString("KNOWN BUG " + strconv.Itoa(n) + ": " + desc)
	}
	t.Skipf("%s — seen: %s", b.String(), detail)
}
