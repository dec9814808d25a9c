package decisionlog

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestVerifyEntry: VerifyOptions.Entry hands the caller, in order, exactly
// the bytes the tree was recomputed from, and Err sums up a failed
// verification in one line.
func TestVerifyEntry(t *testing.T) {
	fx := sharedFixture(t)
	tests := []struct {
		name    string
		tamper  func(t *testing.T, dir string)
		wantErr string // "" when the log verifies
	}{
		{"untouched", func(*testing.T, string) {}, ""},
		{"one byte of entry 17 changed, still valid JSON", func(t *testing.T, dir string) {
			p := filepath.Join(dir, "tile", "entries", "000")
			b, _ := os.ReadFile(p)
			off := 0
			for range 17 {
				off += 2 + int(binary.BigEndian.Uint16(b[off:]))
			}
			n := int(binary.BigEndian.Uint16(b[off:]))
			i := bytes.Index(b[off+2:off+2+n], []byte(`"tenant":"`))
			if i < 0 {
				t.Fatal("entry 17 has no tenant")
			}
			b[off+2+i+len(`"tenant":"`)] ^= 0x02 // "acme-social" → "ccme-social": still valid
			os.WriteFile(p, b, 0o644)
		}, "decisionlog: log not verified: entry 17: hash does not match tile/0/000 (the entry, its bundle or the tile was altered) (and 2 more problems)"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := copyDir(t, fx.dir)
			tt.tamper(t, dir)
			r, err := OpenReader(dir, nil)
			if err != nil {
				t.Fatal(err)
			}
			// The fixture is appended concurrently: the order of entries is
			// the log's, so compare with what Leaves reads.
			var want [][]byte
			if err := r.Leaves(context.Background(), 300, func(l Leaf) error {
				want = append(want, l.Data)
				return nil
			}); err != nil {
				t.Fatal(err)
			}
			var got []Leaf
			res, err := Verify(context.Background(), r, fx.verifier, VerifyOptions{Entry: func(l Leaf) { got = append(got, l) }})
			if err != nil {
				t.Fatal(err)
			}
			if len(got) != len(want) {
				t.Fatalf("Entry called %d times, want %d", len(got), len(want))
			}
			for i, l := range got {
				if l.Index != uint64(i) || !bytes.Equal(l.Data, want[i]) {
					t.Fatalf("Entry call %d: index %d, data differs: %v", i, l.Index, !bytes.Equal(l.Data, want[i]))
				}
			}
			err = res.Err()
			if tt.wantErr == "" {
				if err != nil || !res.OK() {
					t.Fatalf("Err() = %v on an untouched log", err)
				}
				return
			}
			if err == nil || !errors.Is(err, ErrNotVerified) || err.Error() != tt.wantErr || strings.Contains(err.Error(), "\n") {
				t.Errorf("Err() = %v\nwant %s", err, tt.wantErr)
			}
		})
	}
}

func TestVerifyResultErr(t *testing.T) {
	tests := []struct {
		res  VerifyResult
		want string
	}{
		{VerifyResult{}, ""},
		{VerifyResult{Problems: []string{"checkpoint missing"}}, "decisionlog: log not verified: checkpoint missing"},
		{VerifyResult{Problems: []string{"a", "b"}}, "decisionlog: log not verified: a (and 1 more problem)"},
		{VerifyResult{Problems: []string{"a"}, Truncated: 4}, "decisionlog: log not verified: a (and 4 more problems)"},
	}
	for _, tt := range tests {
		err := tt.res.Err()
		if got := fmt.Sprint(err); (err == nil) != (tt.want == "") || (err != nil && got != tt.want) {
			t.Errorf("%+v.Err() = %v, want %q", tt.res, err, tt.want)
		}
	}
}
