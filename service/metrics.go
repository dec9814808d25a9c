package service

import (
	"strconv"
	"sync"
	"time"

	"github.com/gin-gonic/gin"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
)

// metrics are the service's Prometheus series. Labels are bounded sets
// (routes, statuses, decisions, jurisdiction codes): nothing derived from a
// request's identity data ever becomes a label.
type metrics struct {
	requests     *prometheus.CounterVec
	latency      *prometheus.HistogramVec
	decisions    *prometheus.CounterVec
	evalErrors   prometheus.Counter
	deviceErrors prometheus.Counter
	// historyUnavailable counts checks whose device or account history
	// could not be read from the shared store (decided fail-safe).
	historyUnavailable prometheus.Counter
	policyInfo         *prometheus.GaugeVec

	evidence        *prometheus.CounterVec
	evidenceLatency prometheus.Histogram

	shadowAgree    prometheus.Counter
	shadowDisagree *prometheus.CounterVec
	policyReloads  *prometheus.CounterVec

	logAppend prometheus.Histogram
	logErrors prometheus.Counter

	admissionWait prometheus.Histogram
	overloaded    prometheus.Counter

	// routes caches routeMetrics by routeKey. Its keys are bounded: route
	// templates, folded methods and status codes.
	routes sync.Map

	decisionCache *prometheus.CounterVec
	cacheErrors   prometheus.Counter
	rateLimited   *prometheus.CounterVec
}

func newMetrics(reg prometheus.Registerer) *metrics {
	m := &metrics{
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "ageassure_http_requests_total",
			Help: "HTTP requests by route, method and status code.",
		}, []string{"route", "method", "code"}),
		latency: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name: "ageassure_http_request_duration_seconds",
			Help: "HTTP request latency by route.",
			// Sub-millisecond resolution: a decision takes well under a
			// millisecond in process, and the signup path cares about p99.
			Buckets: []float64{.0001, .00025, .0005, .001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5},
		}, []string{"route", "method"}),
		decisions: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "ageassure_decisions_total",
			Help: "Decisions by outcome and jurisdiction (the policy pack's code, or the country).",
		}, []string{"decision", "jurisdiction"}),
		evalErrors: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "ageassure_policy_evaluation_errors_total",
			Help: "Policy rules that failed at run time and were treated as requiring verification.",
		}),
		deviceErrors: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "ageassure_device_memory_errors_total",
			Help: "Failed reads or writes of the anti-hopping device memory.",
		}),
		historyUnavailable: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "ageassure_history_unavailable_total",
			Help: "Checks with a device_ref or subject_ref whose shared declared-age history could not be read; the policy was told (history_unavailable).",
		}),
		policyInfo: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "ageassure_policy_info",
			Help: "The active policy (value 1), labelled by id and hash.",
		}, []string{"id", "hash"}),
	}
	m.decisionCache = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "ageassure_decision_cache_requests_total",
		Help: "Decision cache lookups by result (hit, miss).",
	}, []string{"result"})
	m.cacheErrors = prometheus.NewCounter(prometheus.CounterOpts{
		Name: "ageassure_cache_errors_total",
		Help: "Failed reads or writes of cached decisions and subject records (the request went on without them).",
	})
	m.rateLimited = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "ageassure_rate_limited_total",
		Help: "Requests refused with 429, by tenant.",
	}, []string{"tenant"})
	m.logAppend = prometheus.NewHistogram(prometheus.HistogramOpts{
		Name:    "ageassure_decision_log_append_seconds",
		Help:    "Time to append a decision to the decision log (until sequenced, in durable mode).",
		Buckets: []float64{.0005, .001, .002, .005, .01, .02, .05, .1, .25, .5, 1},
	})
	m.logErrors = prometheus.NewCounter(prometheus.CounterOpts{
		Name: "ageassure_decision_log_errors_total",
		Help: "Decisions withheld (503) because the decision log could not take their entry.",
	})
	m.evidence = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "ageassure_evidence_total",
		Help: "Evidence items by type, outcome and reason code.",
	}, []string{"type", "outcome", "reason"})
	m.evidenceLatency = prometheus.NewHistogram(prometheus.HistogramOpts{
		Name:    "ageassure_evidence_verification_seconds",
		Help:    "Time to verify a request's evidence (bounded by the providers' timeouts).",
		Buckets: []float64{.0001, .00025, .0005, .001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5},
	})
	m.shadowAgree = prometheus.NewCounter(prometheus.CounterOpts{
		Name: "ageassure_shadow_agreements_total",
		Help: "Decisions where the shadow policy agreed with the active one.",
	})
	m.shadowDisagree = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "ageassure_shadow_disagreements_total",
		Help: "Decisions where the shadow policy disagreed, by the active (from) and shadow (to) decision.",
	}, []string{"from", "to"})
	m.policyReloads = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "ageassure_policy_reloads_total",
		Help: "Policy reload attempts by result: applied, unchanged, or refused (failed to load or its own test cases failed).",
	}, []string{"result"})
	m.admissionWait = prometheus.NewHistogram(prometheus.HistogramOpts{
		Name:    "ageassure_admission_wait_seconds",
		Help:    "Time a check waited for an in-flight slot (--max-in-flight); 0 when one was free.",
		Buckets: []float64{0, .0005, .001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5},
	})
	m.overloaded = prometheus.NewCounter(prometheus.CounterOpts{
		Name: "ageassure_overloaded_total",
		Help: "Checks refused with 503 overloaded: no in-flight slot within --queue-timeout.",
	})
	reg.MustRegister(m.shadowAgree, m.shadowDisagree, m.policyReloads, m.admissionWait, m.overloaded)
	reg.MustRegister(m.decisionCache, m.cacheErrors, m.rateLimited, m.logAppend, m.logErrors, m.evidence, m.evidenceLatency)
	reg.MustRegister(m.requests, m.latency, m.decisions, m.evalErrors, m.deviceErrors, m.historyUnavailable, m.policyInfo,
		collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	return m
}

// middleware records every request under its route template (never the raw
// path, which a caller controls).
func (m *metrics) middleware(c *gin.Context) {
	start := time.Now()
	c.Next()
	route := c.FullPath()
	if route == "" {
		route = "unmatched"
	}
	method := methodLabel(c.Request.Method)
	ch := m.children(route, method, c.Writer.Status())
	ch.requests.Inc()
	ch.latency.Observe(time.Since(start).Seconds())
}

// routeMetrics are one route's series, resolved once: WithLabelValues
// hashes its labels on every call, which at thousands of requests a second
// is measurable.
type routeMetrics struct {
	requests prometheus.Counter
	latency  prometheus.Observer
}

type routeKey struct {
	route, method string
	code          int
}

func (m *metrics) children(route, method string, code int) *routeMetrics {
	k := routeKey{route, method, code}
	if v, ok := m.routes.Load(k); ok {
		return v.(*routeMetrics)
	}
	rm := &routeMetrics{
		requests: m.requests.WithLabelValues(route, method, strconv.Itoa(code)),
		latency:  m.latency.WithLabelValues(route, method),
	}
	v, _ := m.routes.LoadOrStore(k, rm)
	return v.(*routeMetrics)
}

// methodLabel folds non-standard methods into one label value, since the
// method of an unmatched request is whatever the caller sent.
func methodLabel(m string) string {
	switch m {
	case "GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS":
		return m
	}
	return "other"
}
