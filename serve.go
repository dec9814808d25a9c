package main

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/pprof"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/ageassure/ageassure/adapters/decisionlog"
	"github.com/ageassure/ageassure/adapters/localcache"
	"github.com/ageassure/ageassure/adapters/rediscache"
	"github.com/ageassure/ageassure/adapters/signer"
	"github.com/ageassure/ageassure/adapters/verifier"
	"github.com/ageassure/ageassure/policy"
	"github.com/ageassure/ageassure/service"
)

// serveConfig is every setting of `ageassure serve`. It holds paths, never
// secrets, so it can be logged whole at start-up.
type serveConfig struct {
	Addr              string
	Policy            string
	Keys              string
	Tenants           string
	Issuer            string
	AttestationTTL    time.Duration
	LogLevel          slog.Level
	LogFormat         string
	AccessLog         bool
	LocalCacheSize    int
	CacheSecretFile   string
	DecisionCacheTTL  time.Duration
	ReuseMaxAge       time.Duration
	Providers         string
	DebugAddr         string
	MetricsAddr       string
	MaxConnections    int
	EvidenceBudget    time.Duration
	MaxEvidence       int
	ShadowPolicy      string
	PolicyWatch       time.Duration
	Redis             redisFlags
	Log               logFlags
	MaxInFlight       int
	QueueTimeout      time.Duration
	ShutdownTimeout   time.Duration
	DrainDelay        time.Duration
	ReadHeaderTimeout time.Duration
	ReadTimeout       time.Duration
	WriteTimeout      time.Duration
	IdleTimeout       time.Duration
}

