package mockserver

import (
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/julienschmidt/httprouter"

	"github.com/agentmock/agentmock/fixtures"
	"github.com/agentmock/agentmock/scenarios"
)

// Option configures a Server.
type Option func(*config)

type config struct {
	data        *fixtures.Data
	seed        uint64
	apiKeys     []string
	noAuth      bool
	logger      *slog.Logger
	scenarios   []scenarios.Scenario
	scenario    string
	rateLimit   *fixtures.RateLimit
	adminToken  string
	journalSize int
}

// WithData serves d instead of the built-in data.
func WithData(d *fixtures.Data) Option {
	return func(c *config) { c.data = d }
}

// WithSeed seeds the data that PUT /__admin/fixtures generates, when the
// body gives no seed of its own. The default is fixtures.DefaultSeed.
func WithSeed(seed uint64) Option {
	return func(c *config) { c.seed = seed }
}

// WithAPIKeys restricts the accepted API keys to keys, in addition to any the
// fixtures list. Without keys from either place, any non-empty key is accepted.
func WithAPIKeys(keys ...string) Option {
	return func(c *config) { c.apiKeys = append(c.apiKeys, keys...) }
}

// WithoutAuth turns authentication off: requests need no key, and agents'
// allowed_keys are not checked.
func WithoutAuth() Option {
	return func(c *config) { c.noAuth = true }
}

// WithLogger sends the server's logs to l. The default discards them.
// API keys are never logged.
func WithLogger(l *slog.Logger) Option {
	return func(c *config) { c.logger = l }
}

// WithScenarios adds scenarios to the built-in ones, replacing built-ins of
// the same name.
func WithScenarios(s []scenarios.Scenario) Option {
	return func(c *config) { c.scenarios = append(c.scenarios, s...) }
}

// WithScenario activates the named scenario for everyone from the start. A
// reset activates it again, with fresh counters.
func WithScenario(name string) Option {
	return func(c *config) { c.scenario = name }
}

// WithRateLimit sets a token bucket per API key, overriding the fixtures'
// rate_limit. The zero RateLimit turns rate limiting off.
func WithRateLimit(rl fixtures.RateLimit) Option {
	return func(c *config) { c.rateLimit = &rl }
}

// WithAdminToken makes the admin API, but for its health check, require
// Authorization: Bearer token.
func WithAdminToken(token string) Option {
	return func(c *config) { c.adminToken = token }
}

// WithJournalSize sets how many requests the journal keeps (default
// DefaultJournalSize); 0 turns the journal off.
func WithJournalSize(n int) Option {
	return func(c *config) { c.journalSize = n }
}

// Server is the mock API as an http.Handler. It owns all its state: two
// servers never share anything mutable.
type Server struct {
	cfg     config
	log     *slog.Logger
	router  *httprouter.Router
	apiKeys map[string]bool // from WithAPIKeys

	data atomic.Pointer[dataset]

	// mu serialises changes of data, so that a write never undoes another,
	// and guards initial.
	mu      sync.Mutex
	initial *dataset // what Reset goes back to
	clock   clock

	engine  *scenarios.Engine
	journal *journal

	// Pools spare the hot path its biggest allocations.
	buffers sync.Pool // *[]byte for pages
	writers sync.Pool // *responseWriter

	requestSeq atomic.Uint64

	closing   chan struct{} // closed by Close
	closeOnce sync.Once
}

