package mockserver

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"net/http"
	"slices"
	"strconv"
	"strings"

	"github.com/agentmock/agentmock/internal/apierror"
)

// The error codes this package uses, from the one table.
const (
	codeInvalidRequest   = apierror.InvalidRequest
	codeUnauthorized     = apierror.Unauthorized
	codeForbidden        = apierror.Forbidden
	codeAgentNotFound    = apierror.AgentNotFound
	codeSessionNotFound  = apierror.SessionNotFound
	codeSessionExists    = apierror.SessionExists
	codeRateLimited      = apierror.RateLimitExceeded
	codeNotFound         = apierror.NotFound
	codeMethodNotAllowed = apierror.MethodNotAllowed
	codePayloadTooLarge  = apierror.PayloadTooLarge
	codeUnsupportedMedia = apierror.UnsupportedMediaType
	codeInternal         = apierror.Internal
	codeUnavailable      = apierror.ServiceUnavailable
)

// apiError is an error response before it is written: what a handler
// returns for anything but a success.
type apiError struct {
	status      int
	code        string
	messages    []string
	fieldErrors fieldErrors // 400 only
	id          string      // 404 only: what was not found
}

func (e *apiError) Error() string { return e.code + ": " + strings.Join(e.messages, "; ") }

// fieldErrors is a 400's field_errors: the reason for each bad field, by name.
type fieldErrors map[string]string

// with returns f with name's reason set, making f if it is nil.
func (f fieldErrors) with(name, reason string) fieldErrors {
	if f == nil {
		f = fieldErrors{}
	}
	f[name] = reason
	return f
}

// invalidRequest builds a 400 with one message per bad field, in a stable
// order, each naming its field.
func invalidRequest(bad fieldErrors) *apiError {
	e := &apiError{status: http.StatusBadRequest, code: codeInvalidRequest, fieldErrors: bad}
	for _, name := range slices.Sorted(maps.Keys(bad)) {
		msg := bad[name]
		if !strings.HasPrefix(msg, name) {
			msg = name + ": " + msg
		}
		e.messages = append(e.messages, msg)
	}
	return e
}

func agentNotFound(key string) *apiError {
	return &apiError{status: http.StatusNotFound, code: codeAgentNotFound,
		messages: []string{fmt.Sprintf("agent %q does not exist", key)}, id: key}
}

func sessionNotFound(agentKey, key string) *apiError {
	return &apiError{status: http.StatusNotFound, code: codeSessionNotFound,
		messages: []string{fmt.Sprintf("session %q of agent %q does not exist", key, agentKey)}, id: key}
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

// writeError is the one place that writes an error: the JSON envelope, and
// the code and request_id for the journal. An error that is not an *apiError is a bug,
// and a 500.
func (s *Server) writeError(w http.ResponseWriter, r *request, err error) {
	var e *apiError
	if !errors.As(err, &e) {
		s.log.Error("unexpected error", "method", r.Method, "path", r.URL.Path, "err", err)
		e = &apiError{status: http.StatusInternalServerError, code: codeInternal, messages: []string{"internal error"}}
	}
	r.code = e.code
	r.requestID = "req_" + strconv.FormatUint(s.requestSeq.Add(1), 10)
	var body bytes.Buffer
	enc := json.NewEncoder(&body)
	enc.SetEscapeHTML(false) // messages show <key>, not \u003ckey\u003e
	err = enc.Encode(errorBody{
		Code:        e.code,
		Messages:    e.messages,
		RequestID:   r.requestID,
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

// writeJSON is the one place that writes a JSON body.
func writeJSON(w http.ResponseWriter, status int, body []byte) {
	h := w.Header()
	h["Content-Type"] = jsonContentType
	h["Content-Length"] = []string{strconv.Itoa(len(body))}
	w.WriteHeader(status)
	w.Write(body)
}

// writeValue writes v as JSON.
func writeValue(w http.ResponseWriter, status int, v any) {
	b, err := json.Marshal(v)
	if err != nil {
		panic(err) // only our own types get here
	}
	writeJSON(w, status, append(b, '\n'))
}