func (c *serveConfig) flags(fs *flag.FlagSet) {
	fs.StringVar(&c.Addr, "addr", ":8080", "`address` to listen on (host:port; port 0 picks a free port)")
	fs.StringVar(&c.Policy, "policy", "", "policy `path`: a YAML file or a folder of them (default: the built-in policy)")
	fs.StringVar(&c.ShadowPolicy, "shadow-policy", "", "candidate policy `path` evaluated beside the active one on live traffic: callers get the\nactive decision; disagreements are counted in metrics and marked in the decision log")
	fs.DurationVar(&c.PolicyWatch, "policy-watch", 5*time.Second, "how often to check the policy files for changes and reload them (0: only on SIGHUP)")
	fs.StringVar(&c.Keys, "keys", "", "`folder` of private signing keys (Ed25519 or P-256; JWK or PEM files); the newest signs,\nall are published in the JWKS (default: an ephemeral key, for development only)")
	fs.StringVar(&c.Tenants, "tenants", "", "tenants `file` (YAML list of {id, key_sha256}) (default: one development tenant\n\"dev\" with an API key printed once at start)")
	fs.StringVar(&c.Issuer, "issuer", service.DefaultIssuer, "the `iss` of attestations; use the service's public URL")
	fs.DurationVar(&c.AttestationTTL, "attestation-ttl", service.DefaultAttestationTTL, "how long an attestation is valid")
	fs.TextVar(&c.LogLevel, "log-level", slog.LevelInfo, "log `level`: debug, info, warn or error")
	fs.StringVar(&c.LogFormat, "log-format", "json", "log `format`: json or text")
	fs.BoolVar(&c.AccessLog, "access-log", false, "log one line per request (route, status, latency, tenant; never request data)")
	fs.IntVar(&c.LocalCacheSize, "local-cache-size", localcache.DefaultMaxEntries, "`entries` each in-process cache tier keeps at most (devices, decisions, subjects, replay,\nrate limits); about 200 bytes each. Redis, when configured, holds the rest")
	fs.StringVar(&c.CacheSecretFile, "cache-secret-file", "", "`file` holding the secret (at least 32 bytes) that keys every HMAC of a reference and every\ncache key; replicas must share it (default: random per process, so replicas share nothing)")
	fs.DurationVar(&c.DecisionCacheTTL, "decision-cache-ttl", service.DefaultDecisionCacheTTL, "how long a cached decision is served for identical normalized inputs")
	fs.DurationVar(&c.ReuseMaxAge, "reuse-max-age", service.DefaultReuseMaxAge, "longest re-use of a subject's earlier assurance (it ends sooner at the next age the policy knows)")
	fs.StringVar(&c.Providers, "providers", "", "providers `file` (YAML): the age-assurance providers and credential issuers whose signed\nevidence is verified (default: none; every signed evidence item is then unverifiable)")
	c.Redis.flags(fs)
	c.Log.flags(fs)
	// serve, not the log package, decides a new log's origin (logOrigin).
	fs.Lookup("log-origin").Usage = "the log's `origin`: first line of its checkpoints and name of its key, fixed for the log's life;\n" +
		"name it after the service's public URL, e.g. age.example.com/log. Required to create a log with\n" +
		"--keys or --tenants (default: the existing log's origin; for a new development log, a unique\n" +
		"dev.ageassure.invalid/log/<random> kept in the log folder)"
	fs.StringVar(&c.MetricsAddr, "metrics-addr", defaultMetricsAddr, "`address` serving /metrics (Prometheus) apart from the API: the metrics name tenants and show\n"+
		"traffic, so keep them private (port 0 picks a free port); \"api\" serves them on the API's own address")
	fs.IntVar(&c.MaxConnections, "max-connections", 0, "most client `connections` open at once; more are closed at accept, served ones undisturbed\n"+
		"(default: the open-file limit less a reserve for the decision log, Redis and providers)")
	fs.DurationVar(&c.EvidenceBudget, "evidence-budget", service.DefaultEvidenceBudget, "longest a check spends verifying its evidence, all items at once; what is not verified by\n"+
		"then counts as absent. Must leave room for the answer within --write-timeout")
	fs.IntVar(&c.MaxEvidence, "max-evidence-in-flight", service.DefaultMaxEvidenceInFlight, "most evidence items being verified at once, across all checks")
	fs.StringVar(&c.DebugAddr, "debug-addr", "", "`address` for Go's pprof profiling endpoints (/debug/pprof/); keep it on loopback\n(default: off)")
	fs.IntVar(&c.MaxInFlight, "max-in-flight", service.DefaultMaxInFlight, "most checks decided at once; more wait their turn, in order (bounds the run queue so an\noverload slows checks down instead of timing out Redis and the log)")
	fs.DurationVar(&c.QueueTimeout, "queue-timeout", service.DefaultQueueTimeout, "longest a check waits for its turn before a 503 overloaded with Retry-After")
	fs.DurationVar(&c.ShutdownTimeout, "shutdown-timeout", 20*time.Second, "how long SIGTERM waits for in-flight requests")
	fs.DurationVar(&c.DrainDelay, "drain-delay", 0, "after SIGTERM, how long to keep serving with /readyz failing before\nclosing the listener (lets a load balancer notice)")
	fs.DurationVar(&c.ReadHeaderTimeout, "read-header-timeout", 5*time.Second, "HTTP: time allowed to read request headers")
	fs.DurationVar(&c.ReadTimeout, "read-timeout", 10*time.Second, "HTTP: time allowed to read a whole request")
	fs.DurationVar(&c.WriteTimeout, "write-timeout", 10*time.Second, "HTTP: time allowed to write a response")
	fs.DurationVar(&c.IdleTimeout, "idle-timeout", 120*time.Second, "HTTP: how long an idle keep-alive connection stays open")
}

// LogValue lists the settings for the start-up log line.
func (c *serveConfig) LogValue() slog.Value {
	return slog.GroupValue(
		slog.String("addr", c.Addr),
		slog.String("policy", orDefault(c.Policy, "built-in")),
		slog.String("keys", orDefault(c.Keys, "ephemeral")),
		slog.String("tenants", orDefault(c.Tenants, "development tenant")),
		slog.String("issuer", c.Issuer),
		slog.Duration("attestation_ttl", c.AttestationTTL),
		slog.String("cache", c.Redis.mode()),
		slog.String("log_dir", c.Log.Dir),
	)
}

func orDefault(v, def string) string {
	if v == "" {
		return def
	}
	return v
}

