package ops_test

import (
	"context"
	"flag"
	"fmt"
	"log"
	"os"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/clientele-xmpp/clientele/ops"
)

func ExampleEnvName() {
	fmt.Println(ops.EnvName("nats-url"))
	fmt.Println(ops.EnvName("snapshot-interval"))
	// Output:
	// CLIENTELE_NATS_URL
	// CLIENTELE_SNAPSHOT_INTERVAL
}

// A flag overrides its CLIENTELE_ variable, which overrides the default.
func ExampleParseFlags() {
	env := map[string]string{
		"HOME":                        "/home/alice",
		"CLIENTELE_SNAPSHOT_INTERVAL": "30s",
		"CLIENTELE_LOG_LEVEL":         "debug",
	}
	lookup := func(name string) (string, bool) {
		value, ok := env[name]
		return value, ok
	}

	cfg := ops.DefaultConfig()
	cfg.DataDir = ops.DefaultDataDir(lookup)
	fs := flag.NewFlagSet("serve", flag.ContinueOnError)
	cfg.RegisterFlags(fs)
	if err := ops.ParseFlags(fs, []string{"--log-level", "warn"}, lookup); err != nil {
		log.Fatal(err)
	}

	fmt.Println(cfg.DataDir)
	fmt.Println(cfg.SnapshotInterval)
	fmt.Println(cfg.LogLevel)
	fmt.Println(cfg.UseEmbedded())
	// Output:
	// /home/alice/.local/share/clientele
	// 30s
	// warn
	// true
}

func ExampleStartEmbedded() {
	dir, err := os.MkdirTemp("", "clientele-example")
	if err != nil {
		log.Fatal(err)
	}
	defer os.RemoveAll(dir)

	ctx := context.Background()
	srv, err := ops.StartEmbedded(ctx, ops.EmbeddedConfig{DataDir: dir, Listen: "127.0.0.1:0"})
	if err != nil {
		log.Fatal(err)
	}
	defer srv.Shutdown(ctx)

	nc, err := srv.Connect(ctx, "example", nil)
	if err != nil {
		log.Fatal(err)
	}
	defer nc.Close()

	js, err := jetstream.New(nc)
	if err != nil {
		log.Fatal(err)
	}
	info, err := js.AccountInfo(ctx)
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println("streams:", info.Streams)
	// Output:
	// streams: 0
}
