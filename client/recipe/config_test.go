package recipe_test

import (
	"encoding/json"
	"errors"
	"testing"
	"time"

	"github.com/canopy-coord/canopy/client"
	"github.com/canopy-coord/canopy/client/recipe"
)

type appConfig struct {
	Workers int    `json:"workers"`
	Mode    string `json:"mode"`
}

func TestConfigFollowsItsNode(t *testing.T) {
	t.Parallel()
	c := newClient(t)
	path := testPath(t)
	ctx := testContext(t, 20*time.Second)
	cfg, err := recipe.WatchConfig[appConfig](ctx, c, path)
	if err != nil {
		t.Fatal(err)
	}
	defer cfg.Close()
	// next waits for the state that satisfies ok.
	next := func(what string, ok func(recipe.ConfigState[appConfig]) bool) recipe.ConfigState[appConfig] {
		t.Helper()
		deadline := time.After(5 * time.Second)
		for {
			select {
			case st, open := <-cfg.Updates():
				if !open {
					t.Fatal("updates closed")
				}
				if ok(st) {
					if cur := cfg.Current(); cur.Value != st.Value || cur.Mzxid != st.Mzxid {
						t.Errorf("Current() = %+v, last update %+v", cur, st)
					}
					return st
				}
			case <-deadline:
				t.Fatalf("never saw %s; now %+v", what, cfg.Current())
			}
		}
	}
	next("the missing node", func(st recipe.ConfigState[appConfig]) bool {
		return errors.Is(st.Err, client.ErrNoNode) && st.Value == appConfig{}
	})

	if _, _, err := c.Create(ctx, path, []byte(`{"workers": 2, "mode": "fast"}`), &client.CreateOptions{Parents: true}); err != nil {
		t.Fatal(err)
	}
	next("the created config", func(st recipe.ConfigState[appConfig]) bool {
		return st.Err == nil && st.Value == appConfig{2, "fast"}
	})

	if _, err := c.Set(ctx, path, []byte(`{"workers": 3, "mode": "fast"}`), client.AnyVersion); err != nil {
		t.Fatal(err)
	}
	good := next("the changed config", func(st recipe.ConfigState[appConfig]) bool {
		return st.Err == nil && st.Value.Workers == 3
	})

	if _, err := c.Set(ctx, path, []byte(`{"workers": "many"`), client.AnyVersion); err != nil {
		t.Fatal(err)
	}
	bad := next("the bad JSON reported", func(st recipe.ConfigState[appConfig]) bool { return st.Err != nil })
	var syntax *json.SyntaxError
	if !errors.As(bad.Err, &syntax) || bad.Value != good.Value || bad.Mzxid != good.Mzxid {
		t.Errorf("after bad JSON: %+v; want a JSON syntax error and the last good value %+v kept", bad, good)
	}
	if cfg.Get() != good.Value {
		t.Errorf("Get() = %+v, want the last good %+v", cfg.Get(), good.Value)
	}

	if err := c.Delete(ctx, path, client.AnyVersion); err != nil {
		t.Fatal(err)
	}
	gone := next("the deletion reported", func(st recipe.ConfigState[appConfig]) bool { return errors.Is(st.Err, client.ErrNoNode) })
	if gone.Value != good.Value {
		t.Errorf("after deletion the value in force is %+v, want the last good %+v", gone.Value, good.Value)
	}

	if _, _, err := c.Create(ctx, path, []byte(`{"workers": 5}`), nil); err != nil {
		t.Fatal(err)
	}
	next("the recreated config", func(st recipe.ConfigState[appConfig]) bool {
		return st.Err == nil && st.Value == appConfig{Workers: 5}
	})

	cfg.Close()
	for range cfg.Updates() { // drains, then closed
	}
}
