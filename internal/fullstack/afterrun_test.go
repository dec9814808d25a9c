package fullstack

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/lestrrat-go/jwx/v2/jwk"
	"github.com/lestrrat-go/jwx/v2/jws"
	"github.com/redis/go-redis/v9"
	"golang.org/x/mod/sumdb/note"

	"github.com/ageassure/ageassure/adapters/decisionlog"
	"github.com/ageassure/ageassure/internal/redistest"
	"github.com/ageassure/ageassure/service/logentry"
)

// simCell is one cell of `policy simulate`'s change table.
type simCell struct {
	Jurisdiction, Band, From, To string
}

// simCheck is one `policy simulate` run over every replica's log: the
// candidate policy ("builtin", a file or a folder) and the changes it must
// report for a replica (nil: none).
type simCheck struct {
	candidate string
	want      func(r *replica) map[simCell]uint64
}

// afterRun audits the deployment as a regulator and an operator would,
// once the traffic is over: attestations verify against the published
// keys; Redis holds no identity data; the replicas stop cleanly; each log
// verifies (`ageassure audit verify`), holds every decision answered and
// nothing else, and replays through the serving policy unchanged
// (`ageassure policy simulate`); and no log, file or line of output holds a
// canary. sims replaces the default replay (the serving policy, no
// change).
func (s *stack) afterRun(t *testing.T, sims ...simCheck) {
	t.Helper()
	if len(sims) == 0 {
		sims = []simCheck{{candidate: s.servingPolicy()}}
	}
	t.Run("after the run", func(t *testing.T) {
		if s.canaries.len() == 0 {
			t.Fatal("no canaries were registered: the run sent nothing identifying")
		}
		t.Run("attestations verify against the published keys", s.checkAttestations)
		if s.redis != nil {
			t.Run("Redis holds no identity data", s.checkRedis)
		}
		for _, r := range s.replicas {
			r.stop(t)
		}
		for _, r := range s.replicas {
			t.Run("log "+r.name, func(t *testing.T) { s.checkLog(t, r, sims) })
		}
		t.Run("no identity data in logs or output", s.checkFiles)
	})
}

func (s *stack) servingPolicy() string {
	if s.policyDir != "" {
		return s.policyDir
	}
	return "builtin"
}

// checkAttestations verifies every attestation answered against the JWKS
// each replica publishes, which must be the same set (shared --keys).
func (s *stack) checkAttestations(t *testing.T) {
	var first []byte
	var set jwk.Set
	for _, r := range s.replicas {
		if !r.running() {
			t.Fatalf("%s is not running", r.name)
		}
		resp, err := s.client.Get(r.base + "/.well-known/jwks.json")
		if err != nil {
			t.Fatal(err)
		}
		var buf bytes.Buffer
		_, _ = buf.ReadFrom(resp.Body)
		resp.Body.Close()
		if first == nil {
			first = buf.Bytes()
			if set, err = jwk.Parse(first); err != nil {
				t.Fatalf("%s: JWKS: %v", r.name, err)
			}
		} else if !bytes.Equal(first, buf.Bytes()) {
			t.Errorf("%s publishes another JWKS than %s: replicas do not agree on keys", r.name, s.replicas[0].name)
		}
	}
	n := 0
	for _, r := range s.replicas {
		for _, a := range r.answered {
			payload, err := jws.Verify([]byte(a.attestation), jws.WithKeySet(set, jws.WithRequireKid(true)))
			if err != nil {
				t.Errorf("%s: decision %s: attestation does not verify: %v", r.name, a.id, err)
				continue
			}
			var c struct {
				Iss, Aud, Jti, Decision, Policy string
			}
			if err := json.Unmarshal(payload, &c); err != nil {
				t.Fatal(err)
			}
			if c.Iss != issuer || c.Aud != a.tenant || c.Jti != a.id || c.Decision != a.decision || c.Policy != a.policyHash {
				t.Errorf("%s: decision %s: attestation claims %+v do not match the answer", r.name, a.id, c)
			}
			n++
		}
	}
	t.Logf("%d attestations verified", n)
}

// checkRedis reads every key of the stack's Redis with SCAN and DUMP.
func (s *stack) checkRedis(t *testing.T) {
	c := redis.NewClient(&redis.Options{Addr: s.redis.Addr()})
	defer c.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	keys, err := redistest.ScanKeys(ctx, c, "*")
	if err != nil {
		t.Fatalf("SCAN: %v", err)
	}
	if len(keys) == 0 {
		t.Fatal("Redis holds no keys at all: the replicas did not use it")
	}
	kinds := map[string]int{}
	var found []string
	for _, k := range keys {
		if !strings.HasPrefix(k, "ageassure:") && !strings.HasPrefix(k, "rate:ageassure:") {
			t.Errorf("key %q is outside the ageassure: prefix", short(k))
		}
		if parts := strings.SplitN(strings.TrimPrefix(k, "rate:"), ":", 3); len(parts) == 3 {
			kinds[parts[1]]++
		}
		found = append(found, s.canaries.find("Redis key name", []byte(k))...)
		v, err := c.Dump(ctx, k).Result()
		if err == redis.Nil {
			continue // expired meanwhile
		}
		if err != nil {
			t.Fatalf("DUMP: %v", err)
		}
		found = append(found, s.canaries.find("Redis value of "+short(k), []byte(v))...)
	}
	for _, f := range found {
		t.Errorf("identity data kept: %s", f)
	}
	t.Logf("%d keys by kind %v; %d canaries searched", len(keys), kinds, s.canaries.len())
}

