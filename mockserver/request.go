package mockserver

import (
	"fmt"
	"log/slog"
	"net/http"
	"strings"
	"time"

	"github.com/julienschmidt/httprouter"

	"github.com/agentmock/agentmock/internal/store"
	"github.com/agentmock/agentmock/scenarios"
)

// handler serves one route. It writes a success itself and returns an
// error for anything else; the server writes that error, once, in one place.
type handler func(w http.ResponseWriter, r *request) error

// request is one request on its way through the server: what every step
// needs of it, read once, and what the journal records of it.
type request struct {
	*http.Request
	srv    *Server
	w      http.ResponseWriter // the response, for the headers of 405s
	params httprouter.Params
	route  string
	apiKey string  // from x-api-key or a Bearer token; "" if none
	loaded *loaded // the data's settings, read once
	snap   *store.Snapshot

	// For the journal.
	journaled bool
	recorded  bool
	start     time.Time
	status    int
	code      string
	requestID string // of an error
	rule      string
	fault     scenarios.Fault
	// afterChunks is how many chunks a stream fault lets through.
	afterChunks int
}

// responseWriter records the status of the response it writes, so that a
// panic after the header is out does not write a second one, and so that the
// journal entry is added before the first byte of the body.
type responseWriter struct {
	http.ResponseWriter
	req *request
}

// exchange is a request and its response, pooled together.
type exchange struct {
	rw  responseWriter
	req request
}

func (x *exchange) start(s *Server, w http.ResponseWriter, hr *http.Request, journaled bool) {
	x.req = request{Request: hr, srv: s, w: &x.rw, journaled: journaled, start: time.Now(),
		apiKey: apiKey(hr), loaded: s.loaded.Load()}
	x.rw = responseWriter{ResponseWriter: w, req: &x.req}
}

func (w *responseWriter) WriteHeader(status int) {
	w.req.wrote(status)
	w.ResponseWriter.WriteHeader(status)
}

// Write writes a body, but for a HEAD request, whose headers say what the
// body of a GET would be.
func (w *responseWriter) Write(b []byte) (int, error) {
	w.req.wrote(http.StatusOK)
	if w.req.Method == http.MethodHead {
		return len(b), nil
	}
	return w.ResponseWriter.Write(b)
}

// Unwrap lets http.ResponseController reach the connection.
func (w *responseWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }

// wrote notes the status once it is out, and records the journal entry.
func (r *request) wrote(status int) {
	if r.status == 0 {
		r.status = status
		r.record()
	}
}

// record adds the journal entry of an API request, once: when the status is
// written, before any byte of the body, or before a fault closes the
// connection, so that a client that has its response finds the entry; or
// when the request ends with nothing written.
func (r *request) record() {
	if !r.journaled || r.recorded {
		return
	}
	r.recorded = true
	s := r.srv
	e := Request{
		Time: r.start, Method: r.Method, Path: r.URL.Path, Query: r.URL.RawQuery,
		Route: r.route, AgentKey: r.params.ByName("agent_key"), Status: r.status, ErrorCode: r.code, RequestID: r.requestID,
		Rule: r.rule, Fault: string(r.fault), Duration: time.Since(r.start),
	}
	s.journal.add(e, r.apiKey)
	if s.log.Enabled(r.Context(), slog.LevelDebug) {
		s.log.Debug("request", "method", e.Method, "path", e.Path, "query", e.Query, "status", e.Status,
			"error_code", e.ErrorCode, "rule", e.Rule, "fault", e.Fault, "duration", e.Duration, "api_key", KeyFingerprint(r.apiKey))
	}
}

// api makes the httprouter handle of an API route: scenarios first (from the
// Prefer header or the active one), then authentication and the rate limit,
// then h.
func (s *Server) api(route string, h handler) httprouter.Handle {
	return s.route(route, func(w http.ResponseWriter, r *request) error {
		if err := s.authenticate(r); err != nil {
			return err
		}
		if err := s.limit(w, r); err != nil {
			return err
		}
		return h(w, r)
	})
}

// login makes the handle of the route that gives tokens: scenarios apply,
// but it needs no key.
func (s *Server) login(route string, h handler) httprouter.Handle {
	return s.route(route, h)
}

func (s *Server) route(route string, h handler) httprouter.Handle {
	return func(w http.ResponseWriter, _ *http.Request, ps httprouter.Params) {
		rw := w.(*responseWriter) // ServeHTTP calls the router with one
		r := rw.req
		r.route, r.params = route, ps
		d, err := s.decide(r)
		if err != nil {
			s.writeError(rw, r, err)
			return
		}
		r.rule, r.fault, r.afterChunks = d.Rule, d.Fault, d.AfterChunks
		s.carryOut(rw, r, d, func(w http.ResponseWriter) {
			if err := h(w, r); err != nil {
				s.writeError(w, r, err)
			}
		})
	}
}

// unrouted makes the handler of requests that match no route: the error
// that e makes, for every key, after the rate limit of an accepted key.
func (s *Server) unrouted(e func(r *request) error) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		r := w.(*responseWriter).req
		var err error
		if s.authenticate(r) == nil {
			err = s.limit(w, r)
		}
		if err == nil {
			err = e(r)
		}
		s.writeError(w, r, err)
	})
}

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
// options plus the fixtures' api_keys and the OAuth tokens the server gave,
// or any non-empty key when there are no keys given.
func (s *Server) authenticate(r *request) error {
	if s.cfg.noAuth {
		return nil
	}
	if r.apiKey == "" {
		return &apiError{status: http.StatusUnauthorized, code: codeUnauthorized,
			messages: []string{"no API key: send it in the x-api-key header or as Authorization: Bearer <key>"}}
	}
	restricted := s.apiKeys != nil || r.loaded.apiKeys != nil
	if restricted && !s.apiKeys[r.apiKey] && !r.loaded.apiKeys[r.apiKey] && !s.tokens.valid(r.apiKey, s.clock.now()) {
		return &apiError{status: http.StatusUnauthorized, code: codeUnauthorized,
			messages: []string{"the API key is not accepted"}}
	}
	return nil
}

// agent returns the agent the request names, after the checks that every
// route under an agent makes, in order: the parameters (400, with the agent
// key's own rule added to bad), the agent (404) and its allowed keys (403).
// It takes the request's snapshot of the data, with the agent's expired
// sessions gone.
func (s *Server) agent(r *request, bad fieldErrors) (*store.Agent, error) {
	key := r.params.ByName("agent_key")
	if !validKey(key) {
		bad = bad.with("agent_key", msgAgentKey)
	}
	if bad != nil {
		return nil, invalidRequest(bad)
	}
	var a *store.Agent
	r.snap, a = s.store.Live(key, s.clock.now())
	if a == nil {
		return nil, agentNotFound(key)
	}
	if err := s.allowed(r, a); err != nil {
		return nil, err
	}
	return a, nil
}

// allowed checks an agent's allowed keys.
func (s *Server) allowed(r *request, a *store.Agent) error {
	if !s.cfg.noAuth && a.Allowed != nil && !a.Allowed[r.apiKey] {
		return &apiError{status: http.StatusForbidden, code: codeForbidden,
			messages: []string{fmt.Sprintf("the API key may not use the sessions of agent %q", a.Key)}}
	}
	return nil
}
