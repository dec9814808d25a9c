//go:build linux

package decisionlog

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

// These tests put the log folder in the conditions under which Tessera's
// POSIX driver panics on its own goroutine — a read-only file system, no
// free file descriptors — and a full disk, for real: a read-only bind
// mount, a size-limited tmpfs, a lowered RLIMIT_NOFILE. Each runs in a
// child process (the mount tests in their own mount namespace), so a
// panic fails the test with its stack instead of killing the test binary,
// and a mount cannot outlive the test even when the process dies.

// childTestEnv names the test a child process runs.
const childTestEnv = "DECISIONLOG_CHILD_TEST"

// requireRoot skips, loudly, a test that needs root to mount file systems;
// under CI=true it fails instead, so the test cannot silently never run.
func requireRoot(t *testing.T) {
	t.Helper()
	if os.Geteuid() == 0 {
		return
	}
	if os.Getenv("CI") == "true" {
		t.Fatalf("%s must run as root under CI=true: it mounts a read-only bind mount and a tmpfs for the log folder", t.Name())
	}
	t.Skipf("SKIPPED %s: NOT ROOT. It mounts a read-only bind mount and a tmpfs for the log folder; run the tests as root (under CI=true this is a failure)", t.Name())
}

// inChild reports whether this process is the child running the test; if
// not, it runs the test in a child (in a new mount namespace when newNS)
// and fails t with the child's output if the child fails.
func inChild(t *testing.T, newNS bool) bool {
	t.Helper()
	if os.Getenv(childTestEnv) == t.Name() {
		return true
	}
	if newNS {
		requireRoot(t)
	}
	cmd := exec.Command(os.Args[0], "-test.run=^"+t.Name()+"$", "-test.v", "-test.count=1", "-test.timeout=2m")
	cmd.Env = append(os.Environ(), childTestEnv+"="+t.Name())
	if newNS {
		// Go makes the new namespace's mounts private: nothing mounted
		// in it is seen outside, and all of it goes with the child.
		cmd.SysProcAttr = &syscall.SysProcAttr{Unshareflags: syscall.CLONE_NEWNS}
	}
	out, err := cmd.CombinedOutput()
	var kept []string
	for _, line := range strings.Split(string(out), "\n") {
		// Tessera's klog lines ("I1205 00:31:21.3 …") are noise unless
		// the child failed.
		if len(line) > 5 && strings.ContainsRune("IWE", rune(line[0])) && line[1] >= '0' && line[1] <= '9' && err == nil {
			continue
		}
		kept = append(kept, line)
	}
	if err != nil || !strings.Contains(string(out), "--- PASS: "+t.Name()) {
		t.Fatalf("child process running %s: %v\n%s", t.Name(), err, strings.Join(kept, "\n"))
	}
	t.Logf("child process:\n%s", strings.Join(kept, "\n"))
	return false
}

// bindMount mounts a new folder on another and returns the mount point.
func bindMount(t *testing.T) string {
	t.Helper()
	src, dst := t.TempDir(), t.TempDir()
	if err := syscall.Mount(src, dst, "", syscall.MS_BIND, ""); err != nil {
		t.Fatalf("bind mount: %v", err)
	}
	t.Cleanup(func() { unmount(t, dst) })
	return dst
}

// tmpfs mounts a tmpfs of size bytes and returns the mount point.
func tmpfs(t *testing.T, size int) string {
	t.Helper()
	dst := t.TempDir()
	if err := syscall.Mount("tmpfs", dst, "tmpfs", 0, fmt.Sprintf("size=%d", size)); err != nil {
		t.Fatalf("mount tmpfs: %v", err)
	}
	t.Cleanup(func() { unmount(t, dst) })
	return dst
}

func unmount(t *testing.T, dir string) {
	if err := syscall.Unmount(dir, 0); err != nil {
		if err := syscall.Unmount(dir, syscall.MNT_DETACH); err != nil {
			t.Errorf("unmount %s: %v", dir, err)
		}
	}
}

