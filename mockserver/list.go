package mockserver

import (
	"fmt"
	"maps"
	"net/http"
	"net/url"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/julienschmidt/httprouter"
)

const (
	defaultLimit = 10
	maxLimit     = 100
	maxFilterLen = 256
)

// Messages of the 400s, one per rule of the endpoint.
const (
	msgAgentKey = "agent_key must match ^agt_[0-9a-zA-Z_-]+$ and have at most 50 characters"
	msgLimit    = "limit must be an integer from 1 to 100"
	msgEnabled  = "enabled must be true or false"
	msgFilter   = "filter must be a valid RE2 regular expression of at most 256 characters"
	msgRepeated = "must be given at most once"
)

// listParams are the query parameters of a list; others are ignored.
var listParams = [...]string{"limit", "page_key", "enabled", "filter"}

// parseListQuery validates a list request. It returns the query, or the
// reason for each bad parameter keyed by its name. It reads the raw query
// itself, to spare a map per request; unlike url.ParseQuery, it ignores what
// it cannot read in parameters it does not know.
func parseListQuery(rawQuery string) (listQuery, map[string]string) {
	q := listQuery{limit: defaultLimit}
	var bad map[string]string
	fail := func(name, reason string) {
		if bad == nil {
			bad = map[string]string{}
		}
		bad[name] = reason
	}
	var seen [len(listParams)]bool
	for rest := rawQuery; rest != ""; {
		var pair string
		pair, rest, _ = strings.Cut(rest, "&")
		k, v, _ := strings.Cut(pair, "=")
		k, err := queryUnescape(k)
		i := slices.Index(listParams[:], k)
		if err != nil || i < 0 {
			continue // unknown parameters are ignored, however they are written
		}
		if v, err = queryUnescape(v); err != nil {
			fail(k, k+" is not a valid query-string escape: "+err.Error())
			continue
		}
		if seen[i] {
			fail(k, k+" "+msgRepeated)
			continue
		}
		seen[i] = true
		switch k {
		case "limit":
			n, err := strconv.Atoi(v)
			if err != nil || n < 1 || n > maxLimit {
				fail(k, msgLimit)
			}
			q.limit = n
		case "page_key":
			if v != "" {
				id, err := decodePageKey(v)
				if err != nil {
					fail(k, err.Error())
				}
				q.after = id
			}
		case "enabled":
			b, err := strconv.ParseBool(v)
			switch {
			case err != nil:
				fail(k, msgEnabled)
			case b:
				q.enabled = onlyEnabled
			default:
				q.enabled = onlyDisabled
			}
		case "filter":
			if utf8.RuneCountInString(v) > maxFilterLen {
				fail(k, msgFilter)
				continue
			}
			re, err := regexp.Compile(v)
			if err != nil {
				fail(k, msgFilter)
			}
			q.filter = re
		}
	}
	return q, bad
}

// queryUnescape is url.QueryUnescape without an allocation for the common
// string that needs no unescaping.
func queryUnescape(s string) (string, error) {
	if !strings.ContainsAny(s, "%+") {
		return s, nil
	}
	return url.QueryUnescape(s)
}

func (s *Server) listSessions(w http.ResponseWriter, r *http.Request, ps httprouter.Params) {
	agentKey := ps.ByName("agent_key")
	if !s.authenticated(w, r) {
		return
	}
	q, bad := parseListQuery(r.URL.RawQuery)
	_, a := s.reach(w, r, agentKey, bad)
	if a == nil {
		return
	}
	buf := s.buffers.Get().(*[]byte)
	*buf = appendPage((*buf)[:0], a.list(q))
	writeJSON(w, http.StatusOK, *buf)
	s.buffers.Put(buf)
}

// authenticated writes the 401 when the request's key is not accepted, and
// else applies the key's rate limit, with its 429.
func (s *Server) authenticated(w http.ResponseWriter, r *http.Request) bool {
	key := apiKey(r)
	if e := s.authenticate(key, s.data.Load()); e != nil {
		s.writeError(w, e)
		return false
	}
	return s.admit(w, key)
}

// reach makes the checks that every route makes after authentication, in
// order: the parameters (400, with the agent key's own rule added to bad),
// the agent (404) and its allowed keys (403). It returns the dataset with the
// agent's expired sessions gone, and the agent, or a nil agent when it has
// written an error.
func (s *Server) reach(w http.ResponseWriter, r *http.Request, agentKey string, bad map[string]string) (*dataset, *agent) {
	if !validAgentKey(agentKey) {
		if bad == nil {
			bad = map[string]string{}
		}
		bad["agent_key"] = msgAgentKey
	}
	if bad != nil {
		s.writeError(w, invalidRequest(bad))
		return nil, nil
	}
	ds := s.live(agentKey)
	a := ds.agents[agentKey]
	if a == nil {
		s.writeError(w, &apiError{status: http.StatusNotFound, code: codeAgentNotFound,
			messages: []string{fmt.Sprintf("agent %q does not exist", agentKey)}, id: agentKey})
		return nil, nil
	}
	if !s.cfg.noAuth && a.allowed != nil && !a.allowed[apiKey(r)] {
		s.writeError(w, &apiError{status: http.StatusForbidden, code: codeForbidden,
			messages: []string{fmt.Sprintf("the API key may not use the sessions of agent %q", agentKey)}})
		return nil, nil
	}
	return ds, a
}

// invalidRequest builds a 400 with one message per bad field, in a stable
// order, each naming its field.
func invalidRequest(bad map[string]string) *apiError {
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

// appendPage writes a page by concatenating the sessions' stored JSON.
func appendPage(b []byte, p page) []byte {
	b = append(b, `{"sessions":[`...)
	for i, s := range p.sessions {
		if i > 0 {
			b = append(b, ',')
		}
		b = append(b, s.json...)
	}
	b = append(b, `],"metadata":{`...)
	if p.more {
		b = append(b, `"page_key":"`...)
		b = appendPageKey(b, p.sessions[len(p.sessions)-1].id)
		b = append(b, `",`...)
	}
	b = append(b, `"total_count":`...)
	b = strconv.AppendInt(b, int64(p.total), 10)
	return append(b, "}}\n"...)
}
