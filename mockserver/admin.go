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

const codePayloadTooLarge = "payload_too_large"

func (s *Server) adminRoutes(r *httprouter.Router) {
	r.GET("/__admin/health", s.health)
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

// admin checks the admin token, when one is set.
func (s *Server) admin(h httprouter.Handle) httprouter.Handle {
	return func(w http.ResponseWriter, r *http.Request, ps httprouter.Params) {
		if s.cfg.adminToken != "" {
			if subtle.ConstantTimeCompare([]byte(bearerToken(r)), []byte(s.cfg.adminToken)) != 1 {
				s.writeError(w, &apiError{status: http.StatusUnauthorized, code: codeUnauthorized,
					messages: []string{"the admin API wants Authorization: Bearer <admin token>"}})
				return
			}
		}
		h(w, r, ps)
	}
}

func writeValue(w http.ResponseWriter, status int, v any) {
	b, err := json.Marshal(v)
	if err != nil {
		panic(err) // only our own types get here
	}
	writeJSON(w, status, append(b, '\n'))
}

var statusOK = map[string]string{"status": "ok"}

func (s *Server) health(w http.ResponseWriter, _ *http.Request, _ httprouter.Params) {
	writeValue(w, http.StatusOK, statusOK)
}

func (s *Server) adminReset(w http.ResponseWriter, _ *http.Request, _ httprouter.Params) {
	s.Reset()
	writeValue(w, http.StatusOK, statusOK)
}

// scenarioList is the body of GET /__admin/scenarios.
type scenarioList struct {
	Scenarios []scenarios.Scenario   `json:"scenarios"`
	Active    []scenarios.Activation `json:"active"`
}

func (s *Server) adminScenarios(w http.ResponseWriter, _ *http.Request, _ httprouter.Params) {
	writeValue(w, http.StatusOK, scenarioList{Scenarios: s.engine.Scenarios(), Active: s.activations()})
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

func (s *Server) adminActivate(w http.ResponseWriter, r *http.Request, _ httprouter.Params) {
	body, e := readBody(w, r, maxScenarioBody)
	if e != nil {
		s.writeError(w, e)
		return
	}
	var a activation
	dec := json.NewDecoder(strings.NewReader(string(body)))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&a); err != nil {
		s.writeError(w, invalidRequest(map[string]string{"body": "want a JSON object with name, and optionally api_key, seed and rules: " + err.Error()}))
		return
	}
	var err error
	switch {
	case len(a.Rules) > 0:
		var rules []scenarios.Rule
		if rules, err = scenarios.ParseRules(a.Rules); err == nil {
			err = s.engine.ActivateRules(a.Name, a.Seed, rules, a.APIKey)
		}
	case a.Name == "":
		s.writeError(w, invalidRequest(map[string]string{"name": "name or rules is required"}))
		return
	default:
		err = s.engine.Activate(a.Name, a.APIKey)
	}
	var fe *scenarios.FieldError
	switch {
	case errors.Is(err, scenarios.ErrUnknownScenario):
		s.writeError(w, &apiError{status: http.StatusNotFound, code: codeNotFound,
			messages: []string{fmt.Sprintf("scenario %q does not exist; GET /__admin/scenarios lists them", a.Name)}, id: a.Name})
	case errors.As(err, &fe):
		s.writeError(w, invalidRequest(map[string]string{fe.Path: fe.Message}))
	case err != nil:
		s.writeError(w, invalidRequest(map[string]string{"rules": err.Error()}))
	default:
		writeValue(w, http.StatusOK, map[string]any{"active": s.activations()})
	}
}

func (s *Server) adminDeactivate(w http.ResponseWriter, r *http.Request, _ httprouter.Params) {
	s.engine.Deactivate(r.URL.Query().Get("api_key"))
	writeValue(w, http.StatusOK, statusOK)
}

// requestList is the body of GET /__admin/requests.
type requestList struct {
	Requests []Request `json:"requests"`
}

func (s *Server) adminRequests(w http.ResponseWriter, r *http.Request, _ httprouter.Params) {
	q := r.URL.Query()
	bad := map[string]string{}
	status, limit := 0, 0
	if v := q.Get("status"); v != "" {
		var err error
		if status, err = strconv.Atoi(v); err != nil {
			bad["status"] = "status must be an HTTP status such as 429"
		}
	}
	if v := q.Get("limit"); v != "" {
		var err error
		if limit, err = strconv.Atoi(v); err != nil || limit < 1 {
			bad["limit"] = "limit must be a positive integer"
		}
	}
	if len(bad) > 0 {
		s.writeError(w, invalidRequest(bad))
		return
	}
	agentKey := q.Get("agent_key")
	keep := func(e *Request) bool {
		return (agentKey == "" || e.AgentKey == agentKey) && (status == 0 || e.Status == status)
	}
	writeValue(w, http.StatusOK, requestList{s.journal.list(keep, limit)})
}

func (s *Server) adminClearRequests(w http.ResponseWriter, _ *http.Request, _ httprouter.Params) {
	s.journal.clear()
	writeValue(w, http.StatusOK, statusOK)
}

// fixturesLoaded is the body of a successful PUT /__admin/fixtures.
type fixturesLoaded struct {
	Agents   int `json:"agents"`
	Sessions int `json:"sessions"`
}

func (s *Server) adminFixtures(w http.ResponseWriter, r *http.Request, _ httprouter.Params) {
	body, e := readBody(w, r, maxFixturesBody)
	if e != nil {
		s.writeError(w, e)
		return
	}
	d, err := fixtures.Load("request body", body, s.cfg.seed)
	if err == nil {
		err = s.Replace(d)
	}
	if err != nil {
		s.writeError(w, &apiError{status: http.StatusBadRequest, code: codeInvalidRequest,
			messages: strings.Split(err.Error(), "\n"), fieldErrors: map[string]string{"body": err.Error()}})
		return
	}
	loaded := fixturesLoaded{Agents: len(d.Agents)}
	for _, a := range d.Agents {
		loaded.Sessions += len(a.Sessions)
	}
	s.log.Info("fixtures replaced", "agents", loaded.Agents, "sessions", loaded.Sessions)
	writeValue(w, http.StatusOK, loaded)
}

// readBody reads a request body of at most limit bytes.
func readBody(w http.ResponseWriter, r *http.Request, limit int64) ([]byte, *apiError) {
	b, err := io.ReadAll(http.MaxBytesReader(w, r.Body, limit))
	var tooLarge *http.MaxBytesError
	switch {
	case errors.As(err, &tooLarge):
		return nil, &apiError{status: http.StatusRequestEntityTooLarge, code: codePayloadTooLarge,
			messages: []string{fmt.Sprintf("the body is larger than %d bytes", limit)}}
	case err != nil:
		return nil, &apiError{status: http.StatusBadRequest, code: codeInvalidRequest,
			messages: []string{"the body could not be read: " + err.Error()}}
	}
	return b, nil
}

// clockState is the body of the clock calls.
type clockState struct {
	Now    time.Time `json:"now"`
	Frozen bool      `json:"frozen"` // false: the real clock
}

func (s *Server) writeClock(w http.ResponseWriter) {
	writeValue(w, http.StatusOK, clockState{Now: s.clock.now(), Frozen: s.clock.frozen()})
}

func (s *Server) adminClock(w http.ResponseWriter, _ *http.Request, _ httprouter.Params) {
	s.writeClock(w)
}

// adminSetClock takes {"advance":"90m"} or {"set":"2025-01-01T00:00:00Z"}.
func (s *Server) adminSetClock(w http.ResponseWriter, r *http.Request, _ httprouter.Params) {
	body, e := readBody(w, r, maxScenarioBody)
	if e != nil {
		s.writeError(w, e)
		return
	}
	var change struct {
		Advance *string    `json:"advance"`
		Set     *time.Time `json:"set"`
	}
	dec := json.NewDecoder(strings.NewReader(string(body)))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&change); err != nil || (change.Advance == nil) == (change.Set == nil) {
		s.writeError(w, invalidRequest(map[string]string{"body": `want {"advance":"90m"} or {"set":"2025-01-01T00:00:00Z"}`}))
		return
	}
	if change.Set != nil {
		s.clock.set(*change.Set)
	} else {
		d, err := time.ParseDuration(*change.Advance)
		// Past year 9999, times no longer encode as RFC 3339.
		if err != nil || d < 0 || s.clock.now().Add(d).Year() > 9999 {
			s.writeError(w, invalidRequest(map[string]string{"advance": `advance must be a duration of 0 or more, such as "90m", that keeps the clock before year 10000`}))
			return
		}
		s.clock.advance(d)
	}
	s.writeClock(w)
}

func (s *Server) adminRealClock(w http.ResponseWriter, _ *http.Request, _ httprouter.Params) {
	s.clock.real()
	s.writeClock(w)
}
