package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"github.com/ageassure/ageassure/adapters/localcache"
	"github.com/ageassure/ageassure/adapters/signer"
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
	MaxDevices        int
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
	fs.StringVar(&c.Keys, "keys", "", "`folder` of private signing keys (Ed25519 or P-256; JWK or PEM files); the newest signs,\nall are published in the JWKS (default: an ephemeral key, for development only)")
	fs.StringVar(&c.Tenants, "tenants", "", "tenants `file` (YAML list of {id, key_sha256}) (default: one development tenant\n\"dev\" with an API key printed once at start)")
	fs.StringVar(&c.Issuer, "issuer", service.DefaultIssuer, "the `iss` of attestations; use the service's public URL")
	fs.DurationVar(&c.AttestationTTL, "attestation-ttl", service.DefaultAttestationTTL, "how long an attestation is valid")
	fs.TextVar(&c.LogLevel, "log-level", slog.LevelInfo, "log `level`: debug, info, warn or error")
	fs.StringVar(&c.LogFormat, "log-format", "json", "log `format`: json or text")
	fs.BoolVar(&c.AccessLog, "access-log", false, "log one line per request (route, status, latency, tenant; never request data)")
	fs.IntVar(&c.MaxDevices, "max-devices", 1_000_000, "`entries` the in-process anti-hopping memory keeps at most")
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

	svc, err := buildService(&cfg, log, stderr)
	if err != nil {
		// One line per problem, each self-contained: a policy can have
		// several, and log collectors split on newlines.
		for _, line := range strings.Split(err.Error(), "\n") {
			fmt.Fprintf(stderr, "ageassure serve: %s\n", line)
		}
		return 1
	}

	ln, err := net.Listen("tcp", cfg.Addr)
	if err != nil {
		fmt.Fprintf(stderr, "ageassure serve: listen on %s: %v\n", cfg.Addr, err)
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
	log.Info("listening", slog.String("addr", ln.Addr().String()), slog.Any("config", &cfg))

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
	log.Info("stopped")
	return 0
}

// buildService loads everything the service needs. Each failure names the
// file and the problem in one line, so a bad deployment is obvious.
func buildService(cfg *serveConfig, log *slog.Logger, stderr io.Writer) (*service.Service, error) {
	var pol *policy.Policy
	var err error
	if cfg.Policy == "" {
		pol, err = policy.Builtin()
	} else {
		pol, err = policy.Load(cfg.Policy)
	}
	if err != nil {
		return nil, fmt.Errorf("policy %s: %w", orDefault(cfg.Policy, "(built-in)"), err)
	}
	log.Info("policy loaded", slog.String("id", pol.ID()), slog.String("hash", pol.Hash()),
		slog.Int("jurisdictions", len(pol.Jurisdictions())))

	var sig *signer.Signer
	if cfg.Keys == "" {
		sig, err = signer.Ephemeral()
		if err != nil {
			return nil, err
		}
		log.Warn("EPHEMERAL SIGNING KEY: attestations will not verify after a restart and replicas will not agree; set --keys for production",
			slog.String("kid", sig.KeyID()))
	} else {
		sig, err = signer.Load(cfg.Keys)
		if err != nil {
			return nil, fmt.Errorf("keys %s: %w", cfg.Keys, err)
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
			return nil, err
		}
		tenants = t
		// Printed once, to the terminal, not through the logger: the key is
		// a secret and log pipelines keep lines forever.
		fmt.Fprintf(stderr, "\n  Development tenant \"dev\" — API key (shown once):\n\n    %s\n\n", key)
		log.Warn("DEVELOPMENT TENANT: no --tenants file; a random API key was printed to the terminal")
	} else {
		tenants, err = service.LoadTenantsFile(cfg.Tenants)
		if err != nil {
			return nil, err
		}
		log.Info("tenants loaded", slog.Int("count", tenants.Len()))
	}

	return service.New(service.Options{
		Policy:         pol,
		Signer:         sig,
		Devices:        localcache.NewDeviceMemory(localcache.Options{MaxEntries: cfg.MaxDevices}),
		Tenants:        tenants,
		Issuer:         cfg.Issuer,
		AttestationTTL: cfg.AttestationTTL,
		Logger:         log,
		AccessLog:      cfg.AccessLog,
	})
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
