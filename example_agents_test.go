package agentmock_test

import (
	"encoding/json"
	"fmt"
	"io"
	"log"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/agentmock/agentmock"
	"github.com/agentmock/agentmock/scenarios"
)

// Agents are resources too: a client creates one, opens a session on it
// with an empty body (the server makes the key, and the name is the key),
// lists its sessions and deletes it, sessions and all.
func ExampleTestServer_agents() {
	srv, err := agentmock.NewServer()
	if err != nil {
		log.Fatal(err)
	}
	defer srv.Close()
	c := srv.Client() // sends x-api-key: test_key
	call := func(method, path, body string) (int, map[string]any) {
		req, _ := http.NewRequest(method, srv.URL+path, strings.NewReader(body))
		if body != "" {
			req.Header.Set("Content-Type", "application/json")
		}
		resp, err := c.Do(req)
		if err != nil {
			log.Fatal(err)
		}
		defer resp.Body.Close()
		var v map[string]any
		if b, _ := io.ReadAll(resp.Body); len(b) > 0 {
			if err := json.Unmarshal(b, &v); err != nil {
				log.Fatal(err)
			}
		}
		return resp.StatusCode, v
	}

	status, agent := call("POST", "/v2/agents", `{"name":"Support Bot","description":"Answers billing questions"}`)
	key := agent["key"].(string)
	fmt.Println(status, key, agent["enabled"], agent["model"])

	status, session := call("POST", "/v2/agents/"+key+"/sessions", `{}`)
	fmt.Println(status, session["key"], session["name"])

	status, list := call("GET", "/v2/agents/"+key+"/sessions", "")
	for _, s := range list["sessions"].([]any) {
		fmt.Println(status, s.(map[string]any)["key"])
	}
	fmt.Println("total_count", list["metadata"].(map[string]any)["total_count"])

	status, _ = call("DELETE", "/v2/agents/"+key, "")
	fmt.Println(status)
	status, gone := call("GET", "/v2/agents/"+key+"/sessions", "")
	fmt.Println(status, gone["code"])
	// Output:
	// 201 agt_support_bot true map[name:gpt-4o]
	// 201 ase_session ase_session
	// 200 ase_session
	// total_count 1
	// 204
	// 404 agent_not_found
}

// Rules built in Go can aim at one route by its name; here the first agent
// list fails with a 503 and agent creates are slowed down. The journal
// names the route and the rule of each request.
func ExampleTestServer_ActivateRules() {
	srv, err := agentmock.NewServer()
	if err != nil {
		log.Fatal(err)
	}
	defer srv.Close()
	err = srv.ActivateRules("agents", 0, []scenarios.Rule{
		{Match: scenarios.Match{Route: scenarios.RouteListAgents}, Times: 1, Respond: &scenarios.Response{Status: 503}},
		{Match: scenarios.Match{Route: scenarios.RouteCreateAgent}, Delay: scenarios.DelayOf(10 * time.Millisecond)},
	}, "")
	if err != nil {
		log.Fatal(err)
	}
	c := srv.Client()
	for range 2 {
		resp, err := c.Get(srv.URL + "/v2/agents")
		if err != nil {
			log.Fatal(err)
		}
		resp.Body.Close()
	}
	resp, err := c.Post(srv.URL+"/v2/agents", "application/json", strings.NewReader(`{"name":"Slow"}`))
	if err != nil {
		log.Fatal(err)
	}
	resp.Body.Close()
	journal := srv.Requests()
	for _, r := range journal {
		fmt.Printf("%s %s %d rule=%q\n", r.Method, r.Route, r.Status, r.Rule)
	}
	fmt.Println("create delayed:", journal[2].Duration >= 10*time.Millisecond)
	// Output:
	// GET list_agents 503 rule="agents#1"
	// GET list_agents 200 rule=""
	// POST create_agent 201 rule="agents#2"
	// create delayed: true
}

// A client logs in with OAuth client credentials, as the official SDKs do,
// and the token is then an accepted key, for an hour of the server's clock.
func ExampleWithFixtureYAML_oauth() {
	srv, err := agentmock.NewServer(agentmock.WithFixtureYAML([]byte(`
api_keys: [key_a]
oauth_clients:
  - {client_id: my_app, client_secret: my_secret}
agents:
  - {key: customer_support, name: Customer support}
`)))
	if err != nil {
		log.Fatal(err)
	}
	defer srv.Close()
	form := url.Values{"grant_type": {"client_credentials"}, "client_id": {"my_app"}, "client_secret": {"my_secret"}}
	resp, err := http.PostForm(srv.URL+"/oauth2/token", form)
	if err != nil {
		log.Fatal(err)
	}
	var tok struct {
		AccessToken string `json:"access_token"`
		TokenType   string `json:"token_type"`
		ExpiresIn   int    `json:"expires_in"`
	}
	json.NewDecoder(resp.Body).Decode(&tok)
	resp.Body.Close()
	fmt.Println(resp.StatusCode, tok.TokenType, tok.ExpiresIn)

	get := func() int {
		req, _ := http.NewRequest("GET", srv.URL+"/v2/agents/customer_support", nil)
		req.Header.Set("Authorization", "Bearer "+tok.AccessToken)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			log.Fatal(err)
		}
		resp.Body.Close()
		return resp.StatusCode
	}
	fmt.Println(get())
	srv.AdvanceClock(time.Hour)
	fmt.Println(get())
	// Output:
	// 200 Bearer 3600
	// 200
	// 401
}
