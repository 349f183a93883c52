// Command ceiling is the yardstick of agentmock's load tests: a bare
// net/http server that answers every request with the same bytes, as fast as
// Go's HTTP server can. .ci/loadtest runs it beside agentmock. Like
// agentmock, it prints "ceiling listening on URL" on stdout once it listens,
// so -addr may ask for port 0.
//
//	go run ./testdata/ceiling -addr 127.0.0.1:0 -body page.json
package main

import (
	"flag"
	"fmt"
	"log"
	"net"
	"net/http"
	"os"
	"strconv"
)

func main() {
	addr := flag.String("addr", "127.0.0.1:0", "listen address; port 0 picks a free port")
	file := flag.String("body", "", "file whose bytes every response carries")
	flag.Parse()
	body, err := os.ReadFile(*file)
	if err != nil {
		log.Fatal(err)
	}
	ln, err := net.Listen("tcp", *addr)
	if err != nil {
		log.Fatal(err)
	}
	fmt.Printf("ceiling listening on http://%s\n", ln.Addr())
	length := strconv.Itoa(len(body))
	log.Fatal(http.Serve(ln, http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		w.Header().Set("Content-Length", length)
		w.Write(body)
	})))
}
