// Command loadtest measures an ageassure service: it sends a seeded,
// realistic mix of age checks (POST /v1/age-checks) at a fixed rate or as
// fast as a number of workers can, with tsenart/vegeta, and reports
// throughput, latency quantiles and the decision mix; --compare alternates
// the same traffic between two targets and reports the ratios.
//
//	go run ./loadtest --target http://127.0.0.1:8080 --key "$KEY" --rate 5000 --duration 30s
//
// Load tests must only target your own hosts: anything but loopback is
// refused unless --allow-remote is given.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"runtime/debug"
	"strings"
	"syscall"
	"time"

	"github.com/ageassure/ageassure/internal/cliflag"
)

// Exit statuses.
const (
	exitOK      = 0
	exitFailed  = 1 // an error, or success below --min-success
	exitUsage   = 2
	envPrefix   = "AGEASSURE_LOADTEST_"
	maxDuration = 10 * time.Minute
	maxRate     = 1_000_000
	maxWorkers  = 10_000
	// maxRequests bounds every run, per target, whatever the flags say.
	maxRequests = 100_000_000
)

// generatorGCPercent is the collector's GOGC unless the environment sets
// one. The generator's live heap is small (connections, buffers, the
// latency digest) but it allocates per request, and on the machine it
// shares with the target every collection takes CPU from the service
// under test: at 2,500/s, GOGC=400 cut the generator's CPU by 3-6% for a
// few tens of MB more, which a short-lived tool can spare.
const generatorGCPercent = 400

