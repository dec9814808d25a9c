package decisionlog

import (
	"bytes"
	"context"
	"encoding/binary"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/transparency-dev/tessera"
	"golang.org/x/mod/sumdb/note"
)

// writeBundle re-encodes entries as a tlog-tiles entry bundle.
func writeBundle(t *testing.T, path string, entries [][]byte) {
	t.Helper()
	var b bytes.Buffer
	for _, e := range entries {
		binary.Write(&b, binary.BigEndian, uint16(len(e)))
		b.Write(e)
	}
	if err := os.WriteFile(path, b.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
}

func readBundle(t *testing.T, path string) [][]byte {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	entries, err := parseBundle(b)
	if err != nil {
		t.Fatal(err)
	}
	return entries
}

// resign replaces the checkpoint by the same body signed with another key
// of the same name: a forger without the log's key.
func resign(t *testing.T, dir string) {
	t.Helper()
	raw, _ := os.ReadFile(filepath.Join(dir, "checkpoint"))
	body, _, _ := strings.Cut(string(raw), "\n\n")
	skey, _, err := note.GenerateKey(cryptoRand(), DefaultOrigin)
	if err != nil {
		t.Fatal(err)
	}
	s, _ := note.NewSigner(skey)
	signed, err := note.Sign(&note.Note{Text: body + "\n"}, s)
	if err != nil {
		t.Fatal(err)
	}
	os.WriteFile(filepath.Join(dir, "checkpoint"), signed, 0o644)
}

// appendRaw adds bytes to the log through Tessera directly, bypassing
// Validate and Marshal: a buggy or malicious producer holding the key.
func appendRaw(t *testing.T, dir string, raw ...[]byte) {
	t.Helper()
	l := openLog(t, testOptions(dir))
	for _, b := range raw {
		if _, err := l.appender.Add(context.Background(), tessera.NewEntry(b))(); err != nil {
			t.Fatal(err)
		}
	}
	closeLog(t, l)
}

func TestVerifyDetectsTampering(t *testing.T) {
	fx := sharedFixture(t)
	entriesPath := func(dir, name string) string { return filepath.Join(dir, "tile", "entries", name) }
	tests := []struct {
		name   string
		tamper func(t *testing.T, dir string)
		since  []byte
		want   []string // substrings of problems, each must appear
	}{
		{"untouched", func(t *testing.T, dir string) {}, nil, nil},
		{"untouched, consistent with saved", func(t *testing.T, dir string) {}, fx.cp200, nil},
		{"flip a byte in an entry", func(t *testing.T, dir string) {
			p := entriesPath(dir, "000")
			b, _ := os.ReadFile(p)
			// Entry 17's data starts after 17 length-prefixed entries.
			off := 0
			for range 17 {
				off += 2 + int(binary.BigEndian.Uint16(b[off:]))
			}
			b[off+2+10] ^= 0x01
			os.WriteFile(p, b, 0o644)
		}, nil, []string{"entry 17: hash does not match tile/0/000 ", "checkpoint: root mismatch"}},
		{"flip a byte in a length prefix", func(t *testing.T, dir string) {
			p := entriesPath(dir, "000")
			b, _ := os.ReadFile(p)
			b[0] ^= 0x40
			os.WriteFile(p, b, 0o644)
		}, nil, []string{"tile/entries/000: "}},
		{"reorder two entries in a bundle", func(t *testing.T, dir string) {
			p := entriesPath(dir, "001.p/44")
			e := readBundle(t, p)
			e[3], e[5] = e[5], e[3]
			writeBundle(t, p, e)
		}, nil, []string{"entry 259: hash does not match tile/0/001.p/44", "entry 261: hash does not match tile/0/001.p/44"}},
		{"remove an entry from a bundle", func(t *testing.T, dir string) {
			p := entriesPath(dir, "001.p/44")
			e := readBundle(t, p)
			writeBundle(t, p, append(e[:10:10], e[11:]...))
		}, nil, []string{"tile/entries/001.p/44: holds 43 entries, the checkpoint implies 44 (entries removed)"}},
		{"delete an entry bundle", func(t *testing.T, dir string) {
			os.Remove(entriesPath(dir, "000"))
		}, nil, []string{"tile/entries/000: missing (entries 0–255)"}},
		{"delete a hash tile", func(t *testing.T, dir string) {
			os.Remove(filepath.Join(dir, "tile", "0", "000"))
		}, nil, []string{"tile/0/000: missing"}},
		{"delete a level-1 tile", func(t *testing.T, dir string) {
			os.Remove(filepath.Join(dir, "tile", "1", "000.p", "1"))
		}, nil, []string{"tile/1/000.p/1: missing"}},
		{"flip a byte in a tile", func(t *testing.T, dir string) {
			p := filepath.Join(dir, "tile", "0", "000")
			b, _ := os.ReadFile(p)
			b[32*42] ^= 0xff
			os.WriteFile(p, b, 0o644)
		}, nil, []string{"entry 42: hash does not match tile/0/000"}},
		{"checkpoint rolled back", func(t *testing.T, dir string) {
			os.WriteFile(filepath.Join(dir, "checkpoint"), fx.cp200, 0o644)
		}, fx.cp300, []string{"checkpoint rolled back: size 200 < saved 300"}},
		{"checkpoint re-signed with another key", resign, nil,
			[]string{"checkpoint signature invalid: no signature by key " + DefaultOrigin}},
		{"checkpoint body forged", func(t *testing.T, dir string) {
			p := filepath.Join(dir, "checkpoint")
			b, _ := os.ReadFile(p)
			os.WriteFile(p, bytes.Replace(b, []byte("\n300\n"), []byte("\n299\n"), 1), 0o644)
		}, nil, []string{"checkpoint signature invalid: bad signature"}},
		{"checkpoint deleted", func(t *testing.T, dir string) {
			os.Remove(filepath.Join(dir, "checkpoint"))
		}, nil, []string{"checkpoint missing"}},
		{"non-canonical and PII-bearing entries appended", func(t *testing.T, dir string) {
			good, _ := testEntry(1000).Marshal()
			pii := testEntry(1001)
			pii.Tenant = "alice@example.com"
			piiRaw, _ := pii.Marshal()
			dup, _ := testEntry(5).Marshal()
			appendRaw(t, dir, append([]byte(" "), good...), piiRaw, dup, []byte(`{"name":"Alice"}`))
		}, fx.cp300, []string{"entry 300: not canonical", "entry 301: field tenant fails schema",
			"entry 302: decision id repeats entry ", "entry 303: malformed"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := copyDir(t, fx.dir)
			tt.tamper(t, dir)
			res := verifyDir(t, dir, fx.vkey, tt.since)
			if len(tt.want) == 0 {
				if !res.OK() {
					t.Fatalf("problems in an untouched log: %v", res.Problems)
				}
				return
			}
			if res.OK() {
				t.Fatalf("tampering not detected")
			}
			all := strings.Join(res.Problems, "\n")
			t.Logf("problems:\n%s", all)
			for _, w := range tt.want {
				if !strings.Contains(all, w) {
					t.Errorf("want a problem containing %q; got:\n%s", w, all)
				}
			}
			if strings.Contains(all, "alice") || strings.Contains(all, "Alice") {
				t.Errorf("problems quote entry contents:\n%s", all)
			}
		})
	}
}

func TestVerifyOverHTTP(t *testing.T) {
	fx := sharedFixture(t)
	dir := copyDir(t, fx.dir)
	l := openLog(t, testOptions(dir))
	defer closeLog(t, l)
	srv := serveLog(t, l)
	r, err := OpenReader(srv.URL, nil)
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	vkey, err := r.FetchVerifierKey(ctx)
	if err != nil || vkey != fx.vkey {
		t.Fatalf("FetchVerifierKey = %q, %v", vkey, err)
	}
	res, err := Verify(ctx, r, fx.verifier, VerifyOptions{Since: fx.cp200})
	if err != nil || !res.OK() || res.Entries != 300 {
		t.Fatalf("Verify over HTTP: %v %+v", err, res)
	}
	p, err := Prove(ctx, r, fx.verifier, testEntry(123).DecisionID, nil)
	if err != nil {
		t.Fatalf("Prove: %v", err)
	}
	if !p.Checkpoint.Verified || p.Verify() != nil {
		t.Errorf("proof not verified")
	}
	if _, err := Prove(ctx, r, fx.verifier, "019ac1c4-5d2e-7c4b-9a51-ffffffffffff", nil); err == nil {
		t.Error("Prove found a decision that is not there")
	}
}

func TestProveFolder(t *testing.T) {
	fx := sharedFixture(t)
	r, _ := OpenReader(fx.dir, nil)
	for _, i := range []int{0, 255, 256, 299} {
		p, err := Prove(context.Background(), r, nil, testEntry(i).DecisionID, nil)
		if err != nil {
			t.Fatalf("Prove(%d): %v", i, err)
		}
		if p.Checkpoint.Verified {
			t.Error("Verified without a key")
		}
		want, _ := testEntry(i).Marshal()
		if !bytes.Equal(p.Entry, want) {
			t.Errorf("entry %d differs", i)
		}
	}
}
