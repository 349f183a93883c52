package mockserver

import (
	"net/http"
	"net/url"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/agentmock/agentmock/internal/store"
)

const (
	defaultLimit = 10
	maxLimit     = 100
	maxFilterLen = 256
)

// Messages of the 400s, one per rule of the endpoint.
const (
	msgAgentKey = "agent_key must match " + keyRule
	msgLimit    = "limit must be an integer from 1 to 100"
	msgEnabled  = "enabled must be true or false"
	msgFilter   = "filter must be a valid RE2 regular expression of at most 256 characters"
	msgRepeated = "must be given at most once"
)

// listParams are the query parameters of the lists; others are ignored.
// Lists of events take include_hidden instead of enabled and filter.
var listParams = [...]string{"limit", "page_key", "enabled", "filter", "include_hidden"}

// takes reports whether the list of c takes the parameter k.
func (c cursor) takes(k string) bool {
	if c == eventCursor {
		return k != "enabled" && k != "filter"
	}
	return k != "include_hidden"
}

// parseListQuery validates a list request. It returns the query, or the
// reason for each bad parameter keyed by its name. It reads the raw query
// itself, to spare a map per request; unlike url.ParseQuery, it ignores what
// it cannot read in parameters it does not know.
func parseListQuery(rawQuery string, c cursor) (store.Query, fieldErrors) {
	q := store.Query{Limit: defaultLimit}
	if c == eventCursor {
		q.Enabled = store.OnlyEnabled // the visible events
	}
	var bad fieldErrors
	fail := func(name, reason string) { bad = bad.with(name, reason) }
	var seen [len(listParams)]bool
	for rest := rawQuery; rest != ""; {
		var pair string
		pair, rest, _ = strings.Cut(rest, "&")
		k, v, _ := strings.Cut(pair, "=")
		k, err := queryUnescape(k)
		i := slices.Index(listParams[:], k)
		if err != nil || i < 0 || !c.takes(k) {
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
			q.Limit = n
		case "page_key":
			if v != "" {
				id, err := c.decode(v)
				if err != nil {
					fail(k, err.Error())
				}
				q.After = id
			}
		case "enabled":
			b, err := strconv.ParseBool(v)
			switch {
			case err != nil:
				fail(k, msgEnabled)
			case b:
				q.Enabled = store.OnlyEnabled
			default:
				q.Enabled = store.OnlyDisabled
			}
		case "include_hidden":
			b, err := strconv.ParseBool(v)
			switch {
			case err != nil:
				fail(k, "include_hidden must be true or false")
			case b:
				q.Enabled = store.AnyEnabled
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
			q.Filter = re
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

func (s *Server) listSessions(w http.ResponseWriter, r *request) error {
	q, bad := parseListQuery(r.URL.RawQuery, sessionCursor)
	a, err := s.agent(r, bad)
	if err != nil {
		return err
	}
	buf := s.buffers.Get().(*[]byte)
	page := s.pages.Get().(*[]*store.Session)
	*buf = appendPage((*buf)[:0], r.snap.Sessions(a, q, *page))
	clear((*page)[:cap(*page)]) // the page's memory, not a filter's cached matches
	s.pages.Put(page)
	writeJSON(w, http.StatusOK, *buf)
	s.buffers.Put(buf)
	return nil
}

// appendPage writes a page by concatenating the sessions' stored JSON.
func appendPage(b []byte, p store.Page[*store.Session]) []byte {
	b = append(b, `{"sessions":[`...)
	for i, s := range p.Items {
		if i > 0 {
			b = append(b, ',')
		}
		b = append(b, s.JSON...)
	}
	return appendListMetadata(b, p.More, sessionCursor, lastKey(p.Items, func(s *store.Session) string { return s.ID }), p.Total)
}

// appendListMetadata ends a list: its metadata, with the page_key after
// last when there are more, and the total.
func appendListMetadata(b []byte, more bool, c cursor, last string, total int) []byte {
	b = append(b, `],"metadata":{`...)
	if more {
		b = append(b, `"page_key":"`...)
		b = c.append(b, last)
		b = append(b, `",`...)
	}
	b = append(b, `"total_count":`...)
	b = strconv.AppendInt(b, int64(total), 10)
	return append(b, "}}\n"...)
}

// lastKey is the key of the last item, or "".
func lastKey[T any](items []T, key func(T) string) string {
	if len(items) == 0 {
		return ""
	}
	return key(items[len(items)-1])
}
