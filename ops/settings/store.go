package settings

import (
	"context"
	"errors"
	"fmt"

	"github.com/nats-io/nats.go/jetstream"
)

// Bucket is the name of the JetStream key-value bucket of the settings.
const Bucket = "clientele-settings"

// Store reads and writes the settings bucket. It is safe for concurrent use.
type Store struct {
	kv jetstream.KeyValue
}

// Ensure creates the settings bucket with the given replica count, or
// updates it when it exists, and returns a Store on it. A replica count
// below 1 means 1.
func Ensure(ctx context.Context, js jetstream.JetStream, replicas int) (*Store, error) {
	kv, err := js.CreateOrUpdateKeyValue(ctx, jetstream.KeyValueConfig{
		Bucket:      Bucket,
		Description: "clientele cluster-wide settings",
		History:     8,
		Replicas:    max(replicas, 1),
		Storage:     jetstream.FileStorage,
	})
	if err != nil {
		return nil, fmt.Errorf("settings: create bucket %s: %w", Bucket, err)
	}
	return &Store{kv: kv}, nil
}

// Open returns a Store on the existing settings bucket. It returns an error
// wrapping ErrNoBucket when the bucket is missing.
func Open(ctx context.Context, js jetstream.JetStream) (*Store, error) {
	kv, err := js.KeyValue(ctx, Bucket)
	if errors.Is(err, jetstream.ErrBucketNotFound) {
		return nil, fmt.Errorf("%w: %s: start `clientele serve`, which creates it", ErrNoBucket, Bucket)
	}
	if err != nil {
		return nil, fmt.Errorf("settings: open bucket %s: %w", Bucket, err)
	}
	return &Store{kv: kv}, nil
}

// Get returns the current settings. A setting that was never set has its
// default value.
func (s *Store) Get(ctx context.Context) (Settings, error) {
	var out Settings
	for _, name := range Names() {
		entry, err := s.kv.Get(ctx, name)
		if errors.Is(err, jetstream.ErrKeyNotFound) {
			continue
		}
		if err != nil {
			return Settings{}, fmt.Errorf("settings: get %s: %w", name, err)
		}
		if err := out.set(name, string(entry.Value())); err != nil {
			return Settings{}, fmt.Errorf("settings: stored value of %s: %w", name, err)
		}
		out.Revision = max(out.Revision, entry.Revision())
	}
	return out, nil
}

// Set checks value with Parse, stores its canonical form under name and
// returns the settings after the change. Errors wrap ErrUnknown or
// ErrInvalidValue for bad input.
func (s *Store) Set(ctx context.Context, name, value string) (Settings, error) {
	canonical, err := Parse(name, value)
	if err != nil {
		return Settings{}, err
	}
	if _, err := s.kv.PutString(ctx, name, canonical); err != nil {
		return Settings{}, fmt.Errorf("settings: put %s: %w", name, err)
	}
	return s.Get(ctx)
}
