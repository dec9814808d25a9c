package service

import (
	"bytes"
	_ "embed"
	"errors"
	"log/slog"
	"math"
	"mime"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/gin-gonic/gin"
	"github.com/go-json-experiment/json"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// OpenAPI is the API description served at /openapi.yaml.
//
//go:embed openapi.yaml
var OpenAPI []byte

func init() {
	// Debug mode prints every route at start-up and warns on each request;
	// a service wants neither.
	gin.SetMode(gin.ReleaseMode)
}

// tenantKey is where the authenticated tenant is kept in the gin context.
const tenantKey = "ageassure.tenant"

// Handler returns the HTTP handler with every route.
func (s *Service) Handler() http.Handler {
	r := gin.New()
	r.HandleMethodNotAllowed = true
	r.RedirectTrailingSlash = false
	r.RedirectFixedPath = false
	r.ContextWithFallback = true
	r.Use(s.recover, closeChunked, s.metrics.middleware)
	if s.access {
		r.Use(s.accessLog)
	}
	r.NoRoute(func(c *gin.Context) {
		writeProblem(c, newProblem(http.StatusNotFound, CodeNotFound, "Not found", "No such resource"))
	})
	r.NoMethod(func(c *gin.Context) {
		writeProblem(c, newProblem(http.StatusMethodNotAllowed, CodeMethodNotAllowed, "Method not allowed",
			"This resource does not support "+methodLabel(c.Request.Method)))
	})

	r.POST("/v1/age-checks", s.authenticate, s.rateLimit, s.handleAgeCheck)
	r.GET("/v1/policy", s.authenticate, s.handlePolicy)
	r.GET("/.well-known/jwks.json", s.handleJWKS)
	r.GET("/openapi.yaml", func(c *gin.Context) {
		c.Data(http.StatusOK, "application/yaml", OpenAPI)
	})
	r.GET("/healthz", func(c *gin.Context) {
		c.Data(http.StatusOK, "application/json", []byte(`{"status":"ok"}`))
	})
	r.GET("/readyz", s.handleReady)
	if !s.metricsElsewhere {
		r.GET("/metrics", gin.WrapH(s.MetricsHandler()))
	}
	if s.logHandler != nil {
		// The log is public: anyone may read and verify it. Only the paths
		// the handler knows are served (checkpoint, tiles, entry bundles,
		// the verifier key); it refuses everything else itself.
		lh := gin.WrapH(http.StripPrefix("/log", s.logHandler))
		r.GET("/log/*path", lh)
	}
	return r
}

// MetricsHandler serves the Prometheus metrics. They name tenants and
// show traffic, so with Options.MetricsElsewhere the caller serves this on
// an address of its own (loopback by default) instead of the API's.
func (s *Service) MetricsHandler() http.Handler {
	return promhttp.HandlerFor(s.registry, promhttp.HandlerOpts{})
}

// closeChunked answers a request with a chunked body and closes its
// connection. Go's server drops a Content-Length sent beside
// Transfer-Encoding: chunked before any handler sees it, so the smuggling
// shape of RFC 9112 section 6.1 (both headers) cannot be told apart from a
// plain chunked body; closing after every chunked request covers it, at
// the cost of a reconnect for clients that chunk a small JSON body.
func closeChunked(c *gin.Context) {
	if len(c.Request.TransferEncoding) > 0 {
		c.Header("Connection", "close")
	}
	c.Next()
}

// authenticate resolves the bearer API key to a tenant or answers 401.
func (s *Service) authenticate(c *gin.Context) {
	h := c.GetHeader("Authorization")
	scheme, key, found := strings.Cut(h, " ")
	if h == "" || !found || !strings.EqualFold(scheme, "Bearer") || strings.TrimSpace(key) == "" {
		writeProblem(c, newProblem(http.StatusUnauthorized, CodeMissingCredentials, "Missing credentials",
			"Send the API key as: Authorization: Bearer <key>"))
		return
	}
	t, ok := s.tenants.Lookup(strings.TrimSpace(key))
	if !ok {
		writeProblem(c, newProblem(http.StatusUnauthorized, CodeInvalidCredentials, "Invalid credentials",
			"The API key is not known"))
		return
	}
	c.Set(tenantKey, t)
	c.Next()
}

// rateLimit answers 429 when the tenant is over its limit. A limiter error
// lets the request through: the limiter degrades to in-process counting by
// itself, and refusing signups because the rate store hiccuped would fail
// the platform, not protect it.
func (s *Service) rateLimit(c *gin.Context) {
	t := c.MustGet(tenantKey).(Tenant)
	if s.limiter == nil || t.RateLimit == nil {
		c.Next()
		return
	}
	l := t.RateLimit
	ok, retry, err := s.limiter.AllowRate(c.Request.Context(), t.ID, l.Rate, l.Burst, l.Period)
	if err != nil {
		s.log.LogAttrs(c.Request.Context(), slog.LevelDebug, "rate limiter failed; request allowed", slog.Any("error", err))
	}
	if !ok && err == nil {
		s.metrics.rateLimited.WithLabelValues(t.ID).Inc()
		p := newProblem(http.StatusTooManyRequests, CodeRateLimited, "Too many requests",
			"The tenant's rate limit is exceeded; retry after the number of seconds in Retry-After")
		p.retryAfter = max(1, int(math.Ceil(retry.Seconds())))
		writeProblem(c, p)
		return
	}
	c.Next()
}

// bodyPool recycles request buffers: at thousands of checks a second the
// 64 KiB bound would otherwise mean constant garbage.
var bodyPool = sync.Pool{New: func() any { return new(bytes.Buffer) }}

func (s *Service) handleAgeCheck(c *gin.Context) {
	if p := checkContentType(c.GetHeader("Content-Type")); p != nil {
		writeProblem(c, p)
		return
	}
	if c.Request.ContentLength > MaxBodyBytes {
		writeProblem(c, tooLarge())
		return
	}
	buf := bodyPool.Get().(*bytes.Buffer)
	buf.Reset()
	defer func() {
		// Clear before returning the buffer: it held identity data.
		b := buf.Bytes()
		clear(b[:cap(b)])
		buf.Reset()
		bodyPool.Put(buf)
	}()
	if _, err := buf.ReadFrom(http.MaxBytesReader(c.Writer, c.Request.Body, MaxBodyBytes)); err != nil {
		var tooBig *http.MaxBytesError
		if errors.As(err, &tooBig) {
			writeProblem(c, tooLarge())
			return
		}
		writeProblem(c, newProblem(http.StatusBadRequest, CodeMalformedJSON, "Unreadable body",
			"The request body could not be read"))
		return
	}

	tenant := c.MustGet(tenantKey).(Tenant)
	resp, err := s.decide(c.Request.Context(), tenant, buf.Bytes())
	if err != nil {
		var p *Problem
		if !errors.As(err, &p) {
			s.log.LogAttrs(c.Request.Context(), slog.LevelError, "age check failed",
				slog.String("tenant", tenant.ID), slog.Any("error", err))
		}
		writeProblem(c, err)
		return
	}
	out := bodyPool.Get().(*bytes.Buffer)
	out.Reset()
	defer bodyPool.Put(out)
	if err := json.MarshalWrite(out, resp); err != nil {
		s.log.LogAttrs(c.Request.Context(), slog.LevelError, "encoding the response failed", slog.Any("error", err))
		writeProblem(c, err)
		return
	}
	c.Header("Cache-Control", "no-store")
	c.Data(http.StatusOK, "application/json", out.Bytes())
}

// checkContentType accepts application/json, with or without a charset
// parameter (which, if given, must be UTF-8: JSON is UTF-8).
//
// The problem is built only when the type is refused, and the usual exact
// "application/json" (which ParseMediaType would accept, with no
// parameters) skips the parser: every check passes through here, and both
// cost allocations.
func checkContentType(ct string) *Problem {
	if ct == "application/json" {
		return nil
	}
	unsupported := func() *Problem {
		return newProblem(http.StatusUnsupportedMediaType, CodeUnsupportedMediaType, "Unsupported media type",
			"Send the body as Content-Type: application/json")
	}
	if ct == "" {
		return unsupported()
	}
	mt, params, err := mime.ParseMediaType(ct)
	if err != nil || mt != "application/json" {
		return unsupported()
	}
	if cs, ok := params["charset"]; ok && !strings.EqualFold(cs, "utf-8") {
		return unsupported()
	}
	return nil
}

func tooLarge() *Problem {
	return newProblem(http.StatusRequestEntityTooLarge, CodePayloadTooLarge, "Payload too large",
		"The request body must be at most 64 KiB")
}

func (s *Service) handleJWKS(c *gin.Context) {
	// Verifiers may cache the set briefly; rotation publishes a new key
	// well before it signs (see README: key rotation).
	c.Header("Cache-Control", "public, max-age=300")
	c.Data(http.StatusOK, "application/jwk-set+json", s.signer.JWKS())
}

// readiness is the /readyz body: a status and the state of each part, so an
// operator sees why an instance is not taking traffic.
type readiness struct {
	Status string            `json:"status"`
	Checks map[string]string `json:"checks"`
}

func (s *Service) handleReady(c *gin.Context) {
	pol := s.policy.Load()
	r := readiness{Status: "ready", Checks: map[string]string{
		"policy": pol.ID() + " " + pol.Hash(),
		"signer": "ok",
	}}
	for name, check := range s.checks {
		r.Checks[name] = check()
	}
	code := http.StatusOK
	for name, gate := range s.gates {
		state, ready := gate()
		r.Checks[name] = state
		if !ready {
			r.Status, code = "unready", http.StatusServiceUnavailable
		}
	}
	if s.draining.Load() {
		r.Status, code = "draining", http.StatusServiceUnavailable
	}
	body, _ := json.Marshal(r)
	c.Header("Cache-Control", "no-store")
	c.Data(code, "application/json", body)
}

// recover turns a panic into a logged 500 problem: the process keeps
// serving, and the caller gets a well-formed answer.
func (s *Service) recover(c *gin.Context) {
	defer func() {
		if v := recover(); v != nil {
			if err, ok := v.(error); ok && errors.Is(err, http.ErrAbortHandler) {
				panic(v)
			}
			s.log.LogAttrs(c.Request.Context(), slog.LevelError, "panic in handler",
				slog.String("route", c.FullPath()), slog.Any("panic", v))
			if !c.Writer.Written() {
				writeProblem(c, errors.New("panic"))
			}
			c.Abort()
		}
	}()
	c.Next()
}

// accessLog writes one line per request with the route template, never the
// raw path, query, body, client address or references.
func (s *Service) accessLog(c *gin.Context) {
	start := time.Now()
	c.Next()
	attrs := []slog.Attr{
		slog.String("route", c.FullPath()),
		slog.String("method", methodLabel(c.Request.Method)),
		slog.Int("status", c.Writer.Status()),
		slog.Duration("latency", time.Since(start)),
	}
	if t, ok := c.Get(tenantKey); ok {
		attrs = append(attrs, slog.String("tenant", t.(Tenant).ID))
	}
	s.log.LogAttrs(c.Request.Context(), slog.LevelInfo, "request", attrs...)
}
