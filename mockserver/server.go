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
	"github.com/agentmock/agentmock/internal/store"
	"github.com/agentmock/agentmock/scenarios"
)

// Server is the mock API as an http.Handler. It owns all its state: two
// servers never share anything mutable.
type Server struct {
	cfg       config
	log       *slog.Logger
	router    *httprouter.Router
	apiKeys   map[string]bool     // from WithAPIKeys
	rateLimit *fixtures.RateLimit // from WithRateLimit; nil: the data's
	store     *store.Store

	// loaded is the data served and the settings that came with it.
	loaded atomic.Pointer[loaded]
	// mu serialises Reload, Replace and Reset, and guards initial.
	mu      sync.Mutex
	initial *loaded // what Reset goes back to
	clock   clock

	engine  *scenarios.Engine
	journal *journal
	tokens  tokens
	pace    pace // of streams, for agents without their own

	// Pools spare the hot path its biggest allocations.
	buffers   sync.Pool // *[]byte for pages
	pages     sync.Pool // *[]*store.Session for pages
	exchanges sync.Pool // *exchange

	requestSeq atomic.Uint64

	closing   chan struct{} // closed by Close
	closeOnce sync.Once
}

// New returns a server with the options applied. Without an option that
// gives data it serves the built-in data. A bad option, such as a fixtures
// file that does not load, is an error.
func New(opts ...Option) (*Server, error) {
	s := &Server{cfg: config{seed: fixtures.DefaultSeed, journalSize: DefaultJournalSize}, closing: make(chan struct{})}
	s.buffers.New = func() any { return new([]byte) }
	s.exchanges.New = func() any { return new(exchange) }
	s.pages.New = func() any { p := make([]*store.Session, 0, maxLimit); return &p }
	for _, o := range opts {
		o(&s.cfg)
	}
	if err := s.configure(); err != nil {
		return nil, fmt.Errorf("mockserver: %w", err)
	}
	s.routes()
	return s, nil
}

// configure checks the options and loads what they name.
func (s *Server) configure() error {
	c := &s.cfg
	s.log = c.logger
	if s.log == nil {
		s.log = slog.New(slog.DiscardHandler)
	}
	for _, k := range c.apiKeys {
		if k == "" {
			return errors.New("an API key cannot be empty")
		}
	}
	s.apiKeys = set(c.apiKeys)
	if c.adminToken != nil && *c.adminToken == "" {
		return errors.New("the admin token cannot be empty")
	}
	if c.journalSize < 0 {
		return errors.New("the journal size cannot be negative")
	}
	s.journal = newJournal(c.journalSize)
	if c.rateLimit != nil {
		rl, err := fixtures.ParseRateLimit(*c.rateLimit)
		if err != nil {
			return err
		}
		s.rateLimit = &rl
	}
	if c.streamPace != "" {
		p, err := parsePace(c.streamPace)
		if err != nil {
			return err
		}
		s.pace = p
	}
	var user []scenarios.Scenario
	for _, load := range c.scenarios {
		sc, err := load()
		if err != nil {
			return err
		}
		user = append(user, sc...)
	}
	var err error
	if s.engine, err = scenarios.NewEngine(user); err != nil {
		return err
	}
	if err := s.activateStartScenario(); err != nil {
		return err
	}
	l, err := s.loadData()
	if err != nil {
		return err
	}
	s.initial = l
	s.loaded.Store(l)
	s.store = store.New(l.data, s.clock.now())
	c.data, c.generate = nil, nil // the store holds what it needs; the rest can go
	return nil
}

// loadData loads the data the options ask for. The built-in data, unless
// changed by options, is encoded once per process and shared by the servers
// that serve it: a store never changes the data it starts from.
func (s *Server) loadData() (*loaded, error) {
	c := &s.cfg
	if c.data == nil && len(c.generate) == 0 && c.seed == fixtures.DefaultSeed {
		shared, err := builtin()
		if err != nil {
			return nil, fmt.Errorf("built-in data: %w", err)
		}
		l := *shared
		l.limiter = newLimiter(s.rateLimitFor(fixtures.RateLimit{}))
		return &l, nil
	}
	from := c.data
	if from == nil {
		from = fixtures.BuiltIn
	}
	d, err := from(c.seed)
	if err != nil {
		return nil, err
	}
	for _, g := range c.generate {
		if d, err = d.WithGenerated(g.agentKey, g.n, c.seed); err != nil {
			return nil, err
		}
	}
	return load(d, s.rateLimitFor(d.RateLimit))
}

