package agentmock_test

import (
	"encoding/json"
	"fmt"
	"log"
	"net/http"
	"strings"
	"time"

	"github.com/agentmock/agentmock"
)

type page struct {
	Sessions []struct {
		ID      string `json:"id"`
		Name    string `json:"name"`
		Enabled bool   `json:"enabled"`
	} `json:"sessions"`
	Metadata struct {
		PageKey    string `json:"page_key"`
		TotalCount int    `json:"total_count"`
	} `json:"metadata"`
}

func getPage(c *http.Client, url string) page {
	resp, err := c.Get(url)
	if err != nil {
		log.Fatal(err)
	}
	defer resp.Body.Close()
	var p page
	if err := json.NewDecoder(resp.Body).Decode(&p); err != nil {
		log.Fatal(err)
	}
	return p
}

// The built-in data answers the seed's example request.
func ExampleNewServer() {
	srv, err := agentmock.NewServer()
	if err != nil {
		log.Fatal(err)
	}
	defer srv.Close()

	p := getPage(srv.Client(), srv.URL+"/v2/agents/agt_customer_support/sessions?limit=3")
	for _, s := range p.Sessions {
		fmt.Println(s.ID, s.Enabled)
	}
	fmt.Println(p.Metadata.PageKey, p.Metadata.TotalCount)
	// Output:
	// ase_customer_support_001 true
	// ase_customer_support_002 true
	// ase_customer_support_003 false
	// eyJzZXNzaW9uX2lkIjoiYXNlX2N1c3RvbWVyX3N1cHBvcnRfMDAzIn0= 127
}

// Fixtures can be given inline; a test names exactly the data it needs.
func ExampleWithFixtureYAML() {
	srv, err := agentmock.NewServer(agentmock.WithFixtureYAML([]byte(`
agents:
  - key: agt_demo
    sessions:
      - {id: ase_demo_001, name: First, created_at: 2024-01-15T10:30:00Z}
      - {id: ase_demo_002, name: Second, enabled: false, created_at: 2024-01-15T11:00:00Z}
`)))
	if err != nil {
		log.Fatal(err)
	}
	defer srv.Close()

	p := getPage(srv.Client(), srv.URL+"/v2/agents/agt_demo/sessions?enabled=true")
	fmt.Println(len(p.Sessions), p.Sessions[0].Name, p.Metadata.TotalCount)
	// Output:
	// 1 First 1
}

// Following page_key walks every session of an agent.
func ExampleWithGenerated() {
	srv, err := agentmock.NewServer(agentmock.WithGenerated("agt_load", 250))
	if err != nil {
		log.Fatal(err)
	}
	defer srv.Close()

	seen, url := 0, srv.URL+"/v2/agents/agt_load/sessions?limit=100"
	for {
		p := getPage(srv.Client(), url)
		seen += len(p.Sessions)
		if p.Metadata.PageKey == "" {
			break
		}
		url = srv.URL + "/v2/agents/agt_load/sessions?limit=100&page_key=" + p.Metadata.PageKey
	}
	fmt.Println(seen)
	// Output:
	// 250
}

// A client can run a whole flow: create, read, change, list and delete, and
// a session with tti_minutes expires on the server's clock.
func ExampleTestServer_statefulFlow() {
	srv, err := agentmock.NewServer()
	if err != nil {
		log.Fatal(err)
	}
	defer srv.Close()
	c := srv.Client()
	base := srv.URL + "/v2/agents/agt_new_agent/sessions"
	call := func(method, url, body string) string {
		req, _ := http.NewRequest(method, url, strings.NewReader(body))
		req.Header.Set("Content-Type", "application/json")
		resp, err := c.Do(req)
		if err != nil {
			log.Fatal(err)
		}
		defer resp.Body.Close()
		var s struct {
			Key     string `json:"key"`
			Name    string `json:"name"`
			Enabled bool   `json:"enabled"`
		}
		json.NewDecoder(resp.Body).Decode(&s)
		return fmt.Sprintf("%s %d %q %q %v", method, resp.StatusCode, s.Key, s.Name, s.Enabled)
	}

	srv.SetClock(time.Date(2025, 1, 1, 9, 0, 0, 0, time.UTC))
	fmt.Println(call("POST", base, `{"name":"Refund request","tti_minutes":30}`))
	fmt.Println(call("PATCH", base+"/ase_refund_request", `{"enabled":false}`))
	fmt.Println(call("GET", base+"/ase_refund_request", ""))
	fmt.Println(getPage(c, base).Metadata.TotalCount)
	srv.AdvanceClock(30 * time.Minute)
	fmt.Println(call("GET", base+"/ase_refund_request", ""))
	fmt.Println(call("POST", base, `{"name":"Second"}`))
	fmt.Println(call("DELETE", base+"/ase_second", ""))
	// Output:
	// POST 201 "ase_refund_request" "Refund request" true
	// PATCH 200 "ase_refund_request" "Refund request" false
	// GET 200 "ase_refund_request" "Refund request" false
	// 1
	// GET 404 "" "" false
	// POST 201 "ase_second" "Second" true
	// DELETE 204 "" "" false
}
