package decisionlog

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/transparency-dev/merkle/proof"
	"github.com/transparency-dev/merkle/rfc6962"
	"github.com/transparency-dev/tessera/client"
	"github.com/transparency-dev/tessera/fsck"
	"golang.org/x/mod/sumdb/note"

	"github.com/ageassure/ageassure/service/logentry"
)

func TestAppendAndVerify(t *testing.T) {
	for _, async := range []bool{false, true} {
		t.Run(fmt.Sprintf("async=%v", async), func(t *testing.T) {
			dir := t.TempDir()
			opts := testOptions(dir)
			opts.Async = async
			l := openLog(t, opts)
			idx := appendN(t, l, 0, 300)
			vkey := l.VerifierKey()
			closeLog(t, l)

			if async {
				if len(idx) != 0 {
					t.Errorf("async Append reported %d known indices", len(idx))
				}
				if l.Failed() != 0 {
					t.Errorf("Failed = %d", l.Failed())
				}
			} else {
				seen := map[uint64]bool{}
				for _, i := range idx {
					if i >= 300 || seen[i] {
						t.Fatalf("index %d out of range or repeated", i)
					}
					seen[i] = true
				}
				if len(seen) != 300 {
					t.Fatalf("%d indices, want 300", len(seen))
				}
			}
			res := verifyDir(t, dir, vkey, nil)
			if !res.OK() || res.Entries != 300 || res.Checkpoint.Size != 300 {
				t.Fatalf("Verify: ok=%v entries=%d problems=%v", res.OK(), res.Entries, res.Problems)
			}
		})
	}
}

func verifyDir(t *testing.T, dir, vkey string, since []byte) *VerifyResult {
	t.Helper()
	v, err := note.NewVerifier(vkey)
	if err != nil {
		t.Fatal(err)
	}
	r, err := OpenReader(dir, nil)
	if err != nil {
		t.Fatal(err)
	}
	res, err := Verify(context.Background(), r, v, VerifyOptions{Since: since})
	if err != nil {
		t.Fatalf("Verify: %v", err)
	}
	return res
}

// TestIndependentVerification checks the log with transparency-dev's own
// packages only (client, merkle/proof, tessera/fsck), not with Verify:
// inclusion proofs for a few entries and a consistency proof between the
// two sessions' checkpoints.
func TestIndependentVerification(t *testing.T) {
	fx := sharedFixture(t)
	ctx := context.Background()
	f := client.FileFetcher{Root: fx.dir}
	origin := fx.verifier.Name()

	cp300, _, _, err := client.FetchCheckpoint(ctx, f.ReadCheckpoint, fx.verifier, origin)
	if err != nil {
		t.Fatalf("FetchCheckpoint: %v", err)
	}
	if cp300.Size != 300 {
		t.Fatalf("size %d, want 300", cp300.Size)
	}
	pb, err := client.NewProofBuilder(ctx, cp300.Size, f.ReadTile)
	if err != nil {
		t.Fatal(err)
	}
	for _, i := range []uint64{0, 17, 199, 255, 256, 299} {
		b, err := client.GetEntryBundle(ctx, f.ReadEntryBundle, i/256, cp300.Size)
		if err != nil {
			t.Fatalf("bundle for %d: %v", i, err)
		}
		data := b.Entries[i%256]
		if _, err := logentry.Parse(data); err != nil {
			t.Errorf("entry %d: %v", i, err)
		}
		p, err := pb.InclusionProof(ctx, i)
		if err != nil {
			t.Fatalf("InclusionProof(%d): %v", i, err)
		}
		if err := proof.VerifyInclusion(rfc6962.DefaultHasher, i, cp300.Size, rfc6962.DefaultHasher.HashLeaf(data), p, cp300.Hash); err != nil {
			t.Errorf("VerifyInclusion(%d): %v", i, err)
		}
	}

	cp200, err := ParseCheckpoint(fx.cp200, fx.verifier)
	if err != nil {
		t.Fatal(err)
	}
	cproof, err := pb.ConsistencyProof(ctx, cp200.Size, cp300.Size)
	if err != nil {
		t.Fatal(err)
	}
	if err := proof.VerifyConsistency(rfc6962.DefaultHasher, cp200.Size, cp300.Size, cproof, cp200.Hash, cp300.Hash); err != nil {
		t.Errorf("VerifyConsistency: %v", err)
	}

	bundleHasher := func(b []byte) ([][]byte, error) {
		var out [][]byte
		entries, err := parseBundle(b)
		for _, e := range entries {
			out = append(out, rfc6962.DefaultHasher.HashLeaf(e))
		}
		return out, err
	}
	if err := fsck.New(origin, fx.verifier, f, bundleHasher, fsck.Opts{N: 1}).Check(ctx); err != nil {
		t.Errorf("tessera fsck: %v", err)
	}
}

