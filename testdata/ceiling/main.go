// Command ceiling is the yardstick of agentmock's load tests: a bare
// net/http server that answers every request with the same bytes, as fast as
// Go's HTTP server can. .ci/loadtest runs it beside agentmock.
//
//	go run ./testdata/ceiling -addr 127.0.0.1:8081 -body page.json
package main

import (
	"flag"
	"log"
	"net/http"
	"os"
	"strconv"
)

func main() {
	addr := flag.String("addr", "127.0.0.1:8081", "listen address")
	file := flag.String("body", "", "file whose bytes every response carries")
	flag.Parse()
	body, err := os.ReadFile(*file)
	if err != nil {
		log.Fatal(err)
	}
	length := strconv.Itoa(len(body))
	log.Fatal(http.ListenAndServe(*addr, http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		w.Header().Set("Content-Length", length)
		w.Write(body)
	})))
}
