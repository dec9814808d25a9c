package main

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/binary"
	"encoding/csv"
	"encoding/json"
	"fmt"
	"html"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/transparency-dev/merkle/proof"
	"github.com/transparency-dev/merkle/rfc6962"
	"github.com/transparency-dev/tessera/api"
	"golang.org/x/mod/sumdb/note"

	"github.com/ageassure/ageassure/adapters/decisionlog"
	"github.com/ageassure/ageassure/service/logentry"
)

// auditEntry is a valid entry, distinct per i: 3 days, 3 jurisdictions,
// decisions cycling.
func auditEntry(i int) *logentry.Entry {
	decisions := logentry.Decisions()
	return &logentry.Entry{
		V:                 logentry.Version,
		DecisionID:        fmt.Sprintf("019ac1c4-0000-7000-8000-%012x", i),
		Time:              logentry.FormatTime(time.Date(2026, 11, 24+i%3, 9, 30, 0, 0, time.UTC)),
		Tenant:            "acme-social",
		Jurisdiction:      []string{"DE", "GB", "US-UT"}[i%3],
		Stage:             logentry.StageSignup,
		Age:               14,
		Band:              logentry.Band13To15,
		Signals:           map[string]float64{logentry.SignalUserReports: float64(i % 4)},
		Evidence:          []logentry.EvidenceOutcome{{Type: logentry.EvidenceSelfDeclaration, Outcome: logentry.OutcomeAccepted}},
		Decision:          decisions[i%4],
		Rules:             []string{"de.digital-consent-age"},
		Assurance:         logentry.Assurance{Level: logentry.AssuranceAsserted, Methods: []string{logentry.EvidenceSelfDeclaration}},
		Policy:            logentry.Policy{ID: "ageassure-builtin", Hash: "sha256:" + strings.Repeat("1f", 32)},
		AttestationSHA256: logentry.AttestationDigest([]byte(fmt.Sprint("jws", i))),
	}
}

