// Package apierror defines the API's error codes and their default messages,
// once, for the server's own errors and for the errors that scenarios inject.
// A code is the seed's error code, or one in its style for what the seed
// leaves out.
package apierror

import (
	"net/http"
	"strconv"
	"strings"
)

// The error codes.
const (
	InvalidRequest       = "invalid_request"
	Unauthorized         = "unauthorized"
	Forbidden            = "forbidden"
	AgentNotFound        = "agent_not_found"
	SessionNotFound      = "session_not_found"
	EventNotFound        = "event_not_found"
	NotFound             = "not_found"
	MethodNotAllowed     = "method_not_allowed"
	SessionExists        = "session_exists"
	AgentExists          = "agent_exists"
	SessionDisabled      = "session_disabled"
	PayloadTooLarge      = "payload_too_large"
	UnsupportedMediaType = "unsupported_media_type"
	RateLimitExceeded    = "rate_limit_exceeded"
	InvalidClient        = "invalid_client"
	Internal             = "internal_error"
	BadGateway           = "bad_gateway"
	ServiceUnavailable   = "service_unavailable"
	GatewayTimeout       = "gateway_timeout"
)

// CodeFor is the code of an error with status that says nothing more:
// "error" for a status without a code of its own.
func CodeFor(status int) string {
	switch status {
	case http.StatusBadRequest:
		return InvalidRequest
	case http.StatusUnauthorized:
		return Unauthorized
	case http.StatusForbidden:
		return Forbidden
	case http.StatusNotFound:
		return AgentNotFound
	case http.StatusMethodNotAllowed:
		return MethodNotAllowed
	case http.StatusConflict:
		return SessionExists
	case http.StatusRequestEntityTooLarge:
		return PayloadTooLarge
	case http.StatusUnsupportedMediaType:
		return UnsupportedMediaType
	case http.StatusTooManyRequests:
		return RateLimitExceeded
	case http.StatusInternalServerError:
		return Internal
	case http.StatusBadGateway:
		return BadGateway
	case http.StatusServiceUnavailable:
		return ServiceUnavailable
	case http.StatusGatewayTimeout:
		return GatewayTimeout
	}
	return "error"
}

// Message is the default message of code, for an error with status.
func Message(code string, status int) string {
	switch code {
	case InvalidRequest:
		return "the request is invalid"
	case Unauthorized:
		return "missing or invalid API key"
	case Forbidden:
		return "this API key may not access this agent"
	case AgentNotFound:
		return "the agent does not exist"
	case SessionNotFound:
		return "the session does not exist"
	case EventNotFound:
		return "the event does not exist"
	case SessionExists:
		return "the session already exists"
	case AgentExists:
		return "the agent already exists"
	case SessionDisabled:
		return "the session is disabled"
	case MethodNotAllowed:
		return "method not allowed"
	case PayloadTooLarge:
		return "the body is too large"
	case UnsupportedMediaType:
		return "the body must be application/json"
	case RateLimitExceeded:
		return "rate limit exceeded; retry later"
	case InvalidClient:
		return "the client credentials are not accepted"
	case Internal:
		return "internal server error"
	case BadGateway:
		return "bad gateway"
	case ServiceUnavailable:
		return "service unavailable; retry later"
	case GatewayTimeout:
		return "gateway timeout"
	}
	if t := http.StatusText(status); t != "" {
		return strings.ToLower(t)
	}
	return "error " + strconv.Itoa(status)
}
