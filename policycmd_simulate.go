package main

import (
	"cmp"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"runtime"
	"slices"
	"strconv"
	"sync"
	"text/tabwriter"
	"time"

	jsonv2 "github.com/go-json-experiment/json"
	"golang.org/x/mod/sumdb/note"

	"github.com/ageassure/ageassure/adapters/decisionlog"
	"github.com/ageassure/ageassure/policy"
	"github.com/ageassure/ageassure/service"
	"github.com/ageassure/ageassure/service/logentry"
)

// policySimulate replays the decision log through a candidate policy.
func policySimulate(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	fs := policyFlags("simulate", "Usage: ageassure policy simulate --candidate <path|builtin> --log <dir|URL> [--key <verifier key>]\n"+
		"         [--from YYYY-MM-DD] [--to YYYY-MM-DD] [--format table|json] [--strict-entries]\n\n"+
		"Replays every past decision of the log (PII-free: jurisdiction, stage, whole-year age, the age\n"+
		"range stronger evidence established, risk signals, device history, consent, time) through the\n"+
		"candidate policy, and prints how many decisions would change, from what to what, by jurisdiction\n"+
		"and age band, most frequent first. Entries are evaluated in parallel. With --key the checkpoint's\n"+
		"signature is checked first (run ageassure audit verify for the whole log).", stderr)
	candidate := fs.String("candidate", "", "the candidate `policy`: a file or folder, or builtin")
	logSrc := fs.String("log", "", "the decision log: a `folder` or the service's URL")
	key := fs.String("key", "", "the log's verifier `key`, inline or as a file: check the checkpoint's signature first")
	from := fs.String("from", "", "first `day` to replay (YYYY-MM-DD, UTC)")
	to := fs.String("to", "", "last `day` to replay (YYYY-MM-DD, UTC)")
	format := fs.String("format", "table", "output `format`: table or json")
	strictEntries := fs.Bool("strict-entries", false, "parse entries strictly (canonical form and schema, as audit verify does); slower")
	progress := fs.Bool("progress", false, "draw a progress bar on stderr even when it is not a terminal")
	if _, code, ok := parsePolicyFlags(fs, args, stderr); !ok {
		return code
	}
	usage := func(format string, a ...any) int {
		fmt.Fprintf(stderr, "ageassure policy simulate: "+format+"\n", a...)
		return 2
	}
	if *candidate == "" {
		return usage("--candidate is required (a policy file or folder, or builtin)")
	}
	for name, d := range map[string]string{"--from": *from, "--to": *to} {
		if _, err := time.Parse(time.DateOnly, d); d != "" && err != nil {
			return usage("%s %q: want YYYY-MM-DD", name, d)
		}
	}
	if *format != "table" && *format != "json" {
		return usage("--format %q: want table or json", *format)
	}
	var v note.Verifier
	if *key != "" {
		var err error
		if v, err = loadVerifier(*key); err != nil {
			return usage("%v", err)
		}
	}
	p, err := loadPolicyArg(*candidate)
	if err != nil {
		printLoadError(stderr, "simulate", *candidate, err)
		return 1
	}
	r, err := openLogSource(*logSrc)
	if err != nil {
		return usage("%v", err)
	}
	update, finish := progressFunc(stderr, *progress, "replaying")
	start := time.Now()
	sim, err := simulate(ctx, r, v, newReplayer(p, *from, *to, *strictEntries), update)
	finish()
	if err != nil {
		fmt.Fprintf(stderr, "ageassure policy simulate: %v\n", err)
		return 1
	}
	sim.Seconds = time.Since(start).Seconds()
	if !sim.Verified {
		fmt.Fprintln(stderr, "ageassure policy simulate: warning: no --key, the checkpoint's signature was not checked")
	}
	if sim.Invalid > 0 {
		fmt.Fprintf(stderr, "ageassure policy simulate: warning: %d entries did not parse or validate and were not replayed; run ageassure audit verify\n", sim.Invalid)
	}
	if *format == "json" {
		enc := json.NewEncoder(stdout)
		enc.SetIndent("", "  ")
		err = enc.Encode(sim)
	} else {
		err = writeSimulation(stdout, sim)
	}
	if err != nil {
		fmt.Fprintf(stderr, "ageassure policy simulate: %v\n", err)
		return 1
	}
	return 0
}

