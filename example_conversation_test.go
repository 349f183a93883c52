package agentmock_test

import (
	"context"
	"fmt"
	"log"
	"strings"

	"github.com/agentmock/agentmock"
)

// A client sends a message and reads the reply as it streams in; the
// session then holds the whole turn. Replies are scripted by the fixtures.
func ExampleTestServer_SendStream() {
	srv, err := agentmock.NewServer(agentmock.WithFixtureYAML([]byte(`
agents:
  - key: support
    sessions:
      - {id: chat, created_at: 2024-01-15T10:30:00Z}
`)))
	if err != nil {
		log.Fatal(err)
	}
	defer srv.Close()

	var reply strings.Builder
	for f, err := range srv.SendStream(context.Background(), "support", "chat", "Where is my refund?") {
		if err != nil {
			log.Fatal(err)
		}
		if f.Type == "streaming_agent_output" {
			reply.WriteString(f.Content)
		}
		if f.Type == "end" {
			fmt.Println("end of stream")
		}
	}
	events, err := srv.Events("support", "chat")
	if err != nil {
		log.Fatal(err)
	}
	for _, e := range events {
		fmt.Println(e.Type)
	}
	fmt.Println(events[1].Content == reply.String())
	// Output:
	// end of stream
	// input_message
	// agent_output
	// true
}