// checkFiles searches every replica's output and every file under the
// stack's log folders for canaries.
func (s *stack) checkFiles(t *testing.T) {
	var found []string
	files := 0
	for _, r := range s.replicas {
		found = append(found, s.canaries.find(r.name+" output", []byte(r.out.String()))...)
		err := filepath.WalkDir(r.logDir, func(path string, d fs.DirEntry, err error) error {
			if err != nil || d.IsDir() {
				return err
			}
			b, err := os.ReadFile(path)
			if err != nil {
				return err
			}
			files++
			found = append(found, s.canaries.find(path, b)...)
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
	}
	if files == 0 {
		t.Fatal("no log files found")
	}
	for _, f := range found {
		t.Errorf("identity data kept: %s", f)
	}
	t.Logf("%d files and %d outputs searched for %d canaries", files, len(s.replicas), s.canaries.len())
}

// cli runs the ageassure command and returns its stdout, stderr and exit
// status.
func cli(t testing.TB, args ...string) (string, string, int) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, binary, args...)
	cmd.Env = cleanEnv()
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	err := cmd.Run()
	code := 0
	if err != nil {
		ee, ok := err.(*exec.ExitError)
		if !ok {
			t.Fatalf("ageassure %s: %v", strings.Join(args, " "), err)
		}
		code = ee.ExitCode()
	}
	return out.String(), errb.String(), code
}

// checkLog audits one replica's log folder.
func (s *stack) checkLog(t *testing.T, r *replica, sims []simCheck) {
	// The operator's key file and the key the service published agree.
	out, errOut, code := cli(t, "audit", "key", "--log-dir", r.logDir)
	if code != 0 || strings.TrimSpace(out) != r.vkey {
		t.Fatalf("audit key --log-dir: exit %d, %q (published: %q) %s", code, out, r.vkey, errOut)
	}
	if !strings.HasPrefix(r.vkey, "fullstack.test/log/"+r.name+"+") {
		t.Errorf("verifier key %q is not named after --log-origin", r.vkey)
	}

	// ageassure audit verify: signature, Merkle tree, every entry canonical
	// and within the schema.
	out, errOut, code = cli(t, "audit", "verify", "--log", r.logDir, "--key", r.vkey)
	if code != 0 || !strings.Contains(out, ": verified") {
		t.Errorf("audit verify: exit %d\n%s%s", code, out, errOut)
	}

	// Every decision answered is in the log, as answered, and nothing else.
	entries := readLog(t, r)
	byID := map[string]*logentry.Entry{}
	for _, e := range entries {
		if byID[e.DecisionID] != nil {
			t.Errorf("decision %s is logged twice", e.DecisionID)
		}
		byID[e.DecisionID] = e
	}
	missing := 0
	for _, a := range r.answered {
		e := byID[a.id]
		if e == nil {
			missing++
			if missing <= 5 {
				t.Errorf("decision %s (%s) was answered but is not in the log", a.id, a.decision)
			}
			continue
		}
		sum := sha256.Sum256([]byte(a.attestation))
		if e.Decision != a.decision || e.Band != a.band || e.Tenant != a.tenant || e.Policy.Hash != a.policyHash ||
			e.AttestationSHA256 != hex.EncodeToString(sum[:]) {
			t.Errorf("decision %s: logged %s/%s/%s/%s, answered %s/%s/%s/%s, or the attestation digest differs",
				a.id, e.Decision, e.Band, e.Tenant, e.Policy.Hash, a.decision, a.band, a.tenant, a.policyHash)
		}
	}
	if missing > 0 {
		t.Errorf("%d of %d answered decisions are missing from the log", missing, len(r.answered))
	}
	if len(entries) != len(r.answered) {
		t.Errorf("the log holds %d entries, but %d decisions were answered", len(entries), len(r.answered))
	}
	t.Logf("%d entries, every answered decision found", len(entries))

	for _, sc := range sims {
		t.Run("simulate "+filepath.Base(sc.candidate), func(t *testing.T) { s.checkSimulate(t, r, entries, sc) })
	}
}

