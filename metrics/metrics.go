// Package metrics is the portal's Prometheus instrumentation: Enterprise
// Manager calls and latency, EM logons, cache hits, sessions, actions by
// outcome, and the HTTP requests the portal serves. Everything is registered on
// a registry of its own (never the global default), and /metrics is served only
// with a bearer token.
//
// Nothing else imports this package: package app feeds it through hooks the other
// packages already offer (emclient.Config.Observe, Client.Logons,
// jobs.Service.CacheStats, a jobs.Recorder decorator, an echo middleware).
package metrics

import (
	"crypto/sha256"
	"crypto/subtle"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/labstack/echo/v4"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

const namespace = "agentdesk"

// Metrics holds the portal's collectors and the registry they live in.
type Metrics struct {
	reg *prometheus.Registry

	emRequests *prometheus.CounterVec
	emLatency  *prometheus.HistogramVec
	actions    *prometheus.CounterVec
	started    *prometheus.CounterVec
	inFlight   prometheus.Gauge
	httpDur    *prometheus.HistogramVec

	// httpSeries are httpDur's series by route, method and code. Looking a
	// series up in the vector hashes and checks three label values and
	// formats the code on every request; the combinations the portal serves
	// are few, and this map holds no more than the vector does.
	httpMu     sync.RWMutex
	httpSeries map[httpKey]prometheus.Observer
}

type httpKey struct {
	route, method string
	code          int
}

// New builds the collectors on a fresh registry, with the Go runtime and
// process collectors (RSS, goroutines, GC) beside them.
func New() *Metrics {
	m := &Metrics{reg: prometheus.NewRegistry(), httpSeries: make(map[httpKey]prometheus.Observer)}
	m.emRequests = prometheus.NewCounterVec(prometheus.CounterOpts{
		Namespace: namespace, Name: "em_requests_total",
		Help: "HTTP requests to Enterprise Manager by endpoint (route pattern) and status; status \"error\" means no answer arrived.",
	}, []string{"endpoint", "status"})
	m.emLatency = prometheus.NewHistogramVec(prometheus.HistogramOpts{
		Namespace: namespace, Name: "em_request_duration_seconds",
		Help:    "Latency of Enterprise Manager requests by endpoint, answered or not.",
		Buckets: []float64{.001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10, 30},
	}, []string{"endpoint"})
	m.actions = prometheus.NewCounterVec(prometheus.CounterOpts{
		Namespace: namespace, Name: "actions_total",
		Help: "Job actions by action and how they ended: performed, failed, unknown (from the audit Finish), refused, denied (never sent to EM), audit_error (the audit record could not be written, so the action was refused).",
	}, []string{"action", "outcome"})
	m.started = prometheus.NewCounterVec(prometheus.CounterOpts{
		Namespace: namespace, Name: "actions_started_total",
		Help: "Job actions whose audit record was written and that were sent to EM, by action.",
	}, []string{"action"})
	m.inFlight = prometheus.NewGauge(prometheus.GaugeOpts{
		Namespace: namespace, Name: "http_requests_in_flight",
		Help: "Requests the portal is serving right now.",
	})
	m.httpDur = prometheus.NewHistogramVec(prometheus.HistogramOpts{
		Namespace: namespace, Name: "http_request_duration_seconds",
		Help:    "Time the portal took to answer, by route pattern, method and status code.",
		Buckets: []float64{.0005, .001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10},
	}, []string{"route", "method", "code"})
	m.reg.MustRegister(m.emRequests, m.emLatency, m.actions, m.started, m.inFlight, m.httpDur,
		collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	return m
}

// Registry is where the collectors live, for tests and extra collectors.
func (m *Metrics) Registry() *prometheus.Registry { return m.reg }

// ObserveEM is an emclient.Config.Observe hook: one call per HTTP attempt.
func (m *Metrics) ObserveEM(endpoint string, status int, d time.Duration) {
	s := "error"
	if status > 0 {
		s = strconv.Itoa(status)
	}
	m.emRequests.WithLabelValues(endpoint, s).Inc()
	m.emLatency.WithLabelValues(endpoint).Observe(d.Seconds())
}

// EMLogons exposes the EM client's logon count (emclient.Client.Logons).
func (m *Metrics) EMLogons(logons func() int64) {
	m.reg.MustRegister(prometheus.NewCounterFunc(prometheus.CounterOpts{
		Namespace: namespace, Name: "em_logons_total",
		Help: "Logons to Enterprise Manager (POST /api/sessionMngr/) since start.",
	}, func() float64 { return float64(logons()) }))
}

// EMAccount exposes whether Enterprise Manager refuses the service account
// (1 while logons are backed off) and how many logons it refused since start.
func (m *Metrics) EMAccount(refused func() bool, refusals func() int64) {
	m.reg.MustRegister(prometheus.NewGaugeFunc(prometheus.GaugeOpts{
		Namespace: namespace, Name: "em_account_refused",
		Help: "1 while Enterprise Manager refuses the service account's logon and logons are backed off, else 0.",
	}, func() float64 {
		if refused() {
			return 1
		}
		return 0
	}))
	m.reg.MustRegister(prometheus.NewCounterFunc(prometheus.CounterOpts{
		Namespace: namespace, Name: "em_logon_refusals_total",
		Help: "Logons Enterprise Manager refused (401/403 on POST /api/sessionMngr/) since start.",
	}, func() float64 { return float64(refusals()) }))
}

// CacheStats exposes the jobs cache's counters (jobs.Service.CacheStats).
func (m *Metrics) CacheStats(stats func() (hits, misses int64)) {
	m.reg.MustRegister(&cacheCollector{stats: stats})
}

var (
	cacheHitsDesc   = prometheus.NewDesc(namespace+"_cache_hits_total", "EM reads answered from the portal's cache.", nil, nil)
	cacheMissesDesc = prometheus.NewDesc(namespace+"_cache_misses_total", "EM reads the cache could not answer (one EM call per key at a time; concurrent misses share it).", nil, nil)
)

// cacheCollector reads both counters under one lock of the cache per scrape.
type cacheCollector struct{ stats func() (hits, misses int64) }

func (c *cacheCollector) Describe(ch chan<- *prometheus.Desc) {
	ch <- cacheHitsDesc
	ch <- cacheMissesDesc
}

func (c *cacheCollector) Collect(ch chan<- prometheus.Metric) {
	h, mi := c.stats()
	ch <- prometheus.MustNewConstMetric(cacheHitsDesc, prometheus.CounterValue, float64(h))
	ch <- prometheus.MustNewConstMetric(cacheMissesDesc, prometheus.CounterValue, float64(mi))
}

// Sessions exposes the number of live portal sessions, counted by f at scrape
// time (e.g. unexpired rows of the session store). A failing count is left out
// of the scrape rather than reported as zero.
func (m *Metrics) Sessions(f func() (int, error)) {
	m.reg.MustRegister(&sessionCollector{count: f})
}

var sessionsDesc = prometheus.NewDesc(namespace+"_sessions",
	"Live portal sessions in the session store: signed in, or in the middle of signing in; removed at sign-out or when their lifetime ends.", nil, nil)

type sessionCollector struct{ count func() (int, error) }

func (c *sessionCollector) Describe(ch chan<- *prometheus.Desc) { ch <- sessionsDesc }

func (c *sessionCollector) Collect(ch chan<- prometheus.Metric) {
	n, err := c.count()
	if err != nil {
		ch <- prometheus.NewInvalidMetric(sessionsDesc, err)
		return
	}
	ch <- prometheus.MustNewConstMetric(sessionsDesc, prometheus.GaugeValue, float64(n))
}

// Action counts an action that ended with outcome.
func (m *Metrics) Action(action, outcome string) {
	m.actions.WithLabelValues(action, outcome).Inc()
}

// Middleware counts in-flight requests and times each one by its route
// pattern (c.Path(), never the raw path, so ids do not explode the series).
func (m *Metrics) Middleware(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
		m.inFlight.Inc()
		start := time.Now()
		err := next(c)
		m.inFlight.Dec()
		code := c.Response().Status
		if err != nil && !c.Response().Committed {
			// The error handler has not written yet; report what it will.
			code = http.StatusInternalServerError
			if he, ok := err.(*echo.HTTPError); ok {
				code = he.Code
			}
		}
		route := c.Path()
		if route == "" {
			route = "unmatched"
		}
		m.httpSeriesFor(route, c.Request().Method, code).Observe(time.Since(start).Seconds())
		return err
	}
}

// httpSeriesFor is httpDur's series for the labels.
func (m *Metrics) httpSeriesFor(route, method string, code int) prometheus.Observer {
	k := httpKey{route, method, code}
	m.httpMu.RLock()
	o, ok := m.httpSeries[k]
	m.httpMu.RUnlock()
	if ok {
		return o
	}
	o = m.httpDur.WithLabelValues(route, method, strconv.Itoa(code))
	m.httpMu.Lock()
	m.httpSeries[k] = o
	m.httpMu.Unlock()
	return o
}

// Handler serves the registry in the Prometheus text format to requests that
// carry "Authorization: Bearer <token>". An empty token is refused here too:
// package app does not mount /metrics at all without one.
func (m *Metrics) Handler(token string) http.Handler {
	want := sha256.Sum256([]byte(token))
	h := promhttp.HandlerFor(m.reg, promhttp.HandlerOpts{ErrorHandling: promhttp.ContinueOnError})
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		// The scheme is case-insensitive (RFC 9110 section 11.1).
		scheme, got, ok := strings.Cut(r.Header.Get("Authorization"), " ")
		ok = ok && strings.EqualFold(scheme, "Bearer")
		// Compare digests: constant time whatever the lengths.
		sum := sha256.Sum256([]byte(got))
		if token == "" || !ok || subtle.ConstantTimeCompare(sum[:], want[:]) != 1 {
			w.Header().Set("WWW-Authenticate", `Bearer realm="metrics"`)
			http.Error(w, "a bearer token is required", http.StatusUnauthorized)
			return
		}
		w.Header().Set("Cache-Control", "no-store")
		h.ServeHTTP(w, r)
	})
}
