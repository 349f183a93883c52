package mockserver_test

import (
	"fmt"
	"io"
	"log"
	"net/http"
	"net/http/httptest"

	"github.com/agentmock/agentmock/mockserver"
)

// A Server is an http.Handler, so it can be mounted beside other handlers.
func ExampleNew() {
	mock, err := mockserver.New(mockserver.WithoutAuth())
	if err != nil {
		log.Fatal(err)
	}
	mux := http.NewServeMux()
	mux.Handle("/v2/", mock)
	mux.HandleFunc("/hello", func(w http.ResponseWriter, _ *http.Request) { io.WriteString(w, "hi") })
	srv := httptest.NewServer(mux)
	defer srv.Close()

	resp, err := http.Get(srv.URL + "/v2/agents/agt_new_agent/sessions")
	if err != nil {
		log.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	fmt.Print(resp.StatusCode, " ", string(body))
	// Output:
	// 200 {"sessions":[],"metadata":{"total_count":0}}
}
