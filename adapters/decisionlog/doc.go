// Package decisionlog keeps ageassure's decision log: a public, append-only
// Merkle-tree transparency log of [logentry.Entry] records, built on
// transparency-dev/tessera with its POSIX storage driver.
//
// The log is standard, so regulators need nothing from ageassure to check
// it: RFC 6962 hashing, checkpoints as C2SP tlog-checkpoint signed notes
// (Ed25519 note key, named after the log's origin), files laid out as C2SP
// tlog-tiles. Tessera does all Merkle work; this package only chooses
// settings, manages the note key, serves the files read-only and reads
// them back for the audit commands.
//
// Writing:
//
//	l, err := decisionlog.Open(ctx, decisionlog.Options{Dir: "./data/log"})
//	idx, known, err := l.Append(ctx, entry) // durable: returns once on disk
//	state, ready := l.Health()              // for /readyz: "ok", "unwritable", …
//	mux.Handle("/log/", http.StripPrefix("/log", l.Handler()))
//	defer l.Close(ctx) // drains and publishes a final checkpoint
//
// Reading (a folder or the service's URL), for auditors:
//
//	r, err := decisionlog.OpenReader("https://ageassure.example", nil)
//	res, err := decisionlog.Verify(ctx, r, verifier, decisionlog.VerifyOptions{})
//
// Durability: by default Append returns only after Tessera has sequenced
// the entry, which for the POSIX driver means the entry bundle, the tiles
// and the tree state were written with O_SYNC and their directories
// fsync'd, so a SIGKILL after a decision was answered cannot lose it: the
// next start publishes a checkpoint covering it. Checkpoints themselves are
// published every CheckpointInterval.
//
// # A folder that cannot be written
//
// Tessera v1.0.4, the newest release, does not return every write failure
// as an error. Its POSIX driver opens <Dir>/.state/treeState.lock
// (O_CREAT|O_RDWR) at the start of each batch, in
// (*appender).sequenceBatch on its queue's flush goroutine
// (storage/posix/files.go:264-266), and panics if the open fails: EROFS,
// EACCES, ENOENT, EMFILE, ENFILE. No recover can reach that goroutine; the
// process dies. It does the same while initialising, on the caller's
// goroutine, inside tessera.NewAppender. Other failures (ENOSPC, EIO while
// writing tiles, bundles or the tree state) come back as errors.
//
// So the log never lets Tessera find out for itself. Open makes the folder
// and .state and writes, fsyncs and removes a probe file before the key
// or Tessera touch anything, and fails with ErrUnavailable if it cannot
// (and recovers a panic from Tessera's initialisation into the same
// error). While running, before each batch goes to Tessera, the log opens
// the lock file exactly as Tessera will and checks that 32 descriptors are
// free (about 20 µs); every second while idle it does the same, so a
// folder that turns read-only is noticed without traffic. If the probe
// fails the batch is held back: its durable callers fail with
// ErrUnavailable, new entries are refused at once, async entries already
// answered are kept and written later (or failed and counted in Failed if
// the log is closed first). The log then probes thoroughly
// (write, fsync, remove) after 50 ms, doubling to 2 s, and accepts entries
// again as soon as it passes. A batch that Tessera fails is followed by the
// thorough probe at once; if that passes the log still refuses entries for
// one retry delay (StateFailing; the delay grows while batches keep
// failing), so a fault the probe cannot see costs a failed batch every
// 2 s rather than every request. Health reports the state for a readiness
// check.
//
// What remains: the probe runs about a millisecond before Tessera's own
// open (the time it takes to hand the batch over, including Tessera's
// 500 µs batching linger). A file system remounted read-only, or the last
// 32 descriptors taken by the rest of the process, inside that millisecond
// still reaches Tessera's panic. So does a failing close(2) of the lock
// file after a batch (files.go:270), which Tessera also panics on (close
// of a local file does not fail in practice; on NFS it can).
//
// The probes never create .state once the log is open: a missing .state
// would make Tessera start the tree again from zero, so it stays an error
// (StateUnwritable) until an operator restores it.
package decisionlog
