package mockserver

import (
	"encoding/base64"
	"encoding/json"
	"testing"
	"time"

	"github.com/agentmock/agentmock/fixtures"
)

// login asks for a token and returns it, or "" with the response's status.
func login(t *testing.T, s *Server, path, contentType, body string, headers ...string) (string, int) {
	t.Helper()
	w := call(s, "POST", path, body, append([]string{"Content-Type", contentType, "X-Api-Key", ""}, headers...)...)
	if w.Code != 200 {
		return "", w.Code
	}
	var tok tokenResponse
	if err := json.Unmarshal(w.Body.Bytes(), &tok); err != nil {
		t.Fatal(err)
	}
	if tok.TokenType != "Bearer" || tok.ExpiresIn != 3600 || tok.AccessToken == "" {
		t.Errorf("token response %+v", tok)
	}
	return tok.AccessToken, w.Code
}

const form = "application/x-www-form-urlencoded"

func TestOAuthClientCredentials(t *testing.T) {
	d := tinyData()
	d.APIKeys = []string{"key_a"}
	d.OAuthClients = []fixtures.OAuthClient{{ClientID: "ci", ClientSecret: "cs"}}
	basic := "Basic " + base64.StdEncoding.EncodeToString([]byte("ci:cs"))
	tests := []struct {
		name, path, contentType, body string
		headers                       []string
		status                        int
	}{
		{"a form body, as the official client sends", "/oauth2/token", form, "grant_type=client_credentials&client_id=ci&client_secret=cs", nil, 200},
		{"the other path", "/oauth/token", form, "grant_type=client_credentials&client_id=ci&client_secret=cs", nil, 200},
		{"a JSON body without grant_type, as the async client sends", "/oauth2/token", "application/json", `{"client_id":"ci","client_secret":"cs"}`, nil, 200},
		{"the client in HTTP Basic", "/oauth2/token", form, "grant_type=client_credentials", []string{"Authorization", basic}, 200},
		{"a wrong secret is a 401", "/oauth2/token", form, "grant_type=client_credentials&client_id=ci&client_secret=no", nil, 401},
		{"an unknown client is a 401", "/oauth2/token", form, "grant_type=client_credentials&client_id=x&client_secret=cs", nil, 401},
		{"another grant is a 400", "/oauth2/token", form, "grant_type=password&client_id=ci&client_secret=cs", nil, 400},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s, err := New(WithData(d))
			if err != nil {
				t.Fatal(err)
			}
			tok, status := login(t, s, tt.path, tt.contentType, tt.body, tt.headers...)
			if status != tt.status {
				t.Fatalf("status %d, want %d", status, tt.status)
			}
			if tok == "" {
				if status == 401 && decodeError(t, call(s, "POST", tt.path, tt.body, "Content-Type", tt.contentType)).Code != "invalid_client" {
					t.Error("a 401 without invalid_client")
				}
				return
			}
			// The token is an accepted key, although the keys are restricted.
			if w := call(s, "GET", "/v2/agents/agt_a/sessions", "", "X-Api-Key", "", "Authorization", "Bearer "+tok); w.Code != 200 {
				t.Errorf("a request with the token: %d %s", w.Code, w.Body)
			}
		})
	}
}

func TestOAuthTokensExpireByTheServerClock(t *testing.T) {
	s := newTestServer(t, WithAPIKeys("key_a"))
	s.SetClock(start)
	tok, _ := login(t, s, "/oauth2/token", form, "grant_type=client_credentials&client_id=any&client_secret=pair")
	if tok == "" {
		t.Fatal("without oauth_clients, any pair gets a token")
	}
	bearer := []string{"X-Api-Key", "", "Authorization", "Bearer " + tok}
	s.AdvanceClock(59 * time.Minute)
	if w := call(s, "GET", "/v2/agents/agt_a/sessions", "", bearer...); w.Code != 200 {
		t.Errorf("before expiry: %d", w.Code)
	}
	s.AdvanceClock(time.Minute)
	if w := call(s, "GET", "/v2/agents/agt_a/sessions", "", bearer...); w.Code != 401 {
		t.Errorf("after expiry: %d, want 401", w.Code)
	}
	if w := call(s, "GET", "/v2/agents/agt_a/sessions", "", "X-Api-Key", "", "Authorization", "Bearer oat_made_up"); w.Code != 401 {
		t.Errorf("a made-up token: %d, want 401", w.Code)
	}
}

func TestOAuthRemembersABoundedNumberOfTokens(t *testing.T) {
	var tk tokens
	first := tk.issue("c", start)
	for range maxTokens {
		tk.issue("c", start)
	}
	if tk.valid(first, start) || len(tk.expires) != maxTokens {
		t.Errorf("%d tokens kept, the first still valid: %v", len(tk.expires), tk.valid(first, start))
	}
}