// auditLog appends entries [from, to) to the log in dir (created on first
// use) and closes it, returning the verifier key.
func auditLog(t *testing.T, dir string, from, to int) string {
	t.Helper()
	l, err := decisionlog.Open(context.Background(), decisionlog.Options{Dir: dir,
		CheckpointInterval: 100 * time.Millisecond, BatchMaxAge: time.Millisecond,
		Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	if err != nil {
		t.Fatal(err)
	}
	for i := from; i < to; i++ {
		if _, _, err := l.Append(context.Background(), auditEntry(i)); err != nil {
			t.Fatal(err)
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := l.Close(ctx); err != nil {
		t.Fatal(err)
	}
	return l.VerifierKey()
}

// runAudit runs `ageassure audit args...` in-process.
func runAudit(t *testing.T, args ...string) (code int, stdout, stderr string) {
	t.Helper()
	var out, errb bytes.Buffer
	code = run(context.Background(), append([]string{"audit"}, args...), &out, &errb)
	return code, out.String(), errb.String()
}

func TestAuditVerify(t *testing.T) {
	base := t.TempDir()
	vkey := auditLog(t, base, 0, 20)
	saved20 := filepath.Join(t.TempDir(), "cp20")
	if code, out, errs := runAudit(t, "verify", "--log", base, "--key", vkey, "--save-checkpoint", saved20); code != 0 {
		t.Fatalf("verify of 20 = %d\n%s%s", code, out, errs)
	}
	auditLog(t, base, 20, 30)
	keyFile := filepath.Join(t.TempDir(), "log.pub")
	os.WriteFile(keyFile, []byte(vkey+"\n"), 0o644)
	saved30 := filepath.Join(t.TempDir(), "cp30")
	if code, out, errs := runAudit(t, "verify", "--log", base, "--key", keyFile, "--since", saved20, "--save-checkpoint", saved30); code != 0 ||
		!strings.Contains(out, "verified") || !strings.Contains(out, "entries    30") {
		t.Fatalf("verify --since = %d\n%s%s", code, out, errs)
	}

	bundle := func(dir string) string { return filepath.Join(dir, "tile", "entries", "000.p", "30") }
	tests := []struct {
		name   string
		tamper func(t *testing.T, dir string)
		since  string
		want   []string
	}{
		{"flip a byte in an entry bundle", func(t *testing.T, dir string) {
			b, _ := os.ReadFile(bundle(dir))
			off := 0
			for range 17 {
				off += 2 + int(binary.BigEndian.Uint16(b[off:]))
			}
			b[off+2+20] ^= 0x02
			os.WriteFile(bundle(dir), b, 0o644)
		}, "", []string{"FAIL entry 17: hash does not match tile/0/000.p/30", "FAIL checkpoint: root mismatch"}},
		{"drop a tile", func(t *testing.T, dir string) {
			os.Remove(filepath.Join(dir, "tile", "0", "000.p", "30"))
		}, "", []string{"FAIL tile/0/000.p/30: missing"}},
		{"older checkpoint", func(t *testing.T, dir string) {
			b, _ := os.ReadFile(saved20)
			os.WriteFile(filepath.Join(dir, "checkpoint"), b, 0o644)
		}, saved30, []string{"FAIL checkpoint rolled back: size 20 < saved 30"}},
		{"re-signed with another key", func(t *testing.T, dir string) {
			raw, _ := os.ReadFile(filepath.Join(dir, "checkpoint"))
			body, _, _ := strings.Cut(string(raw), "\n\n")
			skey, _, _ := note.GenerateKey(nil, decisionlog.DefaultOrigin)
			s, _ := note.NewSigner(skey)
			signed, _ := note.Sign(&note.Note{Text: body + "\n"}, s)
			os.WriteFile(filepath.Join(dir, "checkpoint"), signed, 0o644)
		}, "", []string{"FAIL checkpoint signature invalid"}},
		{"reorder two entries", func(t *testing.T, dir string) {
			e := readEntries(t, bundle(dir))
			e[1], e[2] = e[2], e[1]
			writeEntries(t, bundle(dir), e)
		}, "", []string{"FAIL entry 1: hash does not match", "FAIL entry 2: hash does not match"}},
		{"non-canonical entry", func(t *testing.T, dir string) {
			e := readEntries(t, bundle(dir))
			e[3] = bytes.Replace(e[3], []byte(`"age":14`), []byte(`"age": 14`), 1)
			writeEntries(t, bundle(dir), e)
		}, "", []string{"FAIL entry 3: not canonical"}},
		{"PII in an entry", func(t *testing.T, dir string) {
			e := readEntries(t, bundle(dir))
			e[5] = bytes.Replace(e[5], []byte(`"tenant":"acme-social"`), []byte(`"tenant":"jane.doe.1990-04-12"`), 1)
			writeEntries(t, bundle(dir), e)
		}, "", []string{"FAIL entry 5: field tenant fails schema"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := copyTree(t, base)
			tt.tamper(t, dir)
			args := []string{"verify", "--log", dir, "--key", vkey}
			if tt.since != "" {
				args = append(args, "--since", tt.since)
			}
			code, out, errs := runAudit(t, args...)
			if code != 1 {
				t.Fatalf("exit %d, want 1\n%s%s", code, out, errs)
			}
			for _, w := range tt.want {
				if !strings.Contains(out, w) {
					t.Errorf("want %q in:\n%s", w, out)
				}
			}
			if !strings.Contains(out, "NOT VERIFIED") || strings.Contains(out, "jane") {
				t.Errorf("summary or leak:\n%s", out)
			}
		})
	}
}

func TestAuditOverHTTP(t *testing.T) {
	dir := t.TempDir()
	vkey := auditLog(t, dir, 0, 12)
	l, err := decisionlog.Open(context.Background(), decisionlog.Options{Dir: dir,
		Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close(context.Background())
	mux := http.NewServeMux()
	mux.Handle("/log/", http.StripPrefix("/log", l.Handler()))
	srv := httptest.NewServer(mux)
	defer srv.Close()

	if code, out, errs := runAudit(t, "key", "--log", srv.URL); code != 0 || strings.TrimSpace(out) != vkey {
		t.Errorf("audit key --log URL = %d %q %s", code, out, errs)
	}
	if code, out, errs := runAudit(t, "key", "--log-dir", dir); code != 0 || strings.TrimSpace(out) != vkey {
		t.Errorf("audit key --log-dir = %d %q %s", code, out, errs)
	}
	if code, out, errs := runAudit(t, "verify", "--log", srv.URL, "--key", vkey); code != 0 {
		t.Errorf("verify over HTTP = %d\n%s%s", code, out, errs)
	}
	t.Setenv("AGEASSURE_LOG", srv.URL+"/log/")
	t.Setenv("AGEASSURE_KEY", vkey)
	if code, out, errs := runAudit(t, "verify"); code != 0 {
		t.Errorf("verify from the environment = %d\n%s%s", code, out, errs)
	}
}

func TestAuditProve(t *testing.T) {
	dir := t.TempDir()
	vkey := auditLog(t, dir, 0, 40)
	id := auditEntry(23).DecisionID
	code, out, errs := runAudit(t, "prove", "--log", dir, "--decision-id", id, "--key", vkey)
	if code != 0 {
		t.Fatalf("prove = %d\n%s", code, errs)
	}
	var doc proofDoc
	if err := json.Unmarshal([]byte(out), &doc); err != nil {
		t.Fatalf("output is not JSON: %v\n%s", err, out)
	}
	// Check it as an outsider would: signature, then the proof to the root.
	v, _ := note.NewVerifier(vkey)
	n, err := note.Open([]byte(doc.Checkpoint), note.VerifierList(v))
	if err != nil {
		t.Fatalf("checkpoint: %v", err)
	}
	lines := strings.Split(n.Text, "\n")
	if lines[0] != decisionlog.DefaultOrigin || lines[1] != "40" {
		t.Fatalf("checkpoint body %q", n.Text)
	}
	leaf := rfc6962.DefaultHasher.HashLeaf([]byte(doc.Entry))
	if !bytes.Equal(leaf, doc.LeafHash) || doc.LeafIndex != 23 || !doc.CheckpointVerified {
		t.Errorf("leaf hash, index or verified flag wrong: %+v", doc)
	}
	if err := proof.VerifyInclusion(rfc6962.DefaultHasher, doc.LeafIndex, doc.TreeSize, leaf, doc.InclusionProof, doc.RootHash); err != nil {
		t.Errorf("proof does not verify: %v", err)
	}
	if !strings.Contains(n.Text, encodeB64(doc.RootHash)) {
		t.Error("root_hash is not the checkpoint's")
	}
	if e, err := logentry.Parse([]byte(doc.Entry)); err != nil || e.DecisionID != id {
		t.Errorf("entry: %v", err)
	}

	if code, _, errs := runAudit(t, "prove", "--log", dir, "--decision-id", "019ac1c4-0000-7000-8000-ffffffffffff"); code != 1 ||
		!strings.Contains(errs, "not in log") {
		t.Errorf("prove of an absent decision = %d %s", code, errs)
	}
}

func TestAuditReport(t *testing.T) {
	dir := t.TempDir()
	auditLog(t, dir, 0, 60)

	code, out, errs := runAudit(t, "report", "--log", dir)
	if code != 0 {
		t.Fatalf("report = %d %s", code, errs)
	}
	if !strings.Contains(out, "ESCALATION") || !strings.Contains(out, "2026-11-24") {
		t.Errorf("table:\n%s", out)
	}
	lines := strings.Split(strings.TrimSpace(out), "\n")
	total := strings.Fields(lines[len(lines)-1])
	// TOTAL 60 entries: 15 of each decision, 25% escalation, 25% consent.
	if got := strings.Join(total, " "); got != "TOTAL 60 15 15 15 15 25.0% 25.0%" {
		t.Errorf("total row = %q", got)
	}

	code, out, _ = runAudit(t, "report", "--log", dir, "--format", "csv", "--from", "2026-11-25", "--to", "2026-11-25")
	if code != 0 {
		t.Fatalf("csv = %d", code)
	}
	recs, err := csv.NewReader(strings.NewReader(out)).ReadAll()
	if err != nil {
		t.Fatal(err)
	}
	if want := []string{"day", "jurisdiction", "band", "method", "total", "allow", "parental_consent_required",
		"additional_verification_required", "deny", "escalation_rate", "consent_rate"}; strings.Join(recs[0], ",") != strings.Join(want, ",") {
		t.Errorf("csv header %v", recs[0])
	}
	sum := 0
	for _, r := range recs[1:] {
		if r[0] != "2026-11-25" {
			t.Errorf("row outside --from/--to: %v", r)
		}
		var n int
		fmt.Sscan(r[4], &n)
		sum += n
	}
	if sum != 20 {
		t.Errorf("rows for 2026-11-25 total %d, want 20", sum)
	}

	code, out, _ = runAudit(t, "report", "--log", dir, "--format", "html")
	if code != 0 {
		t.Fatalf("html = %d", code)
	}
	for _, want := range []string{"<!DOCTYPE html>", "<svg", "<rect", "<table", "additional_verification_required"} {
		if !strings.Contains(out, want) {
			t.Errorf("html lacks %q", want)
		}
	}
	for _, bad := range []string{"http://", "https://", "<script", "src=", "@import"} {
		if strings.Contains(out, bad) {
			t.Errorf("html references an external asset or script: %q", bad)
		}
	}

	for _, args := range [][]string{
		{"report", "--log", dir, "--format", "pdf"},
		{"report", "--log", dir, "--from", "yesterday"},
		{"report", "--log", dir, "--from", "2026-11-26", "--to", "2026-11-24"},
	} {
		if code, _, _ := runAudit(t, args...); code != 2 {
			t.Errorf("%v = %d, want 2", args, code)
		}
	}
}

// TestAuditReportVerifies: with --key, a report is written only from a log
// that verifies, as audit verify checks it, and says what was verified;
// without --key it says plainly that it is unverified.
func TestAuditReportVerifies(t *testing.T) {
	base := t.TempDir()
	vkey := auditLog(t, base, 0, 30)
	v, err := note.NewVerifier(vkey)
	if err != nil {
		t.Fatal(err)
	}
	r, err := decisionlog.OpenReader(base, nil)
	if err != nil {
		t.Fatal(err)
	}
	cp, err := r.ReadCheckpoint(context.Background(), v)
	if err != nil {
		t.Fatal(err)
	}
	root := encodeB64(cp.Hash)
	keyID := strings.Join(strings.SplitN(vkey, "+", 3)[:2], "+") // name+hash, as the note key spells it
	stamp := regexp.MustCompile(`20\d\d-\d\d-\d\dT\d\d:\d\d:\d\dZ`)
	bundle := func(dir string) string { return filepath.Join(dir, "tile", "entries", "000.p", "30") }

	// Entry 4 is of 2026-11-25; one byte moves it to 2026-11-26. It stays
	// canonical and within the schema: only its hash gives it away.
	forgeDay := func(t *testing.T, dir string) {
		e := readEntries(t, bundle(dir))
		forged := bytes.Replace(e[4], []byte(`"time":"2026-11-25`), []byte(`"time":"2026-11-26`), 1)
		if bytes.Equal(forged, e[4]) || len(forged) != len(e[4]) {
			t.Fatal("entry 4 is not of 2026-11-25")
		}
		if ent, err := logentry.Parse(forged); err != nil || ent.Validate() != nil {
			t.Fatalf("the forged entry no longer parses: %v", err)
		}
		e[4] = forged
		writeEntries(t, bundle(dir), e)
	}
	resign := func(t *testing.T, dir string) {
		raw, _ := os.ReadFile(filepath.Join(dir, "checkpoint"))
		body, _, _ := strings.Cut(string(raw), "\n\n")
		skey, _, _ := note.GenerateKey(nil, decisionlog.DefaultOrigin)
		s, _ := note.NewSigner(skey)
		signed, _ := note.Sign(&note.Note{Text: body + "\n"}, s)
		os.WriteFile(filepath.Join(dir, "checkpoint"), signed, 0o644)
	}
	untouched := func(*testing.T, string) {}

	verified := []string{"origin       " + decisionlog.DefaultOrigin, "tree size    30", "root         " + root, "key          " + keyID, "verified at  "}
	verifiedHTML := []string{"<dd>" + decisionlog.DefaultOrigin + "</dd>", "<dd>30</dd>", "<dd>" + root + "</dd>", "<dd>" + keyID + "</dd>", "<b>Verified</b> at "}
	tests := []struct {
		name      string
		tamper    func(*testing.T, string)
		key       bool
		format    string
		code      int
		stdout    []string // each must appear in stdout
		notStdout []string // none may
		stderr    []string
	}{
		{"verified table", untouched, true, "table", 0, append([]string{"VERIFIED: the checkpoint", "TOTAL"}, verified...), []string{"UNVERIFIED"}, nil},
		{"verified html", untouched, true, "html", 0, verifiedHTML, []string{"UNVERIFIED"}, nil},
		{"verified csv", untouched, true, "csv", 0, []string{"day,jurisdiction"}, []string{"VERIFIED", root},
			[]string{"tree size 30", "root " + root, "key " + keyID, "origin " + decisionlog.DefaultOrigin}},
		{"entry byte forged, table", forgeDay, true, "table", 1, nil, []string{"DAY", "TOTAL"},
			[]string{"no report: decisionlog: log not verified: entry 4: hash does not match tile/0/000.p/30"}},
		{"entry byte forged, html", forgeDay, true, "html", 1, nil, []string{"<"}, []string{"entry 4: hash does not match"}},
		{"checkpoint re-signed with another key", resign, true, "table", 1, nil, []string{"TOTAL"}, []string{"checkpoint signature invalid"}},
		{"entry byte forged, no key", forgeDay, false, "table", 0,
			[]string{"UNVERIFIED: no --key", "root         " + root + " (claimed)", "TOTAL"}, []string{"VERIFIED: the checkpoint", keyID}, []string{"the report is UNVERIFIED"}},
		{"no key, html", untouched, false, "html", 0, []string{"<b>UNVERIFIED.</b>", "(UNVERIFIED)</title>", "<dd>" + root + "</dd>"}, []string{"<b>Verified</b>", keyID}, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := copyTree(t, base)
			tt.tamper(t, dir)
			args := []string{"report", "--log", dir, "--format", tt.format}
			if tt.key {
				args = append(args, "--key", vkey)
			}
			code, out, errs := runAudit(t, args...)
			if code != tt.code {
				t.Fatalf("exit %d, want %d\n%s%s", code, tt.code, out, errs)
			}
			if tt.format == "html" {
				out = html.UnescapeString(out) // html/template writes + as &#43;
			}
			for _, w := range tt.stdout {
				if !strings.Contains(out, w) {
					t.Errorf("stdout lacks %q:\n%s", w, out)
				}
			}
			for _, w := range tt.notStdout {
				if strings.Contains(out, w) {
					t.Errorf("stdout has %q:\n%s", w, out)
				}
			}
			for _, w := range tt.stderr {
				if !strings.Contains(errs, w) {
					t.Errorf("stderr lacks %q:\n%s", w, errs)
				}
			}
			if tt.code != 0 {
				if out != "" || strings.Count(strings.TrimSpace(errs), "\n") != 0 {
					t.Errorf("a refusal is one line on stderr and no report; got stdout %q, stderr:\n%s", out, errs)
				}
			}
			if tt.key && tt.code == 0 && !stamp.MatchString(out+errs) {
				t.Errorf("no time of verification in:\n%s%s", out, errs)
			}
			if tt.key {
				// The report refuses exactly the logs audit verify fails.
				vcode, vout, _ := runAudit(t, "verify", "--log", dir, "--key", vkey)
				if (vcode == 0) != (code == 0) {
					t.Errorf("audit verify = %d, audit report = %d\n%s", vcode, code, vout)
				}
			}
		})
	}
}

func TestAuditUsage(t *testing.T) {
	for _, tt := range []struct {
		args []string
		code int
	}{
		{nil, 2}, {[]string{"nope"}, 2}, {[]string{"help"}, 0},
		{[]string{"verify"}, 2}, // no --key
		{[]string{"verify", "--key", "x"}, 2},
		{[]string{"prove", "--log", "."}, 2}, // no --decision-id
		{[]string{"key"}, 2},
	} {
		if code, _, _ := runAudit(t, tt.args...); code != tt.code {
			t.Errorf("audit %v = %d, want %d", tt.args, code, tt.code)
		}
	}
	for _, cmd := range []string{"key", "verify", "prove", "report"} {
		code, _, help := runAudit(t, cmd, "--help")
		if code != 0 {
			t.Errorf("%s --help = %d", cmd, code)
		}
		for _, m := range regexp.MustCompile(`(?m)^  --([a-z-]+) `).FindAllStringSubmatch(help, -1) {
			if !strings.Contains(help, "env: "+envName(m[1])) {
				t.Errorf("%s --help: --%s has no environment variable", cmd, m[1])
			}
		}
		if !strings.Contains(help, "AGEASSURE_LOG") {
			t.Errorf("%s --help lists no env:\n%s", cmd, help)
		}
	}
}

func readEntries(t *testing.T, path string) [][]byte {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var eb api.EntryBundle
	if err := eb.UnmarshalText(b); err != nil {
		t.Fatal(err)
	}
	return eb.Entries
}

func writeEntries(t *testing.T, path string, entries [][]byte) {
	t.Helper()
	var b bytes.Buffer
	for _, e := range entries {
		binary.Write(&b, binary.BigEndian, uint16(len(e)))
		b.Write(e)
	}
	os.WriteFile(path, b.Bytes(), 0o644)
}

func copyTree(t *testing.T, src string) string {
	t.Helper()
	dst := t.TempDir()
	filepath.WalkDir(src, func(p string, d os.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(src, p)
		if d.IsDir() {
			return os.MkdirAll(filepath.Join(dst, rel), 0o755)
		}
		b, _ := os.ReadFile(p)
		return os.WriteFile(filepath.Join(dst, rel), b, 0o644)
	})
	return dst
}

func encodeB64(b []byte) string { return base64.StdEncoding.EncodeToString(b) }
