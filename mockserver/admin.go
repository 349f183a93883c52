package mockserver

import (
	"crypto/subtle"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/julienschmidt/httprouter"

	"github.com/agentmock/agentmock/fixtures"
	"github.com/agentmock/agentmock/scenarios"
)

// Body caps of the admin API: fixtures can be large, scenario calls are not.
const (
	maxFixturesBody = 10 << 20
	maxScenarioBody = 1 << 20
)

func (s *Server) adminRoutes(r *httprouter.Router) {
	r.GET("/__admin/health", s.admin(s.health))
	s.consoleRoutes(r)
	r.POST("/__admin/reset", s.admin(s.adminReset))
	r.GET("/__admin/scenarios", s.admin(s.adminScenarios))
	r.PUT("/__admin/scenario", s.admin(s.adminActivate))
	r.DELETE("/__admin/scenario", s.admin(s.adminDeactivate))
	r.GET("/__admin/requests", s.admin(s.adminRequests))
	r.DELETE("/__admin/requests", s.admin(s.adminClearRequests))
	r.PUT("/__admin/fixtures", s.admin(s.adminFixtures))
	r.GET("/__admin/clock", s.admin(s.adminClock))
	r.POST("/__admin/clock", s.admin(s.adminSetClock))
	r.DELETE("/__admin/clock", s.admin(s.adminRealClock))
}

// admin makes the httprouter handle of an admin route: it checks the admin
// token, when one is set, but for the health check.
func (s *Server) admin(h handler) httprouter.Handle {
	return func(w http.ResponseWriter, hr *http.Request, ps httprouter.Params) {
		rw := w.(*responseWriter)
		r := rw.req
		r.params = ps
		err := s.adminAuthorized(r)
		if err == nil {
			err = h(rw, r)
		}
		if err != nil {
			s.writeError(rw, r, err)
		}
	}
}

func (s *Server) adminAuthorized(r *request) error {
	if s.cfg.adminToken == nil || r.URL.Path == "/__admin/health" {
		return nil
	}
	if subtle.ConstantTimeCompare([]byte(bearerToken(r.Request)), []byte(*s.cfg.adminToken)) != 1 {
		return &apiError{status: http.StatusUnauthorized, code: codeUnauthorized,
			messages: []string{"the admin API wants Authorization: Bearer <admin token>"}}
	}
	return nil
}

var statusOK = map[string]string{"status": "ok"}

func (s *Server) health(w http.ResponseWriter, _ *request) error {
	writeValue(w, http.StatusOK, statusOK)
	return nil
}

func (s *Server) adminReset(w http.ResponseWriter, _ *request) error {
	s.Reset()
	writeValue(w, http.StatusOK, statusOK)
	return nil
}

// scenarioList is the body of GET /__admin/scenarios.
type scenarioList struct {
	Scenarios []scenarios.Scenario   `json:"scenarios"`
	Active    []scenarios.Activation `json:"active"`
}

func (s *Server) adminScenarios(w http.ResponseWriter, _ *request) error {
	writeValue(w, http.StatusOK, scenarioList{Scenarios: s.engine.Scenarios(), Active: s.activations()})
	return nil
}

// activations lists the active scenarios with their keys redacted.
func (s *Server) activations() []scenarios.Activation {
	active := append([]scenarios.Activation{}, s.engine.Active()...) // [] rather than null
	for i := range active {
		active[i].APIKey = KeyFingerprint(active[i].APIKey)
	}
	return active
}

// activation is the body of PUT /__admin/scenario.
type activation struct {
	Name   string          `json:"name"`
	APIKey string          `json:"api_key"`
	Seed   uint64          `json:"seed"`
	Rules  json.RawMessage `json:"rules"`
}

func (s *Server) adminActivate(w http.ResponseWriter, r *request) error {
	body, err := readBody(w, r, maxScenarioBody)
	if err != nil {
		return err
	}
	var a activation
	dec := json.NewDecoder(strings.NewReader(string(body)))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&a); err != nil {
		return invalidRequest(fieldErrors{"body": "want a JSON object with name, and optionally api_key, seed and rules: " + err.Error()})
	}
	switch {
	case len(a.Rules) > 0:
		var rules []scenarios.Rule
		if rules, err = scenarios.ParseRules(a.Rules); err == nil {
			err = s.engine.ActivateRules(a.Name, a.Seed, rules, a.APIKey)
		}
	case a.Name == "":
		return invalidRequest(fieldErrors{"name": "name or rules is required"})
	default:
		err = s.engine.Activate(a.Name, a.APIKey)
	}
	var fe *scenarios.FieldError
	switch {
	case errors.Is(err, scenarios.ErrUnknownScenario):
		return &apiError{status: http.StatusNotFound, code: codeNotFound,
			messages: []string{fmt.Sprintf("scenario %q does not exist; GET /__admin/scenarios lists them", a.Name)}, id: a.Name}
	case errors.As(err, &fe):
		return invalidRequest(fieldErrors{fe.Path: fe.Message})
	case err != nil:
		return invalidRequest(fieldErrors{"rules": err.Error()})
	}
	writeValue(w, http.StatusOK, map[string]any{"active": s.activations()})
	return nil
}