// readLog reads every entry of the replica's log with the project's reader,
// against the verifier key, parsing each strictly.
func readLog(t *testing.T, r *replica) []*logentry.Entry {
	t.Helper()
	v, err := note.NewVerifier(r.vkey)
	if err != nil {
		t.Fatal(err)
	}
	lr, err := decisionlog.OpenReader(r.logDir, nil)
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	cp, err := lr.ReadCheckpoint(ctx, v)
	if err != nil {
		t.Fatalf("checkpoint: %v", err)
	}
	var out []*logentry.Entry
	err = lr.Leaves(ctx, cp.Size, func(l decisionlog.Leaf) error {
		e, err := logentry.Parse(l.Data)
		if err != nil {
			return fmt.Errorf("entry %d: %w", l.Index, err)
		}
		out = append(out, e)
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// simulation is the part of `policy simulate --format json` checked.
type simulation struct {
	Entries  uint64 `json:"entries"`
	Replayed uint64 `json:"replayed"`
	Changed  uint64 `json:"changed"`
	Invalid  uint64 `json:"invalid"`
	Changes  []struct {
		simCell
		Count uint64 `json:"count"`
	} `json:"changes"`
}

// checkSimulate replays the log through a candidate with
// `ageassure policy simulate` and compares the changes it reports.
func (s *stack) checkSimulate(t *testing.T, r *replica, entries []*logentry.Entry, sc simCheck) {
	out, errOut, code := cli(t, "policy", "simulate", "--candidate", sc.candidate, "--log", r.logDir, "--key", r.vkey, "--format", "json", "--strict-entries")
	if code != 0 {
		t.Fatalf("policy simulate: exit %d\n%s%s", code, out, errOut)
	}
	var sim simulation
	if err := json.Unmarshal([]byte(out), &sim); err != nil {
		t.Fatalf("policy simulate: %v\n%s", err, out)
	}
	if sim.Entries != uint64(len(entries)) || sim.Replayed != sim.Entries || sim.Invalid != 0 {
		t.Errorf("policy simulate read %d entries, replayed %d, %d invalid; the log holds %d", sim.Entries, sim.Replayed, sim.Invalid, len(entries))
	}
	got := map[simCell]uint64{}
	for _, c := range sim.Changes {
		got[c.simCell] += c.Count
	}
	want := map[simCell]uint64{}
	if sc.want != nil {
		want = sc.want(r)
	}
	var wrong []string
	for c, n := range got {
		if want[c] != n {
			wrong = append(wrong, fmt.Sprintf("%s %s %s → %s: %d (want %d)", c.Jurisdiction, c.Band, c.From, c.To, n, want[c]))
		}
	}
	for c, n := range want {
		if _, ok := got[c]; !ok {
			wrong = append(wrong, fmt.Sprintf("%s %s %s → %s: 0 (want %d)", c.Jurisdiction, c.Band, c.From, c.To, n))
		}
	}
	if len(wrong) == 0 {
		t.Logf("%d entries replayed, %d changed, as expected", sim.Replayed, sim.Changed)
		return
	}
	slices.Sort(wrong)
	// Known bug 4: entries decided by evidence the log entry does not carry
	// (an OS age range, a re-used assurance, a consent) replay as bare
	// declarations. It explains the changes only if every changed cell holds
	// such entries.
	suspect := map[simCell]bool{}
	for _, e := range entries {
		if bug4Suspect(e) {
			suspect[simCell{Jurisdiction: e.Jurisdiction, Band: e.Band, From: e.Decision}] = true
		}
	}
	explained := true
	for c, n := range got {
		if want[c] != n && !suspect[simCell{Jurisdiction: c.Jurisdiction, Band: c.Band, From: c.From}] {
			explained = false
		}
	}
	for c := range want {
		if _, ok := got[c]; !ok {
			explained = false
		}
	}
	msg := fmt.Sprintf("policy simulate --candidate %s reports %d changed decisions where %d were expected:\n  %s",
		sc.candidate, sim.Changed, sum(want), strings.Join(wrong, "\n  "))
	if explained {
		knownBug(t, msg, 4)
	}
	t.Error(msg)
}

// bug4Suspect reports whether an entry was decided by something a replay
// cannot see while known bug 4 stands ("the log entry loses the OS range
// etc."): accepted evidence beside the declaration (an OS age range, a
// consent, an estimate or document contradicting the declaration), or a
// re-used assurance.
func bug4Suspect(e *logentry.Entry) bool {
	for _, ev := range e.Evidence {
		if ev.Outcome == logentry.OutcomeAccepted && ev.Type != logentry.EvidenceSelfDeclaration {
			return true
		}
	}
	return slices.Contains(e.Assurance.Methods, "reused_assurance")
}

func sum(m map[simCell]uint64) uint64 {
	var n uint64
	for _, v := range m {
		n += v
	}
	return n
}