// New returns a server with the options applied. Without WithData it serves
// the built-in data.
func New(opts ...Option) (*Server, error) {
	s := &Server{cfg: config{seed: fixtures.DefaultSeed, journalSize: DefaultJournalSize}, closing: make(chan struct{})}
	s.buffers.New = func() any { return new([]byte) }
	s.writers.New = func() any { return new(responseWriter) }
	for _, o := range opts {
		o(&s.cfg)
	}
	s.log = s.cfg.logger
	if s.log == nil {
		s.log = slog.New(slog.DiscardHandler)
	}
	s.apiKeys = set(s.cfg.apiKeys)
	if s.apiKeys != nil {
		for k := range s.apiKeys {
			if k == "" {
				return nil, errors.New("mockserver: an API key cannot be empty")
			}
		}
	}
	if s.cfg.journalSize < 0 {
		return nil, errors.New("mockserver: the journal size cannot be negative")
	}
	s.journal = newJournal(s.cfg.journalSize)
	var err error
	if s.engine, err = scenarios.NewEngine(s.cfg.scenarios); err != nil {
		return nil, fmt.Errorf("mockserver: %w", err)
	}
	if err := s.activateStartScenario(); err != nil {
		return nil, err
	}
	if d := s.cfg.data; d != nil {
		s.cfg.data = nil // the dataset holds what it needs; the rest can go
		if err := s.Reload(d); err != nil {
			return nil, err
		}
	} else {
		shared, err := builtin()
		if err != nil {
			return nil, fmt.Errorf("mockserver: built-in data: %w", err)
		}
		ds := *shared
		ds.limiter = newLimiter(s.rateLimit(fixtures.RateLimit{}))
		ds.activity = newActivity(s.clock.now())
		s.initial = &ds
		s.data.Store(&ds)
	}
	s.routes()
	return s, nil
}

// builtin is the built-in data, encoded once per process and shared by the
// servers that serve it. That is safe because agents and their sessions are
// never modified: a write makes changed copies.
var builtin = sync.OnceValues(func() (*dataset, error) {
	d, err := fixtures.BuiltIn(fixtures.DefaultSeed)
	if err != nil {
		return nil, err
	}
	return newDataset(d, fixtures.RateLimit{}, time.Time{})
})

// Reload makes d both the data served and the data Reset goes back to, as a
// SIGHUP does. It is all-or-nothing: on error the old data keeps serving.
func (s *Server) Reload(d *fixtures.Data) error {
	ds, err := s.build(d)
	if err != nil {
		return err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.initial = ds
	s.data.Store(ds)
	return nil
}

// Replace makes d the data served until the next Reset or Reload, as
// PUT /__admin/fixtures does. It is all-or-nothing.
func (s *Server) Replace(d *fixtures.Data) error {
	ds, err := s.build(d)
	if err != nil {
		return err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.data.Store(ds)
	return nil
}

// rateLimit is the one in force: WithRateLimit's, else the data's.
func (s *Server) rateLimit(fromData fixtures.RateLimit) fixtures.RateLimit {
	if s.cfg.rateLimit != nil {
		return *s.cfg.rateLimit
	}
	return fromData
}

func (s *Server) build(d *fixtures.Data) (*dataset, error) {
	ds, err := newDataset(d, s.rateLimit(d.RateLimit), s.clock.now())
	if err != nil {
		return nil, fmt.Errorf("mockserver: %w", err)
	}
	return ds, nil
}

// Reset goes back to the state at start: the data loaded at start or by the
// last Reload, the real clock, the start scenario with fresh counters, full
// rate-limit buckets and an empty journal.
func (s *Server) Reset() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.clock.real()
	ds := *s.initial
	ds.activity = newActivity(s.clock.now())
	ds.limiter.reset()
	s.data.Store(&ds)
	s.engine.Reset()
	if err := s.activateStartScenario(); err != nil { // a reload dropped it
		s.log.Error("reset: the start scenario is gone", "err", err)
	}
	s.journal.clear()
}

func (s *Server) activateStartScenario() error {
	if s.cfg.scenario == "" {
		return nil
	}
	if err := s.engine.Activate(s.cfg.scenario, ""); err != nil {
		return fmt.Errorf("mockserver: %w", err)
	}
	return nil
}

func (s *Server) routes() {
	r := httprouter.New()
	r.RedirectTrailingSlash = false
	r.RedirectFixedPath = false
	r.HandleOPTIONS = false // ServeHTTP answers every OPTIONS for CORS
	r.NotFound = http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		s.writeError(w, &apiError{status: http.StatusNotFound, code: codeNotFound,
			messages: []string{fmt.Sprintf("no route for %s %s", req.Method, req.URL.Path)}})
	})
	r.MethodNotAllowed = http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		// httprouter has already set Allow.
		s.writeError(w, &apiError{status: http.StatusMethodNotAllowed, code: codeMethodNotAllowed,
			messages: []string{fmt.Sprintf("method %s is not allowed here; allowed: %s", req.Method, w.Header().Get("Allow"))}})
	})
	const sessions, session = "/v2/agents/:agent_key/sessions", "/v2/agents/:agent_key/sessions/:session_key"
	list := s.api(scenarios.RouteList, s.listSessions)
	r.GET(sessions, list)
	r.HEAD(sessions, list)
	r.POST(sessions, s.api(scenarios.RouteCreate, s.createSession))
	get := s.api(scenarios.RouteGet, s.getSession)
	r.GET(session, get)
	r.HEAD(session, get)
	r.PATCH(session, s.api(scenarios.RouteUpdate, s.updateSession))
	r.DELETE(session, s.api(scenarios.RouteDelete, s.deleteSession))
	s.adminRoutes(r)
	s.router = r
}

