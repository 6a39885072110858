package settings_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/clientele-xmpp/clientele/ops/natstest"
	"github.com/clientele-xmpp/clientele/ops/settings"
)

func TestParse(t *testing.T) {
	cases := []struct {
		name    string
		setting string
		value   string
		want    string
		err     error
	}{
		{"true", settings.EnforceClientIDs, "true", "true", nil},
		{"on", settings.EnforceClientIDs, "ON", "true", nil},
		{"zero", settings.EnforceClientIDs, " 0 ", "false", nil},
		{"off", settings.EnforceClientIDs, "off", "false", nil},
		{"not a boolean", settings.EnforceClientIDs, "maybe", "", settings.ErrInvalidValue},
		{"unknown setting", "enforce_everything", "true", "", settings.ErrUnknown},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			got, err := settings.Parse(tc.setting, tc.value)
			if !errors.Is(err, tc.err) {
				t.Fatalf("Parse(%q, %q) error = %v, want %v", tc.setting, tc.value, err, tc.err)
			}
			if got != tc.want {
				t.Errorf("Parse(%q, %q) = %q, want %q", tc.setting, tc.value, got, tc.want)
			}
		})
	}
}

func TestStoreSetGet(t *testing.T) {
	ctx := context.Background()
	_, js := natstest.Start(t).Connect(t)

	if _, err := settings.Open(ctx, js); !errors.Is(err, settings.ErrNoBucket) {
		t.Fatalf("Open before Ensure = %v, want ErrNoBucket", err)
	}
	store, err := settings.Ensure(ctx, js, 1)
	if err != nil {
		t.Fatal(err)
	}
	initial, err := store.Get(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if initial != (settings.Settings{}) {
		t.Errorf("settings of a new bucket = %+v, want the zero value", initial)
	}

	on, err := store.Set(ctx, settings.EnforceClientIDs, "yes")
	if err != nil {
		t.Fatal(err)
	}
	if !on.EnforceClientIDs || on.Revision == 0 {
		t.Errorf("after set to yes: %+v, want enforce on with a revision", on)
	}
	off, err := store.Set(ctx, settings.EnforceClientIDs, "false")
	if err != nil {
		t.Fatal(err)
	}
	if off.EnforceClientIDs || off.Revision <= on.Revision {
		t.Errorf("after set to false: %+v, want enforce off with a revision above %d", off, on.Revision)
	}
	if _, err := store.Set(ctx, settings.EnforceClientIDs, "sometimes"); !errors.Is(err, settings.ErrInvalidValue) {
		t.Errorf("Set of an invalid value = %v, want ErrInvalidValue", err)
	}
	again, err := settings.Open(ctx, js)
	if err != nil {
		t.Fatal(err)
	}
	if got, err := again.Get(ctx); err != nil || got != off {
		t.Errorf("Get through a second Store = %+v, %v, want %+v", got, err, off)
	}
}

func TestCacheFollowsBucket(t *testing.T) {
	_, js := natstest.Start(t).Connect(t)
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	store, err := settings.Ensure(ctx, js, 1)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := store.Set(ctx, settings.EnforceClientIDs, "true"); err != nil {
		t.Fatal(err)
	}

	cache := settings.NewCache(store, nil)
	done := make(chan error, 1)
	runCtx, stop := context.WithCancel(ctx)
	go func() { done <- cache.Run(runCtx) }()
	defer func() {
		stop()
		if err := <-done; err != nil {
			t.Errorf("Run = %v", err)
		}
	}()

	first := cache.Wait(ctx, 0)
	if !first.EnforceClientIDs {
		t.Fatalf("cache after start = %+v, want the stored enforce on", first)
	}
	if _, ready := cache.Current(); !ready {
		t.Error("Current reports not ready after Wait returned")
	}

	changed := make(chan settings.Settings, 1)
	go func() { changed <- cache.Wait(ctx, first.Revision) }()
	if _, err := store.Set(ctx, settings.EnforceClientIDs, "off"); err != nil {
		t.Fatal(err)
	}
	got := <-changed
	if got.EnforceClientIDs || got.Revision <= first.Revision {
		t.Errorf("cache after the change = %+v, want enforce off at a revision above %d", got, first.Revision)
	}

	short, cancelShort := context.WithTimeout(ctx, 100*time.Millisecond)
	defer cancelShort()
	if same := cache.Wait(short, got.Revision); same != got {
		t.Errorf("Wait without a change = %+v, want %+v", same, got)
	}
}