// serve runs the HTTP API until ctx ends or SIGTERM/SIGINT arrives, then
// drains: stop accepting, finish in-flight requests, exit 0.
func serve(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	var cfg serveConfig
	fs := flag.NewFlagSet("serve", flag.ContinueOnError)
	fs.SetOutput(stderr)
	cfg.flags(fs)
	fs.Usage = flagUsage(fs, stderr, "Usage: ageassure serve [flags]\n\nRuns the age-check HTTP API.")
	if err := parseFlags(fs, args, os.LookupEnv); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return 0
		}
		fmt.Fprintf(stderr, "ageassure serve: %v\n", err)
		return 2
	}
	log, err := newLogger(stderr, cfg.LogFormat, cfg.LogLevel)
	if err != nil {
		fmt.Fprintf(stderr, "ageassure serve: %v\n", err)
		return 2
	}

	// Checked before anything is opened, so a refusal is the last line.
	connCap, err := maxConnections(cfg.MaxConnections, cfg.redisPool())
	if err != nil {
		fmt.Fprintf(stderr, "ageassure serve: %v\n", err)
		return 1
	}
	reg := prometheus.NewRegistry()
	svc, closeDeps, err := buildService(ctx, &cfg, reg, log, stderr)
	if err != nil {
		// One line per problem, each self-contained: a policy can have
		// several, and log collectors split on newlines.
		for _, line := range strings.Split(err.Error(), "\n") {
			fmt.Fprintf(stderr, "ageassure serve: %s\n", line)
		}
		return 1
	}
	defer closeDeps() // on every early return; a second call at shutdown does nothing

	ln, metrics, err := listen(&cfg, connCap, svc, reg, log)
	if err != nil {
		fmt.Fprintf(stderr, "ageassure serve: %v\n", err)
		return 1
	}
	srv := &http.Server{
		Handler:           svc.Handler(),
		ReadHeaderTimeout: cfg.ReadHeaderTimeout,
		ReadTimeout:       cfg.ReadTimeout,
		WriteTimeout:      cfg.WriteTimeout,
		IdleTimeout:       cfg.IdleTimeout,
		MaxHeaderBytes:    16 << 10,
		ErrorLog:          slog.NewLogLogger(log.Handler(), slog.LevelWarn),
	}

	ctx, stop := signal.NotifyContext(ctx, syscall.SIGTERM, syscall.SIGINT)
	defer stop()
	served := make(chan error, 1)
	go func() { served <- srv.Serve(ln) }()
	go newPolicyReloader(cfg.Policy, cfg.ShadowPolicy, svc, log).run(ctx, cfg.PolicyWatch)
	if cfg.DebugAddr != "" {
		dln, err := net.Listen("tcp", cfg.DebugAddr)
		if err != nil {
			fmt.Fprintf(stderr, "ageassure serve: --debug-addr %s: %v\n", cfg.DebugAddr, err)
			return 1
		}
		// pprof on its own listener, never on the API's: profiles show
		// internals that must not be public.
		go func() { _ = http.Serve(dln, pprofMux()) }()
		log.Warn("profiling endpoints enabled", slog.String("addr", dln.Addr().String()))
	}
	if metrics != nil {
		go func() { _ = metrics.srv.Serve(metrics.ln) }()
		defer metrics.srv.Close()
	}
	log.Info("listening", slog.String("addr", ln.Addr().String()), slog.String("metrics_addr", metrics.addr(ln)),
		slog.Int64("max_connections", ln.max), slog.Any("config", &cfg))

	select {
	case err := <-served:
		log.Error("server stopped", slog.Any("error", err))
		return 1
	case <-ctx.Done():
	}
	stop() // a second signal now kills the process the default way
	log.Info("shutting down: draining in-flight requests", slog.Duration("drain_delay", cfg.DrainDelay))
	svc.Drain()
	if cfg.DrainDelay > 0 {
		time.Sleep(cfg.DrainDelay)
	}
	sctx, cancel := context.WithTimeout(context.Background(), cfg.ShutdownTimeout)
	defer cancel()
	if err := srv.Shutdown(sctx); err != nil {
		log.Error("shutdown did not finish in time", slog.Any("error", err))
		return 1
	}
	closeDeps()
	log.Info("stopped")
	return 0
}

// buildService loads everything the service needs. Each failure names the
// file and the problem in one line, so a bad deployment is obvious.
func buildService(ctx context.Context, cfg *serveConfig, reg *prometheus.Registry, log *slog.Logger, stderr io.Writer) (*service.Service, func(), error) {
	svc, closers, err := buildServiceParts(ctx, cfg, reg, log, stderr)
	var once sync.Once
	closeAll := func() {
		once.Do(func() {
			for _, c := range closers {
				c()
			}
		})
	}
	if err != nil {
		closeAll()
		return nil, nil, err
	}
	return svc, closeAll, nil
}