// CORS headers, shared by every response to spare allocations; net/http
// only reads header values.
var (
	corsAllowOrigin   = []string{"*"}
	corsAllowMethods  = []string{"GET, HEAD, POST, PUT, PATCH, DELETE, OPTIONS"}
	corsAllowHeaders  = []string{"x-api-key, Authorization, Prefer, Content-Type"}
	corsExposeHeaders = []string{"Retry-After, X-RateLimit-Limit, X-RateLimit-Remaining, X-RateLimit-Reset, Location"}
	corsMaxAge        = []string{"600"}
)

// ServeHTTP answers CORS preflights, turns panics into 500 internal_error and
// hands the rest to the routes.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	h := w.Header()
	h["Access-Control-Allow-Origin"] = corsAllowOrigin
	if r.Method == http.MethodOptions {
		h["Access-Control-Allow-Methods"] = corsAllowMethods
		h["Access-Control-Allow-Headers"] = corsAllowHeaders
		h["Access-Control-Max-Age"] = corsMaxAge
		w.WriteHeader(http.StatusNoContent)
		return
	}
	h["Access-Control-Expose-Headers"] = corsExposeHeaders
	rw := s.writers.Get().(*responseWriter)
	*rw = responseWriter{ResponseWriter: w}
	if !strings.HasPrefix(r.URL.Path, "/__admin/") {
		// The journal records every request but the admin API's; the routes
		// of the API fill in more.
		rw.call = call{srv: s, req: r, start: time.Now()}
	}
	defer s.writers.Put(rw)
	defer func() {
		if v := recover(); v != nil {
			if v == http.ErrAbortHandler {
				panic(v)
			}
			s.internalError(rw, r, v)
		}
	}()
	s.router.ServeHTTP(rw, r)
}

// internalError logs a recovered panic and answers 500 internal_error,
// unless the status is already out.
func (s *Server) internalError(w *responseWriter, r *http.Request, v any) {
	s.log.Error("panic serving request", "method", r.Method, "path", r.URL.Path, "panic", v)
	if w.status == 0 {
		s.writeError(w, &apiError{status: http.StatusInternalServerError, code: codeInternal,
			messages: []string{"internal error"}})
	}
}

// responseWriter remembers the status, so that a panic after the header is
// out does not write a second one, and what the journal records of an API
// request.
type responseWriter struct {
	http.ResponseWriter
	status int
	code   string
	call   call
}

// call is what the journal records of an API request beyond its response.
// srv is nil for requests the journal does not record.
type call struct {
	srv      *Server
	req      *http.Request
	start    time.Time
	route    string
	agentKey string
	apiKey   string
	rule     string
	fault    scenarios.Fault
	recorded bool
}

func (w *responseWriter) setCode(code string) { w.code = code }