func TestKeyPersistsAndIsPrivate(t *testing.T) {
	dir := t.TempDir()
	l := openLog(t, testOptions(dir))
	first := l.VerifierKey()
	appendN(t, l, 0, 3)
	closeLog(t, l)

	keyFile := filepath.Join(dir, ".ageassure", "note.key")
	fi, err := os.Stat(keyFile)
	if err != nil {
		t.Fatal(err)
	}
	if fi.Mode().Perm() != 0o600 {
		t.Errorf("key file mode %v, want 0600", fi.Mode().Perm())
	}
	if di, _ := os.Stat(filepath.Dir(keyFile)); di.Mode().Perm() != 0o700 {
		t.Errorf("key folder mode %v, want 0700", di.Mode().Perm())
	}
	l = openLog(t, testOptions(dir))
	if got := l.VerifierKey(); got != first {
		t.Errorf("key changed across restarts: %s → %s", first, got)
	}
	if !strings.HasPrefix(first, DefaultOrigin+"+") || l.Origin() != DefaultOrigin {
		t.Errorf("verifier %s / origin %s: want the default origin as the key name", first, l.Origin())
	}
	appendN(t, l, 3, 2)
	closeLog(t, l)
	if res := verifyDir(t, dir, first, nil); !res.OK() || res.Entries != 5 {
		t.Errorf("after restart: %v (%d entries)", res.Problems, res.Entries)
	}
	if vk, err := ReadVerifierKey(dir, ""); err != nil || vk != first {
		t.Errorf("ReadVerifierKey = %q, %v", vk, err)
	}
}

func TestOpenRefuses(t *testing.T) {
	tests := []struct {
		name  string
		setup func(t *testing.T, dir string) Options
		want  error
	}{
		{"no dir", func(t *testing.T, dir string) Options { return Options{} }, ErrConfig},
		{"short checkpoint interval", func(t *testing.T, dir string) Options {
			o := testOptions(dir)
			o.CheckpointInterval = 10 * time.Millisecond
			return o
		}, ErrConfig},
		{"explicit key missing", func(t *testing.T, dir string) Options {
			o := testOptions(dir)
			o.KeyFile = filepath.Join(t.TempDir(), "absent.key")
			return o
		}, ErrKey},
		{"origin differs from key", func(t *testing.T, dir string) Options {
			closeLog(t, openLog(t, testOptions(dir)))
			o := testOptions(dir)
			o.Origin = "elsewhere.example/log"
			return o
		}, ErrKey},
		{"key lost after checkpoints", func(t *testing.T, dir string) Options {
			closeLog(t, openLog(t, testOptions(dir)))
			os.RemoveAll(filepath.Join(dir, ".ageassure"))
			return testOptions(dir)
		}, ErrKey},
		{"another key for an existing log", func(t *testing.T, dir string) Options {
			closeLog(t, openLog(t, testOptions(dir)))
			skey, _, err := note.GenerateKey(cryptoRand(), DefaultOrigin)
			if err != nil {
				t.Fatal(err)
			}
			kf := filepath.Join(t.TempDir(), "k")
			os.WriteFile(kf, []byte(skey), 0o600)
			o := testOptions(dir)
			o.KeyFile = kf
			return o
		}, ErrKey},
		{"garbage key", func(t *testing.T, dir string) Options {
			kf := filepath.Join(t.TempDir(), "k")
			os.WriteFile(kf, []byte("not a key"), 0o600)
			o := testOptions(dir)
			o.KeyFile = kf
			return o
		}, ErrKey},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			opts := tt.setup(t, t.TempDir())
			l, err := Open(context.Background(), opts)
			if err == nil {
				closeLog(t, l)
			}
			if !errors.Is(err, tt.want) {
				t.Fatalf("Open = %v, want %v", err, tt.want)
			}
			if strings.Contains(fmt.Sprint(err), "PRIVATE+KEY") {
				t.Errorf("error leaks key material: %v", err)
			}
		})
	}
}

func TestExplicitKeyAndOrigin(t *testing.T) {
	skey, vkey, err := note.GenerateKey(cryptoRand(), "log.acme.example/decisions")
	if err != nil {
		t.Fatal(err)
	}
	kf := filepath.Join(t.TempDir(), "note.key")
	os.WriteFile(kf, []byte(skey+"\n"), 0o600)
	dir := t.TempDir()
	o := testOptions(dir)
	o.KeyFile, o.Origin = kf, "log.acme.example/decisions"
	l := openLog(t, o)
	if l.VerifierKey() != vkey {
		t.Errorf("VerifierKey = %s, want %s", l.VerifierKey(), vkey)
	}
	appendN(t, l, 0, 2)
	closeLog(t, l)
	if _, err := os.Stat(filepath.Join(dir, ".ageassure")); !os.IsNotExist(err) {
		t.Errorf("a default key was created despite --log-key: %v", err)
	}
	if res := verifyDir(t, dir, vkey, nil); !res.OK() {
		t.Errorf("%v", res.Problems)
	}
}

