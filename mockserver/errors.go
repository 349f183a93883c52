package mockserver

import (
	"bytes"
	"encoding/json"
	"net/http"
	"strconv"
)

// Error codes. The first five are the seed's; the others cover what the seed
// leaves out.
const (
	codeInvalidRequest   = "invalid_request"
	codeUnauthorized     = "unauthorized"
	codeForbidden        = "forbidden"
	codeAgentNotFound    = "agent_not_found"
	codeRateLimited      = "rate_limit_exceeded"
	codeNotFound         = "not_found"
	codeMethodNotAllowed = "method_not_allowed"
	codeInternal         = "internal_error"
	codeUnavailable      = "service_unavailable"
)

// apiError is an error response before it is written.
type apiError struct {
	status      int
	code        string
	messages    []string
	fieldErrors map[string]string // 400 only
	id          string            // 404 only: what was not found
}

// errorBody is the wire form of every error: the seed's code plus the official
// schema's messages and request_id.
type errorBody struct {
	Code        string            `json:"code"`
	Messages    []string          `json:"messages"`
	RequestID   string            `json:"request_id"`
	FieldErrors map[string]string `json:"field_errors,omitempty"`
	ID          string            `json:"id,omitempty"`
}

func (s *Server) writeError(w http.ResponseWriter, e *apiError) {
	if c, ok := w.(interface{ setCode(string) }); ok {
		c.setCode(e.code)
	}
	var body bytes.Buffer
	enc := json.NewEncoder(&body)
	enc.SetEscapeHTML(false) // messages show <key>, not \u003ckey\u003e
	err := enc.Encode(errorBody{
		Code:        e.code,
		Messages:    e.messages,
		RequestID:   "req_" + strconv.FormatUint(s.requestSeq.Add(1), 10),
		FieldErrors: e.fieldErrors,
		ID:          e.id,
	})
	if err != nil { // strings and a map of strings always marshal
		panic(err)
	}
	writeJSON(w, e.status, body.Bytes())
}

// jsonContentType is shared by every response, to spare an allocation each;
// net/http only reads header values.
var jsonContentType = []string{"application/json"}

// writeJSON is the one place that writes a response body.
func writeJSON(w http.ResponseWriter, status int, body []byte) {
	h := w.Header()
	h["Content-Type"] = jsonContentType
	h["Content-Length"] = []string{strconv.Itoa(len(body))}
	w.WriteHeader(status)
	w.Write(body)
}
