package mockserver

import (
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"

	"github.com/julienschmidt/httprouter"

	"github.com/agentmock/agentmock/fixtures"
)

// Option configures a Server.
type Option func(*config)

type config struct {
	data    *fixtures.Data
	apiKeys []string
	noAuth  bool
	logger  *slog.Logger
}

// WithData serves d instead of the built-in data.
func WithData(d *fixtures.Data) Option {
	return func(c *config) { c.data = d }
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

// Server is the mock API as an http.Handler. It owns all its state: two
// servers never share anything mutable.
type Server struct {
	cfg     config
	log     *slog.Logger
	router  *httprouter.Router
	apiKeys map[string]bool // from WithAPIKeys

	data atomic.Pointer[dataset]

	mu      sync.Mutex // guards initial
	initial *dataset   // what Reset goes back to

	requestSeq atomic.Uint64
}

// New returns a server with the options applied. Without WithData it serves
// the built-in data.
func New(opts ...Option) (*Server, error) {
	s := &Server{}
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
	d := s.cfg.data
	if d == nil {
		var err error
		if d, err = fixtures.BuiltIn(fixtures.DefaultSeed); err != nil {
			return nil, fmt.Errorf("mockserver: built-in data: %w", err)
		}
	}
	if err := s.Reload(d); err != nil {
		return nil, err
	}
	s.routes()
	return s, nil
}

// Reload makes d both the data served and the data Reset goes back to, as a
// SIGHUP does. It is all-or-nothing: on error the old data keeps serving.
func (s *Server) Reload(d *fixtures.Data) error {
	ds, err := newDataset(d)
	if err != nil {
		return fmt.Errorf("mockserver: %w", err)
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
	ds, err := newDataset(d)
	if err != nil {
		return fmt.Errorf("mockserver: %w", err)
	}
	s.data.Store(ds)
	return nil
}

// Reset goes back to the data loaded at start or by the last Reload.
func (s *Server) Reset() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.data.Store(s.initial)
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
	r.GET("/v2/agents/:agent_key/sessions", s.listSessions)
	r.HEAD("/v2/agents/:agent_key/sessions", s.listSessions)
	r.GET("/__admin/health", s.health)
	s.router = r
}

const (
	corsAllowMethods  = "GET, HEAD, POST, PUT, PATCH, DELETE, OPTIONS"
	corsAllowHeaders  = "x-api-key, Authorization, Prefer, Content-Type"
	corsExposeHeaders = "Retry-After, X-RateLimit-Limit, X-RateLimit-Remaining, X-RateLimit-Reset"
)

// ServeHTTP answers CORS preflights, turns panics into 500 internal_error and
// hands the rest to the routes.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	h := w.Header()
	h.Set("Access-Control-Allow-Origin", "*")
	if r.Method == http.MethodOptions {
		h.Set("Access-Control-Allow-Methods", corsAllowMethods)
		h.Set("Access-Control-Allow-Headers", corsAllowHeaders)
		h.Set("Access-Control-Max-Age", "600")
		w.WriteHeader(http.StatusNoContent)
		return
	}
	h.Set("Access-Control-Expose-Headers", corsExposeHeaders)
	rw := &responseWriter{ResponseWriter: w}
	defer func() {
		if v := recover(); v != nil {
			if v == http.ErrAbortHandler {
				panic(v)
			}
			s.log.Error("panic serving request", "method", r.Method, "path", r.URL.Path, "panic", v)
			if rw.status == 0 {
				s.writeError(rw, &apiError{status: http.StatusInternalServerError, code: codeInternal,
					messages: []string{"internal error"}})
			}
		}
	}()
	s.router.ServeHTTP(rw, r)
}

// responseWriter remembers the status, so that a panic after the header is
// out does not write a second one.
type responseWriter struct {
	http.ResponseWriter
	status int
}

func (w *responseWriter) WriteHeader(status int) {
	if w.status == 0 {
		w.status = status
	}
	w.ResponseWriter.WriteHeader(status)
}

func (w *responseWriter) Write(b []byte) (int, error) {
	if w.status == 0 {
		w.status = http.StatusOK
	}
	return w.ResponseWriter.Write(b)
}

// Unwrap lets http.ResponseController reach the connection.
func (w *responseWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }

func (s *Server) health(w http.ResponseWriter, _ *http.Request, _ httprouter.Params) {
	writeJSON(w, http.StatusOK, []byte(`{"status":"ok"}`+"\n"))
}

// apiKey returns the request's key from x-api-key or a Bearer token.
func apiKey(r *http.Request) string {
	if k := r.Header.Get("X-Api-Key"); k != "" {
		return k
	}
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
			messages: []string{"missing API key: send it in the x-api-key header or as Authorization: Bearer <key>"}}
	}
	if (s.apiKeys != nil || ds.apiKeys != nil) && !s.apiKeys[key] && !ds.apiKeys[key] {
		return &apiError{status: http.StatusUnauthorized, code: codeUnauthorized,
			messages: []string{"the API key is not accepted"}}
	}
	return nil
}
