package simulate_test

import (
	"fmt"
	"time"

	"github.com/clientele-xmpp/clientele/ops/simulate"
)

func ExampleGenerator() {
	start := time.Date(2026, 3, 2, 8, 0, 0, 0, time.UTC)
	g, err := simulate.NewGenerator(simulate.Config{Nodes: 2, Users: 3, Events: 1000, Seed: 1, Start: start})
	if err != nil {
		fmt.Println(err)
		return
	}
	for range 6 {
		e, err := g.Next()
		if err != nil {
			fmt.Println(err)
			return
		}
		if e.User == "" {
			fmt.Println(e.Node, e.Type)
			continue
		}
		fmt.Println(e.Node, e.Type, e.User)
	}
	// Output:
	// xmpp-1 node.started
	// xmpp-2 node.started
	// xmpp-2 auth.password user2@example.test
	// xmpp-2 fast.minted user2@example.test
	// xmpp-2 session.bound user2@example.test
	// xmpp-1 auth.password user1@example.test
}