// builtin is the built-in data, encoded once per process.
var builtin = sync.OnceValues(func() (*loaded, error) {
	d, err := fixtures.BuiltIn(fixtures.DefaultSeed)
	if err != nil {
		return nil, err
	}
	return load(d, fixtures.RateLimit{})
})

// rateLimitFor is the rate limit in force: WithRateLimit's, else the data's.
func (s *Server) rateLimitFor(fromData fixtures.RateLimit) fixtures.RateLimit {
	if s.rateLimit != nil {
		return *s.rateLimit
	}
	return fromData
}

// Reload makes d both the data served and the data Reset goes back to, as a
// SIGHUP does. It is all-or-nothing: on error the old data keeps serving.
func (s *Server) Reload(d *fixtures.Data) error {
	return s.swap(d, true)
}

// Replace makes d the data served until the next Reset or Reload, as
// PUT /__admin/fixtures does. It is all-or-nothing.
func (s *Server) Replace(d *fixtures.Data) error {
	return s.swap(d, false)
}

func (s *Server) swap(d *fixtures.Data, initial bool) error {
	l, err := load(d, s.rateLimitFor(d.RateLimit))
	if err != nil {
		return fmt.Errorf("mockserver: %w", err)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if initial {
		s.initial = l
	}
	s.loaded.Store(l)
	s.store.Restore(l.data, s.clock.now())
	return nil
}

// Reset goes back to the state at start: the data loaded at start or by the
// last Reload, the real clock, the start scenario with fresh counters, full
// rate-limit buckets and an empty journal.
func (s *Server) Reset() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.clock.real()
	s.initial.limiter.reset()
	s.loaded.Store(s.initial)
	s.store.Restore(s.initial.data, s.clock.now())
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
	return s.engine.Activate(s.cfg.scenario, "")
}

// Route names, as the journal shows them and scenarios match them.
const (
	routeList   = scenarios.RouteList
	routeCreate = scenarios.RouteCreate
	routeGet    = scenarios.RouteGet
	routeUpdate = scenarios.RouteUpdate
	routeDelete = scenarios.RouteDelete
)