// buildServiceParts does the work of buildService, returning what must be
// closed at shutdown even when it fails half-way.
func buildServiceParts(ctx context.Context, cfg *serveConfig, reg *prometheus.Registry, log *slog.Logger, stderr io.Writer) (_ *service.Service, closers []func(), _ error) {
	pol, cases, err := loadCheckedPolicy(cfg.Policy)
	if err != nil {
		return nil, closers, fmt.Errorf("policy %s: %w", orDefault(cfg.Policy, "(built-in)"), err)
	}
	log.Info("policy loaded", slog.String("id", pol.ID()), slog.String("hash", pol.Hash()),
		slog.Int("jurisdictions", len(pol.Jurisdictions())), slog.Int("cases_passed", cases))
	var shadow *policy.Policy
	if cfg.ShadowPolicy != "" {
		if shadow, _, err = loadCheckedPolicy(cfg.ShadowPolicy); err != nil {
			return nil, closers, fmt.Errorf("shadow policy %s: %w", cfg.ShadowPolicy, err)
		}
		log.Info("shadow policy loaded", slog.String("id", shadow.ID()), slog.String("hash", shadow.Hash()))
	}

	var sig *signer.Signer
	if cfg.Keys == "" {
		sig, err = signer.Ephemeral()
		if err != nil {
			return nil, closers, err
		}
		log.Warn("EPHEMERAL SIGNING KEY: attestations will not verify after a restart and replicas will not agree; set --keys for production",
			slog.String("kid", sig.KeyID()))
	} else {
		sig, err = signer.Load(cfg.Keys)
		if err != nil {
			return nil, closers, fmt.Errorf("keys %s: %w", cfg.Keys, err)
		}
		for _, w := range sig.Warnings() {
			log.Warn("signing key", slog.String("warning", w))
		}
		log.Info("signing keys loaded", slog.String("kid", sig.KeyID()), slog.String("alg", sig.Algorithm()))
	}

	var tenants *service.Tenants
	if cfg.Tenants == "" {
		key, t, err := service.DevTenant("dev")
		if err != nil {
			return nil, closers, err
		}
		tenants = t
		// Printed once, to the terminal, not through the logger: the key is
		// a secret and log pipelines keep lines forever.
		fmt.Fprintf(stderr, "\n  Development tenant \"dev\" — API key (shown once):\n\n    %s\n\n", key)
		log.Warn("DEVELOPMENT TENANT: no --tenants file; a random API key was printed to the terminal")
	} else {
		tenants, err = service.LoadTenantsFile(cfg.Tenants)
		if err != nil {
			return nil, closers, err
		}
		log.Info("tenants loaded", slog.Int("count", tenants.Len()))
	}

	origin, derived, err := logOrigin(&cfg.Log, cfg.production())
	if err != nil {
		return nil, closers, err
	}
	cfg.Log.Origin = origin
	switch {
	case derived:
		log.Warn("DEVELOPMENT LOG ORIGIN: a new decision log was named with a random origin, kept in its folder; set --log-origin for production",
			slog.String("origin", origin), slog.String("dir", cfg.Log.Dir))
	case origin == decisionlog.DefaultOrigin:
		log.Warn("the decision log's origin is the shared example name: auditors cannot tell it from other logs of that name; start new logs with --log-origin",
			slog.String("origin", origin), slog.String("dir", cfg.Log.Dir))
	}
	dlog, err := cfg.Log.open(ctx, log)
	if err != nil {
		return nil, closers, err
	}
	closers = append(closers, func() {
		// Drain and integrate every pending entry before exit; the context
		// only bounds a wedged disk.
		cctx, cancel := context.WithTimeout(context.Background(), cfg.ShutdownTimeout)
		defer cancel()
		if err := dlog.Close(cctx); err != nil {
			log.Error("decision log did not close cleanly", slog.Any("error", err))
		}
	})

	refKey, err := loadCacheSecret(cfg.CacheSecretFile)
	if err != nil {
		return nil, closers, err
	}
	if refKey == nil {
		log.Warn("no --cache-secret-file: a random secret keys the caches, so replicas will not recognise each other's devices, subjects, cached decisions or used evidence tokens")
		refKey = make([]byte, 32)
		if _, err := rand.Read(refKey); err != nil {
			return nil, closers, fmt.Errorf("generating the cache secret: %w", err)
		}
	}

	opts := service.Options{
		Policy:              pol,
		Signer:              sig,
		Tenants:             tenants,
		Issuer:              cfg.Issuer,
		AttestationTTL:      cfg.AttestationTTL,
		RefKey:              refKey,
		Logger:              log,
		Registry:            reg,
		AccessLog:           cfg.AccessLog,
		MaxInFlight:         cfg.MaxInFlight,
		QueueTimeout:        cfg.QueueTimeout,
		EvidenceBudget:      cfg.EvidenceBudget,
		MaxEvidenceInFlight: cfg.MaxEvidence,
		MetricsElsewhere:    cfg.MetricsAddr != metricsOnAPI,
		DecisionCacheTTL:    cfg.DecisionCacheTTL,
		ReuseMaxAge:         cfg.ReuseMaxAge,
		ShadowPolicy:        shadow,
		DecisionLog:         dlog,
		LogHandler:          dlog.Handler(),
	}
	var replay verifier.ReplayGuard
	if cfg.Redis.mode() == "in-process" {
		local := localcache.Options{MaxEntries: cfg.LocalCacheSize}
		opts.Devices = localcache.NewDeviceMemory(local)
		opts.Cache = localcache.NewKV(local)
		opts.RateLimiter = localcache.NewRateLimiter(local)
		opts.ReadyChecks = map[string]service.ReadyCheck{"cache": func() string { return "in-process" }}
		replay = localcache.NewReplay(local)
	} else {
		rc, err := cfg.Redis.config(cfg.LocalCacheSize, cfg.redisPool(), log)
		if err != nil {
			return nil, closers, err
		}
		store, err := rediscache.New(ctx, rc)
		if err != nil {
			return nil, closers, fmt.Errorf("redis: %w", err)
		}
		closers = append(closers, func() { _ = store.Close() })
		if err := store.Register(reg); err != nil {
			return nil, closers, fmt.Errorf("redis metrics: %w", err)
		}
		opts.Devices, opts.Cache, opts.RateLimiter = store, store, store
		opts.ReadyChecks = map[string]service.ReadyCheck{"redis": store.State}
		replay = store
	}
	// Without the log no decision can be issued: a log that cannot write
	// takes the replica out of the load balancer until it recovers.
	opts.ReadyGates = map[string]service.ReadyGate{"decision_log": dlog.Health}
	providers, err := loadProviders(cfg.Providers)
	if err != nil {
		return nil, closers, err
	}
	v, err := verifier.New(ctx, providers, verifier.Options{Replay: replay, ReplayKey: refKey, Logger: log})
	if err != nil {
		return nil, closers, fmt.Errorf("evidence verifier: %w", err)
	}
	closers = append(closers, v.Close)
	opts.Evidence = v
	log.Info("evidence providers", slog.Int("count", providers.Len()), slog.String("file", orDefault(cfg.Providers, "none")))

	if deadline := service.ResponseDeadline(opts); cfg.WriteTimeout <= deadline {
		return nil, closers, fmt.Errorf("--write-timeout %s: %w: a check may take up to %s before it is answered "+
			"(2 × --queue-timeout %s, --evidence-budget %s, 1s to decide and log); raise --write-timeout above it or lower the others",
			cfg.WriteTimeout, errNoRoomToAnswer, deadline, orDuration(cfg.QueueTimeout, service.DefaultQueueTimeout), orDuration(cfg.EvidenceBudget, service.DefaultEvidenceBudget))
	}
	svc, err := service.New(opts)
	return svc, closers, err
}

