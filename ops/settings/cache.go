package settings

import (
	"context"
	"fmt"
	"log/slog"
	"slices"
	"sync"

	"github.com/nats-io/nats.go/jetstream"
)

// Cache follows the settings bucket and keeps the current settings in
// memory, for readers that must not wait on NATS. Its methods are safe for
// concurrent use with Run.
type Cache struct {
	store *Store
	log   *slog.Logger

	mu      sync.Mutex
	current Settings
	ready   bool
	// changed is closed and replaced on every update.
	changed chan struct{}
}

// NewCache returns a Cache over store. A nil logger discards the log.
func NewCache(store *Store, logger *slog.Logger) *Cache {
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	return &Cache{store: store, log: logger, changed: make(chan struct{})}
}

// Run watches the bucket and applies every change until ctx ends, when it
// returns nil. It returns an error when the watch cannot start.
func (c *Cache) Run(ctx context.Context) error {
	w, err := c.store.kv.WatchAll(ctx)
	if err != nil {
		return fmt.Errorf("settings: watch bucket %s: %w", Bucket, err)
	}
	defer w.Stop()

	for {
		select {
		case <-ctx.Done():
			return nil
		case entry, ok := <-w.Updates():
			if !ok {
				return nil
			}
			c.apply(entry)
		}
	}
}

// apply stores one watched entry. A nil entry marks the end of the values
// that existed when the watch started.
func (c *Cache) apply(entry jetstream.KeyValueEntry) {
	c.mu.Lock()
	defer c.mu.Unlock()

	if entry == nil {
		c.ready = true
		c.notifyLocked()
		return
	}
	if !slices.Contains(Names(), entry.Key()) {
		c.log.Debug("unknown setting in the bucket ignored", "setting", entry.Key())
		return
	}
	next := c.current
	value := string(entry.Value())
	if entry.Operation() != jetstream.KeyValuePut {
		// A deleted or purged key returns to its default.
		value, _ = Settings{}.Value(entry.Key())
	}
	if err := next.set(entry.Key(), value); err != nil {
		c.log.Warn("invalid setting in the bucket ignored", "setting", entry.Key(), "error", err)
		return
	}
	next.Revision = max(next.Revision, entry.Revision())
	c.current = next
	c.log.Info("setting changed", "setting", entry.Key(), "value", value, "revision", entry.Revision())
	c.notifyLocked()
}

func (c *Cache) notifyLocked() {
	close(c.changed)
	c.changed = make(chan struct{})
}

// Current returns the current settings, and false until the values that
// existed when Run started were read.
func (c *Cache) Current() (Settings, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.current, c.ready
}

// Wait blocks until the cache is ready with a revision above after, or ctx
// ends, and returns the settings at that moment.
func (c *Cache) Wait(ctx context.Context, after uint64) Settings {
	for {
		c.mu.Lock()
		cur, ready, changed := c.current, c.ready, c.changed
		c.mu.Unlock()
		if ready && cur.Revision > after {
			return cur
		}

		select {
		case <-changed:
		case <-ctx.Done():
			return cur
		}
	}
}