// simulation is the outcome of a replay.
type simulation struct {
	Candidate policy.PolicyRef `json:"candidate"`
	Log       string           `json:"log"`
	TreeSize  uint64           `json:"tree_size"`
	Verified  bool             `json:"checkpoint_verified"`
	simCounts
	Changes     []simChange `json:"changes"`     // by jurisdiction × band × from → to, most frequent first
	Transitions []simChange `json:"transitions"` // from → to over all jurisdictions and bands
	Seconds     float64     `json:"seconds"`
}

// simCounts are the totals of a replay.
type simCounts struct {
	Entries   uint64 `json:"entries"`    // entries read
	Replayed  uint64 `json:"replayed"`   // entries evaluated
	Changed   uint64 `json:"changed"`    // replayed entries whose decision changes
	Unchanged uint64 `json:"unchanged"`  // replayed entries whose decision stays
	Invalid   uint64 `json:"invalid"`    // entries that did not parse or validate
	OutOfDate uint64 `json:"out_of_day"` // entries outside --from/--to
}

// simKey is one cell of the change table.
type simKey struct {
	Jurisdiction, Band, From, To string
}

// simChange is a count of one cell.
type simChange struct {
	Jurisdiction string `json:"jurisdiction,omitempty"`
	Band         string `json:"band,omitempty"`
	From         string `json:"from"`
	To           string `json:"to"`
	Count        uint64 `json:"count"`
}

// simAcc accumulates one worker's replay; workers merge at the end.
type simAcc struct {
	simCounts
	changes map[simKey]uint64
}

func newSimAcc() *simAcc { return &simAcc{changes: map[simKey]uint64{}} }

func (a *simAcc) merge(b *simAcc) {
	a.Entries += b.Entries
	a.Replayed += b.Replayed
	a.Changed += b.Changed
	a.Unchanged += b.Unchanged
	a.Invalid += b.Invalid
	a.OutOfDate += b.OutOfDate
	for k, n := range b.changes {
		a.changes[k] += n
	}
}

// replayer turns log entries into policy inputs and evaluates them.
type replayer struct {
	p        *policy.Policy
	from, to string
	strict   bool
}

func newReplayer(p *policy.Policy, from, to string, strict bool) *replayer {
	return &replayer{p: p, from: from, to: to, strict: strict}
}

// decode parses an entry, strictly (canonical form and schema, as audit
// verify checks) or fast: the canonical re-encoding logentry.Parse does
// dominated replay time, and checking the form is audit verify's job.
func (r *replayer) decode(b []byte) (*logentry.Entry, bool) {
	if r.strict {
		e, err := logentry.Parse(b)
		if err == nil {
			err = e.Validate()
		}
		if err != nil {
			return nil, false
		}
		return e, true
	}
	var e logentry.Entry
	if err := jsonv2.Unmarshal(b, &e); err != nil || e.V != logentry.Version || len(e.Time) < 10 ||
		!policy.Decision(e.Decision).Valid() || e.Age < 0 || e.Age > 150 {
		return nil, false
	}
	return &e, true
}

// replay evaluates one entry into acc.
func (r *replayer) replay(b []byte, acc *simAcc) {
	acc.Entries++
	e, ok := r.decode(b)
	if !ok {
		acc.Invalid++
		return
	}
	if day := e.Time[:10]; (r.from != "" && day < r.from) || (r.to != "" && day > r.to) {
		acc.OutOfDate++
		return
	}
	in, err := service.ReplayInput(e)
	if err != nil {
		acc.Invalid++
		return
	}
	acc.Replayed++
	got := string(r.p.Evaluate(in).Decision)
	if got == e.Decision {
		acc.Unchanged++
		return
	}
	acc.Changed++
	acc.changes[simKey{Jurisdiction: e.Jurisdiction, Band: e.Band, From: e.Decision, To: got}]++
}

// replayBatchSize is how many entries a worker takes at a time: large
// enough that channel operations are noise, small enough to balance.
const replayBatchSize = 512

// replayParallel evaluates batches from the channel on GOMAXPROCS workers
// and returns the merged result.
func (r *replayer) replayParallel(batches <-chan [][]byte) *simAcc {
	workers := runtime.GOMAXPROCS(0)
	accs := make([]*simAcc, workers)
	var wg sync.WaitGroup
	for w := range workers {
		accs[w] = newSimAcc()
		wg.Go(func() {
			for batch := range batches {
				for _, b := range batch {
					r.replay(b, accs[w])
				}
			}
		})
	}
	wg.Wait()
	total := newSimAcc()
	for _, a := range accs {
		total.merge(a)
	}
	return total
}

