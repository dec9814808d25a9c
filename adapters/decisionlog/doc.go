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
package decisionlog