func (s *Server) routes() {
	r := httprouter.New()
	r.RedirectTrailingSlash = false
	r.RedirectFixedPath = false
	r.HandleOPTIONS = false // ServeHTTP answers every OPTIONS for CORS
	r.NotFound = s.unrouted(func(r *request) error {
		return &apiError{status: http.StatusNotFound, code: codeNotFound,
			messages: []string{fmt.Sprintf("no route for %s %s", r.Method, r.URL.Path)}}
	})
	r.MethodNotAllowed = s.unrouted(func(r *request) error {
		allow := r.w.Header().Get("Allow") // set by httprouter
		return &apiError{status: http.StatusMethodNotAllowed, code: codeMethodNotAllowed,
			messages: []string{fmt.Sprintf("method %s is not allowed here; allowed: %s", r.Method, allow)}}
	})
	const sessions, session = "/v2/agents/:agent_key/sessions", "/v2/agents/:agent_key/sessions/:session_key"
	list := s.api(routeList, s.listSessions)
	r.GET(sessions, list)
	r.HEAD(sessions, list)
	r.POST(sessions, s.api(routeCreate, s.createSession))
	get := s.api(routeGet, s.getSession)
	r.GET(session, get)
	r.HEAD(session, get)
	r.PATCH(session, s.api(routeUpdate, s.updateSession))
	r.DELETE(session, s.api(routeDelete, s.deleteSession))

	const agents, agent, identity = "/v2/agents", "/v2/agents/:agent_key", "/v2/agents/:agent_key/identity"
	r.POST(agents, s.api(scenarios.RouteCreateAgent, s.createAgent))
	listAgents := s.api(scenarios.RouteListAgents, s.listAgents)
	r.GET(agents, listAgents)
	r.HEAD(agents, listAgents)
	getAgent := s.api(scenarios.RouteGetAgent, s.getAgent)
	r.GET(agent, getAgent)
	r.HEAD(agent, getAgent)
	r.PATCH(agent, s.api(scenarios.RouteUpdateAgent, s.updateAgent))
	r.PUT(agent, s.api(scenarios.RouteReplaceAgent, s.replaceAgent))
	r.DELETE(agent, s.api(scenarios.RouteDeleteAgent, s.deleteAgent))
	getIdentity := s.api(scenarios.RouteGetIdentity, s.getIdentity)
	r.GET(identity, getIdentity)
	r.HEAD(identity, getIdentity)
	r.PATCH(identity, s.api(scenarios.RouteUpdateIdentity, s.updateIdentity))

	const events, event = session + "/events", session + "/events/:event_id"
	r.POST(events, s.api(scenarios.RouteCreateEvent, s.createEvent))
	listEvents := s.api(scenarios.RouteListEvents, s.listEvents)
	r.GET(events, listEvents)
	r.HEAD(events, listEvents)
	getEvent := s.api(scenarios.RouteGetEvent, s.getEvent)
	r.GET(event, getEvent)
	r.HEAD(event, getEvent)
	r.DELETE(event, s.api(scenarios.RouteDeleteEvent, s.deleteEvent))
	r.POST(event+"/hide", s.api(scenarios.RouteHideEvent, s.hideEvent))
	r.POST(event+"/unhide", s.api(scenarios.RouteUnhideEvent, s.unhideEvent))

	token := s.login(scenarios.RouteToken, s.token)
	r.POST("/oauth2/token", token)
	r.POST("/oauth/token", token)
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

// ServeHTTP answers CORS preflights, starts the request's journal entry,
// turns panics into 500 internal_error and hands the request to its route.
func (s *Server) ServeHTTP(w http.ResponseWriter, hr *http.Request) {
	h := w.Header()
	admin := strings.HasPrefix(hr.URL.Path, "/__admin/")
	if !admin {
		h["Access-Control-Allow-Origin"] = corsAllowOrigin
		if hr.Method == http.MethodOptions {
			s.preflight(w, hr)
			return
		}
		h["Access-Control-Expose-Headers"] = corsExposeHeaders
	}
	x := s.exchanges.Get().(*exchange)
	x.start(s, w, hr, !admin)
	defer s.exchanges.Put(x)
	defer func() {
		if v := recover(); v != nil {
			if v == http.ErrAbortHandler {
				x.req.record()
				panic(v)
			}
			s.log.Error("panic serving request", "method", hr.Method, "path", hr.URL.Path, "panic", v)
			if x.req.status == 0 {
				s.writeError(&x.rw, &x.req, &apiError{status: http.StatusInternalServerError, code: codeInternal,
					messages: []string{"internal error"}})
			}
		}
		x.req.record()
	}()
	s.router.ServeHTTP(&x.rw, hr)
}

// preflight answers a CORS preflight: any origin, and the headers it asks for.
func (s *Server) preflight(w http.ResponseWriter, r *http.Request) {
	h := w.Header()
	h["Access-Control-Allow-Methods"] = corsAllowMethods
	if asked := r.Header.Values("Access-Control-Request-Headers"); len(asked) > 0 {
		h["Access-Control-Allow-Headers"] = asked
	} else {
		h["Access-Control-Allow-Headers"] = corsAllowHeaders
	}
	h["Access-Control-Max-Age"] = corsMaxAge
	w.WriteHeader(http.StatusNoContent)
}

// Close ends the injected delays and slow bodies in flight and to come: a
// delayed request answers 503 service_unavailable at once. Call it before
// shutting down the HTTP server, whose graceful shutdown would otherwise
// wait for them, or hook it with http.Server.RegisterOnShutdown. Other
// requests are served as before.
func (s *Server) Close() {
	s.closeOnce.Do(func() { close(s.closing) })
}

// ClientKey is a key the server accepts, for clients that send none of their
// own: the first key of WithAPIKeys, else the first of the fixtures'
// api_keys, else "".
func (s *Server) ClientKey() string {
	if len(s.cfg.apiKeys) > 0 {
		return s.cfg.apiKeys[0]
	}
	return s.loaded.Load().clientKey
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