func (s *Server) adminDeactivate(w http.ResponseWriter, r *request) error {
	s.engine.Deactivate(r.URL.Query().Get("api_key"))
	writeValue(w, http.StatusOK, statusOK)
	return nil
}

// requestList is the body of GET /__admin/requests.
type requestList struct {
	Requests []Request `json:"requests"`
}

func (s *Server) adminRequests(w http.ResponseWriter, r *request) error {
	q := r.URL.Query()
	var bad fieldErrors
	status, limit := 0, 0
	if v := q.Get("status"); v != "" {
		var err error
		if status, err = strconv.Atoi(v); err != nil {
			bad = bad.with("status", "status must be an HTTP status such as 429")
		}
	}
	if v := q.Get("limit"); v != "" {
		var err error
		if limit, err = strconv.Atoi(v); err != nil || limit < 1 {
			bad = bad.with("limit", "limit must be a positive integer")
		}
	}
	if bad != nil {
		return invalidRequest(bad)
	}
	agentKey := q.Get("agent_key")
	keep := func(e *Request) bool {
		return (agentKey == "" || e.AgentKey == agentKey) && (status == 0 || e.Status == status)
	}
	writeValue(w, http.StatusOK, requestList{s.journal.list(keep, limit)})
	return nil
}

func (s *Server) adminClearRequests(w http.ResponseWriter, _ *request) error {
	s.journal.clear()
	writeValue(w, http.StatusOK, statusOK)
	return nil
}

// fixturesLoaded is the body of a successful PUT /__admin/fixtures.
type fixturesLoaded struct {
	Agents   int `json:"agents"`
	Sessions int `json:"sessions"`
}

func (s *Server) adminFixtures(w http.ResponseWriter, r *request) error {
	body, err := readBody(w, r, maxFixturesBody)
	if err != nil {
		return err
	}
	d, err := fixtures.Load("request body", body, s.cfg.seed)
	if err == nil {
		err = s.Replace(d)
	}
	if err != nil {
		return &apiError{status: http.StatusBadRequest, code: codeInvalidRequest,
			messages: strings.Split(err.Error(), "\n"), fieldErrors: fieldErrors{"body": err.Error()}}
	}
	loaded := fixturesLoaded{Agents: len(d.Agents)}
	for _, a := range d.Agents {
		loaded.Sessions += len(a.Sessions)
	}
	s.log.Info("fixtures replaced", "agents", loaded.Agents, "sessions", loaded.Sessions)
	writeValue(w, http.StatusOK, loaded)
	return nil
}

// maxDiscard is how much of a body over its cap the server reads and throws
// away before it answers 413 and closes the connection: a client that sends
// its whole body before it reads the answer (as Python's urllib and requests
// do) then reads the 413 instead of a connection reset.
const maxDiscard = 64 << 20

// readBody reads a request body of at most limit bytes.
func readBody(w http.ResponseWriter, r *request, limit int64) ([]byte, error) {
	b, err := io.ReadAll(io.LimitReader(r.Body, limit+1))
	if err != nil {
		return nil, &apiError{status: http.StatusBadRequest, code: codeInvalidRequest,
			messages: []string{"the body could not be read: " + err.Error()}}
	}
	if int64(len(b)) > limit {
		io.CopyN(io.Discard, r.Body, maxDiscard)
		w.Header().Set("Connection", "close")
		return nil, &apiError{status: http.StatusRequestEntityTooLarge, code: codePayloadTooLarge,
			messages: []string{fmt.Sprintf("the body is larger than %d bytes", limit)}}
	}
	return b, nil
}

// clockState is the body of the clock calls.
type clockState struct {
	Now    time.Time `json:"now"`
	Frozen bool      `json:"frozen"` // false: the real clock
}

func (s *Server) writeClock(w http.ResponseWriter) error {
	writeValue(w, http.StatusOK, clockState{Now: s.clock.now(), Frozen: s.clock.frozen()})
	return nil
}

func (s *Server) adminClock(w http.ResponseWriter, _ *request) error {
	return s.writeClock(w)
}

// adminSetClock takes {"advance":"90m"} or {"set":"2025-01-01T00:00:00Z"}.
func (s *Server) adminSetClock(w http.ResponseWriter, r *request) error {
	body, err := readBody(w, r, maxScenarioBody)
	if err != nil {
		return err
	}
	var change struct {
		Advance *string    `json:"advance"`
		Set     *time.Time `json:"set"`
	}
	dec := json.NewDecoder(strings.NewReader(string(body)))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&change); err != nil || (change.Advance == nil) == (change.Set == nil) {
		return invalidRequest(fieldErrors{"body": `want {"advance":"90m"} or {"set":"2025-01-01T00:00:00Z"}`})
	}
	if change.Set != nil {
		s.clock.set(*change.Set)
		return s.writeClock(w)
	}
	d, err := time.ParseDuration(*change.Advance)
	// Past year 9999, times no longer encode as RFC 3339.
	if err != nil || d < 0 || s.clock.now().Add(d).Year() > 9999 {
		return invalidRequest(fieldErrors{"advance": `advance must be a duration of 0 or more, such as "90m", that keeps the clock before year 10000`})
	}
	s.clock.advance(d)
	return s.writeClock(w)
}

func (s *Server) adminRealClock(w http.ResponseWriter, _ *request) error {
	s.clock.real()
	return s.writeClock(w)
}