func TestAppendRejectsAndClose(t *testing.T) {
	l := openLog(t, testOptions(t.TempDir()))
	bad := testEntry(1)
	bad.Tenant = "Alice Smith"
	if _, _, err := l.Append(context.Background(), bad); !errors.Is(err, logentry.ErrSchema) {
		t.Errorf("Append(invalid) = %v, want ErrSchema", err)
	}
	closeLog(t, l)
	if _, _, err := l.Append(context.Background(), testEntry(2)); !errors.Is(err, ErrClosed) {
		t.Errorf("Append after Close = %v, want ErrClosed", err)
	}
	if err := l.Close(context.Background()); err != nil {
		t.Errorf("second Close = %v", err)
	}
}

// TestCanaryNeverInLogFolder: a request's identifying values (birth date,
// device and subject references, nonce) are reduced the way the service
// reduces them before an entry is built; no byte of any of them may appear
// anywhere in the log folder, including Tessera's state and the key.
func TestCanaryNeverInLogFolder(t *testing.T) {
	canaries := []string{"2012-05-01", "device-ref-CANARY-7f3e", "subject-ref-CANARY-1a2b", "nonce-CANARY-9c8d", "canary@example.com"}
	dir := t.TempDir()
	l := openLog(t, testOptions(dir))
	for i := range 20 {
		e := testEntry(i)
		// What the service derives from {"birth_date":"2012-05-01", device_ref,...}:
		e.Age, e.Band = 14, logentry.Band13To15
		dh := 12
		e.DeviceHistory = &dh
		e.AttestationSHA256 = logentry.AttestationDigest([]byte("header.claims-with-" + canaries[3] + ".sig"))
		if _, _, err := l.Append(context.Background(), e); err != nil {
			t.Fatal(err)
		}
	}
	closeLog(t, l)
	filepath.WalkDir(dir, func(p string, d os.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		b, _ := os.ReadFile(p)
		for _, c := range canaries {
			if strings.Contains(string(b), c) {
				t.Errorf("%s contains canary %q", p, c)
			}
		}
		return nil
	})
}

// The crash test runs a child process that appends durably and prints each
// acknowledged decision; the parent SIGKILLs it mid-stream and checks that
// every acknowledged decision is in the log after a restart.
const crashChildEnv = "DECISIONLOG_CRASH_CHILD_DIR"

func crashChild() {
	opts := testOptions(os.Getenv(crashChildEnv))
	opts.CheckpointInterval = time.Hour // no checkpoint: recovery must not need one
	l, err := Open(context.Background(), opts)
	if err != nil {
		fmt.Println("ERR", err)
		os.Exit(1)
	}
	for i := 0; ; i++ {
		idx, _, err := l.Append(context.Background(), testEntry(i))
		if err != nil {
			fmt.Println("ERR", err)
			os.Exit(1)
		}
		fmt.Printf("ACK %d %d\n", i, idx)
	}
}

func TestDurableSurvivesSIGKILL(t *testing.T) {
	if testing.Short() {
		t.Skip("spawns a process")
	}
	dir := t.TempDir()
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), crashChildEnv+"="+dir)
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	acked := map[int]uint64{}
	sc := bufio.NewScanner(out)
	for sc.Scan() && len(acked) < 40 {
		f := strings.Fields(sc.Text())
		if len(f) != 3 || f[0] != "ACK" {
			t.Fatalf("child: %s", sc.Text())
		}
		i, _ := strconv.Atoi(f[1])
		idx, _ := strconv.ParseUint(f[2], 10, 64)
		acked[i] = idx
	}
	cmd.Process.Signal(syscall.SIGKILL)
	cmd.Wait()

	l := openLog(t, testOptions(dir))
	vkey := l.VerifierKey()
	closeLog(t, l)
	res := verifyDir(t, dir, vkey, nil)
	if !res.OK() {
		t.Fatalf("after SIGKILL: %v", res.Problems)
	}
	r, _ := OpenReader(dir, nil)
	logged := map[string]uint64{}
	r.Leaves(context.Background(), res.Checkpoint.Size, func(lf Leaf) error {
		e, err := logentry.Parse(lf.Data)
		if err == nil {
			logged[e.DecisionID] = lf.Index
		}
		return nil
	})
	var missing []int
	for i, idx := range acked {
		if got, ok := logged[testEntry(i).DecisionID]; !ok || got != idx {
			missing = append(missing, i)
		}
	}
	slices.Sort(missing)
	if len(missing) > 0 {
		t.Errorf("acknowledged decisions lost or moved after SIGKILL: %v", missing)
	}
	t.Logf("%d acknowledged, %d in the log after restart", len(acked), res.Checkpoint.Size)
}