func (w *responseWriter) WriteHeader(status int) {
	if w.status == 0 {
		w.status = status
		w.record()
	}
	w.ResponseWriter.WriteHeader(status)
}

func (w *responseWriter) Write(b []byte) (int, error) {
	if w.status == 0 {
		w.status = http.StatusOK
		w.record()
	}
	return w.ResponseWriter.Write(b)
}

// Unwrap lets http.ResponseController reach the connection.
func (w *responseWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }

// apiKey returns the request's key from x-api-key or a Bearer token.
func apiKey(r *http.Request) string {
	if k := r.Header.Get("X-Api-Key"); k != "" {
		return k
	}
	return bearerToken(r)
}

// bearerToken returns the token of an Authorization: Bearer header, or "".
func bearerToken(r *http.Request) string {
	auth := r.Header.Get("Authorization")
	if len(auth) > 7 && strings.EqualFold(auth[:7], "bearer ") {
		return strings.TrimSpace(auth[7:])
	}
	return ""
}

// authenticate checks the key against the accepted set: the keys given as
// options plus the fixtures' api_keys, or any non-empty key when both are empty.
func (s *Server) authenticate(key string, ds *dataset) *apiError {
	if s.cfg.noAuth {
		return nil
	}
	if key == "" {
		return &apiError{status: http.StatusUnauthorized, code: codeUnauthorized,
			messages: []string{"no API key: send it in the x-api-key header or as Authorization: Bearer <key>"}}
	}
	if (s.apiKeys != nil || ds.apiKeys != nil) && !s.apiKeys[key] && !ds.apiKeys[key] {
		return &apiError{status: http.StatusUnauthorized, code: codeUnauthorized,
			messages: []string{"the API key is not accepted"}}
	}
	return nil
}

// Close ends the injected delays and slow bodies in flight and to come: a
// delayed request answers 503 service_unavailable at once. Call it before
// shutting down the HTTP server, whose graceful shutdown would otherwise
// wait for them. Other requests are served as before.
func (s *Server) Close() {
	s.closeOnce.Do(func() { close(s.closing) })
}

// ActivateScenario makes the named scenario active for requests with apiKey,
// or for everyone when apiKey is "", with fresh counters.
func (s *Server) ActivateScenario(name, apiKey string) error {
	return s.engine.Activate(name, apiKey)
}

// ActivateRules makes inline rules active, like ActivateScenario. name labels
// them in the journal; seed 0 means scenarios.DefaultSeed.
func (s *Server) ActivateRules(name string, seed uint64, rules []scenarios.Rule, apiKey string) error {
	return s.engine.ActivateRules(name, seed, rules, apiKey)
}

// DeactivateScenario ends the scenario active for apiKey, or for everyone
// when apiKey is "".
func (s *Server) DeactivateScenario(apiKey string) {
	s.engine.Deactivate(apiKey)
}

// SetScenarios replaces the scenarios loaded from files, as a SIGHUP does. It
// is all-or-nothing; active scenarios keep their rules and counters.
func (s *Server) SetScenarios(user []scenarios.Scenario) error {
	return s.engine.SetCatalog(user)
}

// Requests returns the journal: the latest requests to the API, oldest first.
func (s *Server) Requests() []Request {
	return s.journal.list(nil, 0)
}

// ClearRequests empties the journal.
func (s *Server) ClearRequests() {
	s.journal.clear()
}

// Now returns the server's clock: the real time, unless SetClock or
// AdvanceClock took it over.
func (s *Server) Now() time.Time { return s.clock.now() }

// SetClock stops the server's clock at t, for created_at and tti expiry,
// until the next change, RealClock or Reset.
func (s *Server) SetClock(t time.Time) { s.clock.set(t) }

// AdvanceClock moves the server's clock forward by d and stops it there.
func (s *Server) AdvanceClock(d time.Duration) { s.clock.advance(d) }

// RealClock gives the server the real clock back.
func (s *Server) RealClock() { s.clock.real() }