// simulate reads every entry of the log and replays it.
func simulate(ctx context.Context, lr *decisionlog.Reader, v note.Verifier, r *replayer, progress func(done, total uint64)) (*simulation, error) {
	cp, err := lr.ReadCheckpoint(ctx, v)
	if err != nil {
		return nil, err
	}
	batches := make(chan [][]byte, 2*runtime.GOMAXPROCS(0))
	done := make(chan *simAcc, 1)
	go func() { done <- r.replayParallel(batches) }()
	batch := make([][]byte, 0, replayBatchSize)
	err = lr.Leaves(ctx, cp.Size, func(l decisionlog.Leaf) error {
		if progress != nil && (l.Index%4096 == 0 || l.Index+1 == cp.Size) {
			progress(l.Index+1, cp.Size)
		}
		batch = append(batch, l.Data)
		if len(batch) == replayBatchSize {
			batches <- batch
			batch = make([][]byte, 0, replayBatchSize)
		}
		return ctx.Err()
	})
	if len(batch) > 0 {
		batches <- batch
	}
	close(batches)
	acc := <-done
	if err != nil {
		return nil, err
	}
	sim := &simulation{
		Candidate: policy.PolicyRef{ID: r.p.ID(), Hash: r.p.Hash()},
		Log:       lr.Location(), TreeSize: cp.Size, Verified: cp.Verified,
		simCounts: acc.simCounts,
	}
	sim.Changes, sim.Transitions = acc.tables()
	return sim, nil
}

// tables sorts the changes, most frequent first, and sums the transitions.
func (a *simAcc) tables() (changes, transitions []simChange) {
	byCount := func(x, y simChange) int {
		return cmp.Or(cmp.Compare(y.Count, x.Count), cmp.Compare(x.Jurisdiction, y.Jurisdiction),
			cmp.Compare(slices.Index(logentry.Bands(), x.Band), slices.Index(logentry.Bands(), y.Band)),
			cmp.Compare(x.From, y.From), cmp.Compare(x.To, y.To))
	}
	sums := map[[2]string]uint64{}
	changes = []simChange{}
	for k, n := range a.changes {
		changes = append(changes, simChange{Jurisdiction: k.Jurisdiction, Band: k.Band, From: k.From, To: k.To, Count: n})
		sums[[2]string{k.From, k.To}] += n
	}
	slices.SortFunc(changes, byCount)
	transitions = []simChange{}
	for k, n := range sums {
		transitions = append(transitions, simChange{From: k[0], To: k[1], Count: n})
	}
	slices.SortFunc(transitions, byCount)
	return changes, transitions
}

func percent(n, of uint64) string {
	if of == 0 {
		return "0%"
	}
	return strconv.FormatFloat(float64(n)*100/float64(of), 'f', 2, 64) + "%"
}

// writeSimulation prints the totals and the change table.
func writeSimulation(w io.Writer, s *simulation) error {
	bw := &errWriter{w: w}
	verified := "checkpoint signature not checked"
	if s.Verified {
		verified = "checkpoint verified"
	}
	bw.printf("candidate  %s  %s\n", s.Candidate.ID, s.Candidate.Hash)
	bw.printf("log        %s (%d entries, %s)\n\n", s.Log, s.TreeSize, verified)
	line := func(what string, n uint64, note string) { bw.printf("%-20s %10d  %s\n", what, n, note) }
	line("entries", s.Entries, "")
	line("replayed", s.Replayed, "")
	line("changed", s.Changed, percent(s.Changed, s.Replayed))
	line("unchanged", s.Unchanged, percent(s.Unchanged, s.Replayed))
	if s.OutOfDate > 0 {
		line("outside --from/--to", s.OutOfDate, "not replayed")
	}
	if s.Invalid > 0 {
		line("unreadable", s.Invalid, "not replayed")
	}
	if len(s.Changes) == 0 {
		bw.printf("\nno decision would change\n")
		return bw.err
	}
	bw.printf("\nchanges\n")
	tw := tabwriter.NewWriter(bw, 0, 0, 2, ' ', 0)
	for _, c := range s.Transitions {
		fmt.Fprintf(tw, "  %s\t→\t%s\t%d\n", c.From, c.To, c.Count)
	}
	tw.Flush()
	bw.printf("\nby jurisdiction and band\n")
	tw = tabwriter.NewWriter(bw, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "  JURISDICTION\tBAND\tFROM\t\tTO\tCOUNT")
	for _, c := range s.Changes {
		fmt.Fprintf(tw, "  %s\t%s\t%s\t→\t%s\t%d\n", c.Jurisdiction, c.Band, c.From, c.To, c.Count)
	}
	tw.Flush()
	return bw.err
}
