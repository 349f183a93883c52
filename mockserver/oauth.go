package mockserver

import (
	"crypto/sha256"
	"crypto/subtle"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"mime"
	"net/http"
	"net/url"
	"strconv"
	"sync"
	"time"

	"github.com/agentmock/agentmock/fixtures"
	"github.com/agentmock/agentmock/internal/apierror"
)

const (
	// tokenLifetime is the expires_in of the tokens the server gives.
	tokenLifetime = time.Hour
	// maxTokens bounds the tokens a server remembers; past it, the oldest
	// are forgotten first.
	maxTokens    = 10_000
	maxTokenBody = 64 << 10
)

// tokens are the OAuth access tokens a server has given, each an accepted
// API key until it expires by the server's clock. They outlive a reset, as
// a client keeps its token across the tests that reset the server.
type tokens struct {
	mu      sync.Mutex
	seq     uint64
	expires map[string]time.Time
	order   []string // oldest first
}

func (t *tokens) issue(clientID string, now time.Time) string {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.seq++
	sum := sha256.Sum256([]byte(clientID + "\x00" + strconv.FormatUint(t.seq, 10)))
	tok := "oat_" + strconv.FormatUint(t.seq, 10) + "_" + hex.EncodeToString(sum[:12])
	if t.expires == nil {
		t.expires = map[string]time.Time{}
	}
	for len(t.order) >= maxTokens || len(t.order) > 0 && !now.Before(t.expires[t.order[0]]) {
		delete(t.expires, t.order[0])
		t.order = t.order[1:]
	}
	t.expires[tok] = now.Add(tokenLifetime)
	t.order = append(t.order, tok)
	return tok
}

// valid reports whether key is a token that has not expired at now.
func (t *tokens) valid(key string, now time.Time) bool {
	t.mu.Lock()
	defer t.mu.Unlock()
	exp, ok := t.expires[key]
	return ok && now.Before(exp)
}

// tokenResponse is the body of a token grant (RFC 6749, section 5.1).
type tokenResponse struct {
	AccessToken string `json:"access_token"`
	TokenType   string `json:"token_type"`
	ExpiresIn   int    `json:"expires_in"`
}

// token answers POST /oauth2/token: the client credentials grant, with the
// client in a form body, a JSON body or HTTP Basic.
func (s *Server) token(w http.ResponseWriter, r *request) error {
	grant, id, secret, err := readTokenRequest(w, r)
	if err != nil {
		return err
	}
	// The official async client sends no grant_type.
	if grant != "" && grant != "client_credentials" {
		return invalidRequest(fieldErrors{"grant_type": "grant_type must be client_credentials"})
	}
	if !acceptedClient(r.loaded.oauthClients, id, secret) {
		return &apiError{status: http.StatusUnauthorized, code: apierror.InvalidClient,
			messages: []string{"the client id and secret are not accepted"}}
	}
	w.Header().Set("Cache-Control", "no-store")
	writeValue(w, http.StatusOK, tokenResponse{AccessToken: s.tokens.issue(id, s.clock.now()),
		TokenType: "Bearer", ExpiresIn: int(tokenLifetime / time.Second)})
	return nil
}

// acceptedClient checks a client against the fixtures' oauth_clients, or,
// when there are none, asks only for a non-empty id and secret.
func acceptedClient(clients []fixtures.OAuthClient, id, secret string) bool {
	if id == "" || secret == "" {
		return false
	}
	if len(clients) == 0 {
		return true
	}
	for _, c := range clients {
		if c.ClientID == id && subtle.ConstantTimeCompare([]byte(c.ClientSecret), []byte(secret)) == 1 {
			return true
		}
	}
	return false
}

func readTokenRequest(w http.ResponseWriter, r *request) (grant, id, secret string, err error) {
	body, err := readBody(w, r, maxTokenBody)
	if err != nil {
		return "", "", "", err
	}
	mt, _, _ := mime.ParseMediaType(r.Header.Get("Content-Type"))
	switch mt {
	case "application/json":
		var v struct {
			GrantType    string `json:"grant_type"`
			ClientID     string `json:"client_id"`
			ClientSecret string `json:"client_secret"`
		}
		if err := json.Unmarshal(body, &v); err != nil {
			return "", "", "", invalidRequest(fieldErrors{"body": "the body must be a JSON object: " + err.Error()})
		}
		grant, id, secret = v.GrantType, v.ClientID, v.ClientSecret
	case "application/x-www-form-urlencoded", "":
		form, err := url.ParseQuery(string(body))
		if err != nil {
			return "", "", "", invalidRequest(fieldErrors{"body": "the body is not a form: " + err.Error()})
		}
		grant, id, secret = form.Get("grant_type"), form.Get("client_id"), form.Get("client_secret")
	default:
		return "", "", "", &apiError{status: http.StatusUnsupportedMediaType, code: codeUnsupportedMedia,
			messages: []string{fmt.Sprintf("the body must be a form or JSON, not %q", mt)}}
	}
	if bid, bsecret, ok := r.BasicAuth(); ok && id == "" {
		id, secret = bid, bsecret
	}
	return grant, id, secret, nil
}