func main() {
	if _, set := os.LookupEnv("GOGC"); !set {
		debug.SetGCPercent(generatorGCPercent)
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := run(ctx, os.Args[1:], os.Stdout, os.Stderr, os.LookupEnv)
	stop()
	os.Exit(code)
}

// options are the parsed flags.
type options struct {
	target, compare  string
	key              string
	rate             int
	workers          int
	maxWorkers       int
	duration         time.Duration
	slice            time.Duration
	timeout          time.Duration
	maxRequests      uint64
	seed             uint64
	mixPath          string
	out              string
	minSuccess       float64
	allowRemote      bool
	progress, quiet  bool
	maxWorkersWasSet bool
}

// newFlagSet defines the flags on a FlagSet writing usage to stderr.
func newFlagSet(o *options, stderr io.Writer) *flag.FlagSet {
	fs := flag.NewFlagSet("loadtest", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.StringVar(&o.target, "target", "", "base `URL` of the service under test (required); loopback only unless --allow-remote")
	fs.StringVar(&o.key, "key", "", "API `key` sent as Authorization: Bearer (required; prefer the environment variable, flags show in ps)")
	fs.IntVar(&o.rate, "rate", 1000, "send `N` requests per second to each target (open loop); 0 = as fast as --workers go (closed loop)")
	fs.IntVar(&o.workers, "workers", 16, "initial `N` of workers; with --rate 0, the exact concurrency")
	fs.IntVar(&o.maxWorkers, "max-workers", 1000, "most workers (`N`) vegeta may add to hold --rate when answers are slow (not with --rate 0)")
	fs.DurationVar(&o.duration, "duration", 10*time.Second, "how long to attack each target (> 0, at most 10m)")
	fs.StringVar(&o.compare, "compare", "", "second base `URL`: the same traffic alternates between --target (A) and this (B), and B/A ratios are reported")
	fs.DurationVar(&o.slice, "compare-slice", time.Second, "with --compare, how long each target is attacked in turn")
	fs.DurationVar(&o.timeout, "timeout", 5*time.Second, "per-request timeout")
	fs.Uint64Var(&o.maxRequests, "max-requests", 0, "stop each target after `N` requests (0 = the built-in bound, 100000000)")
	fs.Uint64Var(&o.seed, "seed", 1, "seed of the traffic mix: the same seed sends the same requests in the same order")
	fs.StringVar(&o.mixPath, "mix", "", "YAML `file` overriding the default traffic mix (format below)")
	fs.StringVar(&o.out, "out", "", "`directory` to write results.bin (vegeta gob, bodies dropped), results.csv and latency.html")
	fs.Float64Var(&o.minSuccess, "min-success", 99.99, "exit status 1 when any target's share of 2xx answers, in `percent`, is below this")
	fs.BoolVar(&o.allowRemote, "allow-remote", false, "allow a target that is not loopback; only ever point a load test at hosts you run")
	fs.BoolVar(&o.progress, "progress", false, "draw the progress bar even when stderr is not a terminal")
	fs.BoolVar(&o.quiet, "quiet", false, "no progress bar and no notes: only the report (and errors)")
	fs.Usage = func() { usage(fs, stderr) }
	return fs
}

// envName is the environment variable that sets flag name.
func envName(name string) string { return cliflag.EnvName(envPrefix, name) }

// parseFlags parses args, then fills every flag not given on the command
// line from its environment variable.
func parseFlags(fs *flag.FlagSet, args []string, lookupEnv func(string) (string, bool)) error {
	return cliflag.Parse(fs, args, envPrefix, lookupEnv)
}

// validate checks the options against each other and the hard limits.
func (o *options) validate(fs *flag.FlagSet) error {
	fs.Visit(func(f *flag.Flag) { o.maxWorkersWasSet = o.maxWorkersWasSet || f.Name == "max-workers" })
	var errs []error
	if o.target == "" {
		errs = append(errs, errors.New("--target is required"))
	}
	if o.key == "" {
		errs = append(errs, fmt.Errorf("--key (or %s) is required", envName("key")))
	}
	if o.rate < 0 || o.rate > maxRate {
		errs = append(errs, fmt.Errorf("--rate %d is not in 0..%d", o.rate, maxRate))
	}
	if o.workers < 1 || o.workers > maxWorkers {
		errs = append(errs, fmt.Errorf("--workers %d is not in 1..%d", o.workers, maxWorkers))
	}
	if o.rate == 0 && o.maxWorkersWasSet {
		errs = append(errs, errors.New("--max-workers applies to a fixed --rate; with --rate 0, --workers is the concurrency"))
	}
	if o.rate > 0 && (o.maxWorkers < o.workers || o.maxWorkers > maxWorkers) {
		errs = append(errs, fmt.Errorf("--max-workers %d is not in --workers..%d", o.maxWorkers, maxWorkers))
	}
	if o.duration <= 0 || o.duration > maxDuration {
		errs = append(errs, fmt.Errorf("--duration %v is not in (0, %v]", o.duration, maxDuration))
	}
	if o.slice <= 0 {
		errs = append(errs, fmt.Errorf("--compare-slice %v must be positive", o.slice))
	}
	if o.timeout <= 0 || o.timeout > time.Minute {
		errs = append(errs, fmt.Errorf("--timeout %v is not in (0, 1m]", o.timeout))
	}
	if o.maxRequests == 0 || o.maxRequests > maxRequests {
		o.maxRequests = maxRequests
	}
	if o.minSuccess < 0 || o.minSuccess > 100 {
		errs = append(errs, fmt.Errorf("--min-success %v is not a percentage", o.minSuccess))
	}
	return errors.Join(errs...)
}

// run is main without the process: it returns the exit status.
func run(ctx context.Context, args []string, stdout, stderr io.Writer, lookupEnv func(string) (string, bool)) int {
	var o options
	fs := newFlagSet(&o, stderr)
	if err := parseFlags(fs, args, lookupEnv); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return exitOK
		}
		fmt.Fprintf(stderr, "loadtest: %v\n", err)
		return exitUsage
	}
	if err := o.validate(fs); err != nil {
		fmt.Fprintf(stderr, "loadtest: %v\n(see --help)\n", strings.ReplaceAll(err.Error(), "\n", "\n  "))
		return exitUsage
	}
	targets := []string{o.target}
	if o.compare != "" {
		targets = append(targets, o.compare)
	}
	for _, t := range targets {
		if _, err := checkTarget(t, o.allowRemote); err != nil {
			fmt.Fprintf(stderr, "loadtest: %v\n", err)
			return exitUsage
		}
	}
	mix := DefaultMix()
	if o.mixPath != "" {
		var err error
		if mix, err = LoadMix(o.mixPath); err != nil {
			fmt.Fprintf(stderr, "loadtest: %v\n", err)
			return exitUsage
		}
	}
	sums, err := loadTest(ctx, &o, targets, mix, stderr)
	if err != nil {
		fmt.Fprintf(stderr, "loadtest: %v\n", err)
		return exitFailed
	}
	if err := writeReport(stdout, sums); err != nil {
		fmt.Fprintf(stderr, "loadtest: %v\n", err)
		return exitFailed
	}
	status := exitOK
	for _, s := range sums {
		if s.Requests == 0 || s.Success*100 < o.minSuccess {
			fmt.Fprintf(stderr, "loadtest: %s: success %s is below --min-success %v%%\n", s.Target, fmtPercent(s.Success), o.minSuccess)
			status = exitFailed
		}
	}
	if ctx.Err() != nil {
		fmt.Fprintln(stderr, "loadtest: interrupted; the report covers what was sent")
		status = exitFailed
	}
	return status
}