func orDuration(d, def time.Duration) time.Duration {
	if d == 0 {
		return def
	}
	return d
}

// redisPool is the size of the Redis connection pool, 0 without Redis.
// Every check in flight may hold a connection, and the rate limiter runs
// before admission: a pool smaller than that makes checks wait for a
// connection until the Redis timeout.
func (c *serveConfig) redisPool() int {
	if c.Redis.mode() == "in-process" {
		return 0
	}
	return max(c.MaxInFlight, service.DefaultMaxInFlight) + 16
}

// production tells whether serve runs with real identities (a signing key
// folder or a tenants file) rather than the development ones.
func (c *serveConfig) production() bool { return c.Keys != "" || c.Tenants != "" }

// logOrigin decides the origin of the decision log before it is opened.
// The origin is the log's identity: auditors pin a verifier key named after
// it and check every checkpoint against it, so it must be unique and can
// never change. An existing log keeps the origin it was created with (its
// checkpoint's, else its key's), and a different one asked for is refused.
// A new log takes --log-origin, or the name of the --log-key given; in
// production nothing else: a new log without one is refused. A new
// development log gets a random origin, derived = true; its key, created in
// the log folder and named after it, keeps it across restarts.
func logOrigin(l *logFlags, production bool) (origin string, derived bool, err error) {
	created := createdOrigin(l.Dir, l.KeyFile)
	want, source := l.Origin, "--log-origin"
	if want == "" && l.KeyFile != "" {
		want, source = keyName(l.Dir, l.KeyFile), "the name of --log-key "+l.KeyFile
	}
	switch {
	case created != "" && want != "" && want != created:
		return "", false, fmt.Errorf("decision log %s was created with origin %q, not %q (%s): a log keeps its origin for life; "+
			"pass --log-origin %s, or give the new origin a new --log-dir", l.Dir, created, want, source, created)
	case created != "":
		return created, false, nil
	case want != "":
		return want, false, nil
	case production:
		return "", false, fmt.Errorf("decision log %s: --log-origin is required to create a log with --keys or --tenants: "+
			"name it after the service's public URL (e.g. --log-origin age.example.com/log); it is fixed for the log's life", l.Dir)
	}
	b := make([]byte, 8)
	if _, err := rand.Read(b); err != nil {
		return "", false, fmt.Errorf("decision log %s: deriving an origin: %w", l.Dir, err)
	}
	return "dev.ageassure.invalid/log/" + hex.EncodeToString(b), true, nil
}

