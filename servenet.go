package main

import (
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/ageassure/ageassure/service"
)

// Where /metrics is served.
const (
	// defaultMetricsAddr keeps the metrics, which name tenants and show
	// traffic, on loopback: a scraper on the same host or pod reads them,
	// the public does not.
	defaultMetricsAddr = "127.0.0.1:9090"
	// metricsOnAPI is the --metrics-addr value that serves them on the
	// API's own address (for a network where that address is private).
	metricsOnAPI = "api"
)

// fdReserve is the file descriptors kept back from client connections for
// everything else the process opens: the decision log's files (Tessera
// opens several per batch), provider key fetches, the metrics and debug
// listeners, Go's own. The Redis pool is added on top.
const fdReserve = 256

// maxConnections is the connection cap: the one asked for, or the
// open-file limit less the reserve and the Redis pool. Go raises the soft
// limit to the hard one at start-up, so the limit read here is the one the
// process has. A cap that leaves no reserve is refused: past it, an
// attacker holding idle connections would starve the decision log of
// descriptors.
func maxConnections(asked, redisPool int) (int, error) {
	var lim syscall.Rlimit
	if err := syscall.Getrlimit(syscall.RLIMIT_NOFILE, &lim); err != nil {
		return 0, fmt.Errorf("reading the open-file limit: %w", err)
	}
	room := int64(lim.Cur) - fdReserve - int64(redisPool)
	switch {
	case asked < 0:
		return 0, fmt.Errorf("--max-connections %d is negative", asked)
	case room < 16:
		return 0, fmt.Errorf("the open-file limit (%d) leaves no room for client connections after %d descriptors for the log, Redis and providers: raise it (ulimit -n)", lim.Cur, fdReserve+redisPool)
	case asked == 0:
		return int(min(room, 1<<20)), nil
	case int64(asked) > room:
		return 0, fmt.Errorf("--max-connections %d would leave too few of the %d open files for the log, Redis and providers (%d needed): at most %d", asked, lim.Cur, fdReserve+redisPool, room)
	}
	return asked, nil
}

// capListener closes connections accepted beyond its cap at once, so a
// flood of idle connections costs no more than the cap and served
// connections are not disturbed. (netutil.LimitListener would stop
// accepting instead, leaving the excess in the kernel's backlog and the
// clients hanging.)
type capListener struct {
	net.Listener
	max     int64
	open    atomic.Int64
	refused prometheus.Counter
	log     *slog.Logger
	warned  sync.Once
}

func newCapListener(ln net.Listener, max int, reg prometheus.Registerer, log *slog.Logger) (*capListener, error) {
	l := &capListener{Listener: ln, max: int64(max), log: log, refused: prometheus.NewCounter(prometheus.CounterOpts{
		Name: "ageassure_connections_refused_total",
		Help: "Client connections closed at accept because --max-connections were open.",
	})}
	open := prometheus.NewGaugeFunc(prometheus.GaugeOpts{
		Name: "ageassure_connections_open",
		Help: "Client connections open now (at most --max-connections).",
	}, func() float64 { return float64(l.open.Load()) })
	for _, c := range []prometheus.Collector{l.refused, open} {
		if err := reg.Register(c); err != nil {
			return nil, err
		}
	}
	return l, nil
}

// Accept returns the next connection under the cap, closing those over it.
func (l *capListener) Accept() (net.Conn, error) {
	for {
		c, err := l.Listener.Accept()
		if err != nil {
			return nil, err
		}
		if l.open.Add(1) <= l.max {
			return &cappedConn{Conn: c, l: l}, nil
		}
		l.open.Add(-1)
		l.refused.Inc()
		_ = c.Close()
		l.warned.Do(func() {
			l.log.Warn("connection cap reached: closing new connections at accept until some close (counted in ageassure_connections_refused_total)",
				slog.Int64("max_connections", l.max))
		})
	}
}

// cappedConn gives its place back once, however often it is closed.
type cappedConn struct {
	net.Conn
	l    *capListener
	once sync.Once
}

func (c *cappedConn) Close() error {
	err := c.Conn.Close()
	c.once.Do(func() { c.l.open.Add(-1) })
	return err
}

// errNoRoomToAnswer is wrapped when the write timeout could cut an answer
// off.
var errNoRoomToAnswer = errors.New("no room to answer")

// metricsServer serves /metrics on its own address.
type metricsServer struct {
	ln  net.Listener
	srv *http.Server
}

// addr is where the metrics are: their own address, or the API's.
func (m *metricsServer) addr(api net.Listener) string {
	if m == nil {
		return api.Addr().String() + " (the API's)"
	}
	return m.ln.Addr().String()
}

// listen opens the API's listener under the connection cap, and the
// metrics' own when they are not on the API.
func listen(cfg *serveConfig, limit int, svc *service.Service, reg *prometheus.Registry, log *slog.Logger) (*capListener, *metricsServer, error) {
	ln, err := net.Listen("tcp", cfg.Addr)
	if err != nil {
		return nil, nil, fmt.Errorf("listen on %s: %w", cfg.Addr, err)
	}
	capped, err := newCapListener(ln, limit, reg, log)
	if err != nil {
		_ = ln.Close()
		return nil, nil, err
	}
	if cfg.MetricsAddr == metricsOnAPI {
		log.Warn("metrics served on the API's address (--metrics-addr api): they name tenants; keep that address private")
		return capped, nil, nil
	}
	mln, err := net.Listen("tcp", cfg.MetricsAddr)
	if err != nil {
		_ = ln.Close()
		return nil, nil, fmt.Errorf("--metrics-addr %s: %w", cfg.MetricsAddr, err)
	}
	mux := http.NewServeMux()
	mux.Handle("GET /metrics", svc.MetricsHandler())
	return capped, &metricsServer{ln: mln, srv: &http.Server{
		Handler: mux, ReadHeaderTimeout: 5 * time.Second, WriteTimeout: 30 * time.Second,
		ErrorLog: slog.NewLogLogger(log.Handler(), slog.LevelWarn),
	}}, nil
}