// setReadOnly remounts the bind mount at dir read-only or read-write. The
// kernel refuses (EBUSY) to make a mount read-only while a file on it is
// open for writing, which Tessera's checkpoint publisher may have for a
// moment: retry.
func setReadOnly(t *testing.T, dir string, ro bool) {
	t.Helper()
	flags := uintptr(syscall.MS_REMOUNT | syscall.MS_BIND)
	if ro {
		flags |= syscall.MS_RDONLY
	}
	deadline := time.Now().Add(5 * time.Second)
	for {
		err := syscall.Mount("", dir, "", flags, "")
		if err == nil {
			return
		}
		if !errors.Is(err, syscall.EBUSY) || time.Now().After(deadline) {
			t.Fatalf("remount %s (read-only %v): %v", dir, ro, err)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// waitHealth waits until the log reports want.
func waitHealth(t *testing.T, l *Log, want string, within time.Duration) {
	t.Helper()
	deadline := time.Now().Add(within)
	for {
		state, ready := l.Health()
		if state == want {
			if ready != (want == StateOK) {
				t.Fatalf("Health = %q, ready %v", state, ready)
			}
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("Health = %q after %s, want %q", state, within, want)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// wantUnavailable checks an Append error: ErrUnavailable, ErrAppend, and
// the system error behind it.
func wantUnavailable(t *testing.T, err error, cause syscall.Errno) {
	t.Helper()
	if !errors.Is(err, ErrUnavailable) || !errors.Is(err, ErrAppend) || !errors.Is(err, cause) {
		t.Fatalf("Append = %v; want ErrUnavailable and ErrAppend, caused by %v", err, cause)
	}
}

// verifySize verifies the closed log in dir and checks that its
// checkpoint covers exactly n entries.
func verifySize(t *testing.T, dir, vkey string, n uint64) {
	t.Helper()
	res := verifyDir(t, dir, vkey, nil)
	if !res.OK() || res.Checkpoint == nil || res.Checkpoint.Size != n {
		t.Fatalf("log after recovery: %d entries checked (want %d), problems %v", res.Entries, n, res.Problems)
	}
}

// TestReadOnlyFolderRefusesAndRecovers: the log folder turns read-only
// under a running log. An append finds it at once (the probe before the
// batch) and fails with ErrUnavailable instead of Tessera panicking; the
// process lives on and still serves the log; once the folder is writable
// again the log accepts entries by itself. With no decision arriving, the
// idle probe alone notices both changes.
func TestReadOnlyFolderRefusesAndRecovers(t *testing.T) {
	if !inChild(t, true) {
		return
	}
	dir := bindMount(t)
	l := openLog(t, testOptions(dir))
	ctx := context.Background()
	appendN(t, l, 0, 3)

	setReadOnly(t, dir, true)
	_, _, err := l.Append(ctx, testEntry(3))
	wantUnavailable(t, err, syscall.EROFS)
	if state, ready := l.Health(); state != StateUnwritable || ready {
		t.Fatalf("Health = %q, ready %v; want %q, not ready", state, ready, StateUnwritable)
	}
	_, _, err = l.Append(ctx, testEntry(3)) // refused at once, not queued
	wantUnavailable(t, err, syscall.EROFS)
	rec := httptest.NewRecorder()
	l.Handler().ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/checkpoint", nil))
	if rec.Code != http.StatusOK {
		t.Fatalf("GET /checkpoint on a read-only log = %d, want 200", rec.Code)
	}

	setReadOnly(t, dir, false)
	waitHealth(t, l, StateOK, 5*time.Second)
	if idx, known, err := l.Append(ctx, testEntry(3)); err != nil || !known || idx != 3 {
		t.Fatalf("Append after remount rw = %d, %v, %v; want index 3", idx, known, err)
	}

	// Idle: no append, the log notices by itself.
	setReadOnly(t, dir, true)
	waitHealth(t, l, StateUnwritable, 5*time.Second)
	setReadOnly(t, dir, false)
	waitHealth(t, l, StateOK, 5*time.Second)
	if idx, _, err := l.Append(ctx, testEntry(4)); err != nil || idx != 4 {
		t.Fatalf("Append after the idle round = %d, %v; want index 4", idx, err)
	}
	vkey := l.VerifierKey()
	closeLog(t, l)
	if state, ready := l.Health(); state != StateClosed || ready {
		t.Errorf("Health after Close = %q, %v", state, ready)
	}
	verifySize(t, dir, vkey, 5)
}

// TestAsyncReadOnlyKeepsQueuedEntries: in async mode, entries already
// answered when the folder turns read-only are kept, and written once it
// is writable again; new ones are refused meanwhile.
func TestAsyncReadOnlyKeepsQueuedEntries(t *testing.T) {
	if !inChild(t, true) {
		return
	}
	dir := bindMount(t)
	opts := testOptions(dir)
	opts.Async, opts.BatchMaxAge = true, time.Second
	l := openLog(t, opts)
	ctx := context.Background()
	// The first entry finds the log idle and is written at once; the next
	// two wait for the pacing, during which the folder turns read-only.
	// (Turning it read-only while a batch is on its way to Tessera would
	// hit the window doc.go describes, where Tessera still panics.)
	if _, _, err := l.Append(ctx, testEntry(0)); err != nil {
		t.Fatal(err)
	}
	for size := uint64(0); size < 1; size, _ = l.reader.IntegratedSize(ctx) {
		time.Sleep(time.Millisecond)
	}
	for i := 1; i < 3; i++ {
		if _, _, err := l.Append(ctx, testEntry(i)); err != nil {
			t.Fatal(err)
		}
	}
	setReadOnly(t, dir, true)
	waitHealth(t, l, StateUnwritable, 5*time.Second)
	if size, _ := l.reader.IntegratedSize(ctx); size != 1 {
		t.Fatalf("%d entries written before the folder turned read-only, want 1 (the test needs two held)", size)
	}
	_, _, err := l.Append(ctx, testEntry(3))
	wantUnavailable(t, err, syscall.EROFS)
	setReadOnly(t, dir, false)
	waitHealth(t, l, StateOK, 5*time.Second)
	vkey := l.VerifierKey()
	closeLog(t, l)
	if n := l.Failed(); n != 0 {
		t.Errorf("Failed = %d: answered entries were dropped", n)
	}
	verifySize(t, dir, vkey, 3)
}

// TestOpenReadOnlyFolder: Open on a read-only folder — an existing log, an
// empty folder, a folder still to be made — returns ErrUnavailable naming
// the cause; it does not panic (Tessera panics on it while it
// initialises, on Open's goroutine).
func TestOpenReadOnlyFolder(t *testing.T) {
	if !inChild(t, true) {
		return
	}
	existing := bindMount(t)
	l := openLog(t, testOptions(existing))
	appendN(t, l, 0, 2)
	closeLog(t, l)
	setReadOnly(t, existing, true)
	empty := bindMount(t)
	setReadOnly(t, empty, true)

	for name, dir := range map[string]string{
		"existing log": existing,
		"empty folder": empty,
		"to be made":   filepath.Join(empty, "log"),
	} {
		t.Run(name, func(t *testing.T) {
			l, err := Open(context.Background(), testOptions(dir))
			if err == nil {
				closeLog(t, l)
				t.Fatal("Open on a read-only folder succeeded")
			}
			if !errors.Is(err, ErrUnavailable) || !errors.Is(err, syscall.EROFS) ||
				!strings.Contains(err.Error(), dir) || strings.Contains(err.Error(), "\n") {
				t.Fatalf("Open = %v; want one line, ErrUnavailable, naming %s and EROFS", err, dir)
			}
			t.Logf("Open: %v", err)
		})
	}
}

// TestDiskFullRefusesAndRecovers: on a full tmpfs Tessera returns its
// error (it does not panic on ENOSPC); the log then finds the disk full,
// refuses entries with ErrUnavailable, and accepts them again once space
// is freed, with the tree intact.
func TestDiskFullRefusesAndRecovers(t *testing.T) {
	if !inChild(t, true) {
		return
	}
	dir := tmpfs(t, 4<<20)
	l := openLog(t, testOptions(dir))
	ctx := context.Background()
	appendN(t, l, 0, 3)

	ballast := filepath.Join(dir, "ballast")
	f, err := os.Create(ballast)
	if err != nil {
		t.Fatal(err)
	}
	for err == nil {
		_, err = f.Write(make([]byte, 64<<10))
	}
	f.Close()
	if !errors.Is(err, syscall.ENOSPC) {
		t.Fatalf("filling the tmpfs: %v", err)
	}

	_, _, err = l.Append(ctx, testEntry(3))
	if !errors.Is(err, ErrAppend) {
		t.Fatalf("Append on a full disk = %v, want ErrAppend", err)
	}
	waitHealth(t, l, StateDiskFull, time.Second)
	_, _, err = l.Append(ctx, testEntry(3))
	wantUnavailable(t, err, syscall.ENOSPC)

	os.Remove(ballast)
	waitHealth(t, l, StateOK, 5*time.Second)
	if idx, _, err := l.Append(ctx, testEntry(3)); err != nil || idx != 3 {
		t.Fatalf("Append after freeing space = %d, %v; want index 3", idx, err)
	}
	vkey := l.VerifierKey()
	closeLog(t, l)
	verifySize(t, dir, vkey, 4)
}

// TestOutOfDescriptorsRefusesAndRecovers: with RLIMIT_NOFILE lowered and
// every descriptor taken, an append fails with ErrUnavailable (EMFILE)
// instead of Tessera panicking; the log's files are answered with a 503
// problem; with fewer descriptors free than the guard's headroom the log
// still refuses; with them back it accepts entries by itself.
func TestOutOfDescriptorsRefusesAndRecovers(t *testing.T) {
	if !inChild(t, false) {
		return
	}
	dir := t.TempDir()
	l := openLog(t, testOptions(dir))
	ctx := context.Background()
	appendN(t, l, 0, 3)

	var lim syscall.Rlimit
	if err := syscall.Getrlimit(syscall.RLIMIT_NOFILE, &lim); err != nil {
		t.Fatal(err)
	}
	low := lim
	low.Cur = 512
	if err := syscall.Setrlimit(syscall.RLIMIT_NOFILE, &low); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { syscall.Setrlimit(syscall.RLIMIT_NOFILE, &lim) })
	var hoard []*os.File
	release := func(keep int) {
		for len(hoard) > keep {
			hoard[len(hoard)-1].Close()
			hoard = hoard[:len(hoard)-1]
		}
	}
	t.Cleanup(func() { release(0) })
	for {
		f, err := os.Open(os.DevNull)
		if err != nil {
			if !errors.Is(err, syscall.EMFILE) {
				t.Fatal(err)
			}
			break
		}
		hoard = append(hoard, f)
	}

	_, _, err := l.Append(ctx, testEntry(3))
	wantUnavailable(t, err, syscall.EMFILE)
	if state, _ := l.Health(); state != StateOutOfDescriptors {
		t.Fatalf("Health = %q, want %q", state, StateOutOfDescriptors)
	}
	rec := httptest.NewRecorder()
	l.Handler().ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/checkpoint", nil))
	var p problem
	if rec.Code != http.StatusServiceUnavailable || rec.Header().Get("Content-Type") != problemContentType ||
		json.Unmarshal(rec.Body.Bytes(), &p) != nil || p.Code != codeLogUnavailable {
		t.Errorf("GET /checkpoint without descriptors = %d %q %s; want a 503 problem", rec.Code, rec.Header().Get("Content-Type"), rec.Body)
	}

	// Fewer free than the headroom: Tessera could run out between the
	// probe and its own open, so the log keeps refusing.
	release(len(hoard) - fdHeadroom/4)
	time.Sleep(300 * time.Millisecond) // several retries
	_, _, err = l.Append(ctx, testEntry(3))
	wantUnavailable(t, err, syscall.EMFILE)

	release(0)
	waitHealth(t, l, StateOK, 5*time.Second)
	if idx, _, err := l.Append(ctx, testEntry(3)); err != nil || idx != 3 {
		t.Fatalf("Append with descriptors back = %d, %v; want index 3", idx, err)
	}
	vkey := l.VerifierKey()
	closeLog(t, l)
	verifySize(t, dir, vkey, 4)
}