// createdOrigin is the origin an existing log folder was created with: the
// first line of its checkpoint, or, before the first checkpoint, the name
// of the key the log made for itself in the folder. "" for a new log.
func createdOrigin(dir, keyFile string) string {
	if raw, err := os.ReadFile(filepath.Join(dir, "checkpoint")); err == nil {
		first, _, _ := strings.Cut(string(raw), "\n")
		return first
	}
	if keyFile != "" && filepath.Clean(keyFile) != filepath.Join(dir, ".ageassure", "note.key") {
		return ""
	}
	return keyName(dir, "")
}

// keyName is the name of a note key file (its origin), or "" if the file
// cannot be read as one; opening the log reports why.
func keyName(dir, keyFile string) string {
	vkey, err := decisionlog.ReadVerifierKey(dir, keyFile)
	if err != nil {
		return ""
	}
	name, _, _ := strings.Cut(vkey, "+")
	return name
}

// loadProviders reads the providers file; without one no signed evidence
// can be verified (and counts as absent), which is safe but worth knowing.
func loadProviders(path string) (*verifier.Providers, error) {
	if path == "" {
		return verifier.NewProviders(nil)
	}
	return verifier.LoadProviders(path)
}

// loadCacheSecret reads the shared cache secret; nil when none is
// configured (the service then makes a random one).
func loadCacheSecret(path string) ([]byte, error) {
	if path == "" {
		return nil, nil
	}
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("cache secret file %s: %w", path, err)
	}
	b = bytes.TrimSpace(b)
	if len(b) < 32 {
		return nil, fmt.Errorf("cache secret file %s: %d bytes; need at least 32 random bytes", path, len(b))
	}
	return b, nil
}

// newLogger builds the process logger. JSON by default, for log pipelines.
func newLogger(w io.Writer, format string, level slog.Level) (*slog.Logger, error) {
	opts := &slog.HandlerOptions{Level: level}
	switch format {
	case "json":
		return slog.New(slog.NewJSONHandler(w, opts)), nil
	case "text":
		return slog.New(slog.NewTextHandler(w, opts)), nil
	}
	return nil, fmt.Errorf("--log-format %q: want json or text", format)
}

// pprofMux serves net/http/pprof's handlers.
func pprofMux() *http.ServeMux {
	mux := http.NewServeMux()
	mux.HandleFunc("/debug/pprof/", pprof.Index)
	mux.HandleFunc("/debug/pprof/cmdline", pprof.Cmdline)
	mux.HandleFunc("/debug/pprof/profile", pprof.Profile)
	mux.HandleFunc("/debug/pprof/symbol", pprof.Symbol)
	mux.HandleFunc("/debug/pprof/trace", pprof.Trace)
	return mux
}
