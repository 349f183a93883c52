package mockserver

import (
	"bytes"
	"context"
	"crypto/tls"
	"net"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/agentmock/agentmock/scenarios"
)

// statusClientGone is what the journal records when the client went away
// before the response, as nginx logs it.
const statusClientGone = 499

// decide asks the scenario engine about r: the scenario or status that its
// Prefer header names, else the active scenario.
func (s *Server) decide(r *request) (scenarios.Decision, error) {
	prefer := r.Header.Values("Prefer")
	if len(prefer) == 0 && s.engine.Idle() {
		return scenarios.Decision{}, nil
	}
	if code := preference(prefer, "code"); code != "" {
		status, err := strconv.Atoi(code)
		if err != nil || status < 100 || status > 599 {
			return scenarios.Decision{}, invalidRequest(fieldErrors{"Prefer": "code must be an HTTP status, such as code=429"})
		}
		return scenarios.ForStatus(status), nil
	}
	req := scenarios.Request{Method: r.Method, Route: r.route, AgentKey: r.params.ByName("agent_key"),
		Query: r.URL.Query(), Header: r.Header, APIKey: r.apiKey}
	if name := preference(prefer, "scenario"); name != "" {
		d, err := s.engine.DecideNamed(name, req)
		if err != nil {
			return d, invalidRequest(fieldErrors{"Prefer": err.Error()})
		}
		return d, nil
	}
	return s.engine.Decide(req), nil
}

// preference returns the value of one preference in Prefer headers, such as
// 429 for "Prefer: code=429, dynamic=true".
func preference(values []string, name string) string {
	for _, v := range values {
		for _, part := range strings.FieldsFunc(v, func(r rune) bool { return r == ',' || r == ';' }) {
			k, val, ok := strings.Cut(part, "=")
			if ok && strings.EqualFold(strings.TrimSpace(k), name) {
				return strings.Trim(strings.TrimSpace(val), `"`)
			}
		}
	}
	return ""
}

// carryOut does what d says, calling normal for the normal response.
func (s *Server) carryOut(w *responseWriter, r *request, d scenarios.Decision, normal func(http.ResponseWriter)) {
	if d.Fault == scenarios.FaultSlowBody {
		s.dribble(w, r.Context(), capture(normal), d.Delay)
		return
	}
	if d.Delay > 0 && !s.sleep(r.Context(), d.Delay) {
		if r.Context().Err() != nil {
			r.status = statusClientGone
		} else {
			s.writeError(w, r, &apiError{status: http.StatusServiceUnavailable, code: codeUnavailable,
				messages: []string{"the server is shutting down"}})
		}
		return
	}
	switch {
	case d.Fault == scenarios.FaultConnectionReset:
		r.record()
		closeConnection(w, true)
	case d.Fault == scenarios.FaultEmptyResponse:
		r.record()
		closeConnection(w, false)
	case d.Fault == scenarios.FaultTruncatedBody:
		rec := capture(normal)
		rec.writeHeader(w) // which records the journal entry
		w.Write(rec.body.Bytes()[:rec.body.Len()/2])
		http.NewResponseController(w).Flush()
		closeConnection(w, false)
	case d.Status != 0:
		h := w.Header()
		for k, v := range d.Headers {
			h.Set(k, v)
		}
		if d.RetryAfter > 0 {
			h.Set("Retry-After", ceilSeconds(d.RetryAfter))
		}
		e := &apiError{status: d.Status, code: d.Code, messages: []string{d.Message}}
		switch d.Status {
		case http.StatusBadRequest: // every 400 names what was wrong
			e.fieldErrors = fieldErrors{"request": d.Message}
		case http.StatusNotFound:
			e.id = r.params.ByName("agent_key")
		}
		s.writeError(w, r, e)
	default:
		normal(w)
	}
}

// sleep waits for d, or until the client goes away (ctx is done) or the
// server closes; it reports whether it waited all of d.
func (s *Server) sleep(ctx context.Context, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-ctx.Done():
		return false
	case <-s.closing:
		return false
	}
}

// closeConnection ends the connection without a response; with reset, by a
// TCP RST (SO_LINGER 0). Where the connection cannot be taken over (such as
// an httptest.ResponseRecorder or HTTP/2), it aborts the response instead.
func closeConnection(w http.ResponseWriter, reset bool) {
	conn, _, err := http.NewResponseController(w).Hijack()
	if err != nil {
		panic(http.ErrAbortHandler)
	}
	if tc, ok := conn.(*tls.Conn); ok && reset {
		conn = tc.NetConn() // a reset is the TCP connection's, under TLS too
	}
	if tcp, ok := conn.(*net.TCPConn); ok && reset {
		tcp.SetLinger(0)
	}
	conn.Close()
}

// dribble writes a recorded response with its body spread over d, in up to
// 20 pieces, and stops when the client goes away.
func (s *Server) dribble(w *responseWriter, ctx context.Context, rec *recorder, d time.Duration) {
	rec.writeHeader(w)
	body := rec.body.Bytes()
	pieces := min(len(body), 20)
	rc := http.NewResponseController(w)
	for i := range pieces {
		if i > 0 && !s.sleep(ctx, d/time.Duration(pieces)) {
			return
		}
		w.Write(body[i*len(body)/pieces : (i+1)*len(body)/pieces])
		rc.Flush()
	}
}

// recorder keeps a response to write it later in a way of the fault's choosing.
type recorder struct {
	header http.Header
	status int
	body   bytes.Buffer
}

func capture(normal func(http.ResponseWriter)) *recorder {
	rec := &recorder{header: http.Header{}}
	normal(rec)
	return rec
}

func (r *recorder) Header() http.Header { return r.header }

func (r *recorder) Write(b []byte) (int, error) {
	if r.status == 0 {
		r.status = http.StatusOK
	}
	return r.body.Write(b)
}

func (r *recorder) WriteHeader(status int) {
	if r.status == 0 {
		r.status = status
	}
}

// writeHeader writes the recorded status and headers to w, with the length of
// the whole body.
func (r *recorder) writeHeader(w *responseWriter) {
	for k, v := range r.header {
		w.Header()[k] = v
	}
	w.Header().Set("Content-Length", strconv.Itoa(r.body.Len()))
	w.WriteHeader(r.status)
}
